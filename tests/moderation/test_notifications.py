"""Every function that changes a comment's status notifies by itself: outbox rows written with the
decision, and their delivery queued for after the commit, so no entry point has to remember.

The tests read the outbox and capture the callbacks the transaction would run on commit (each named
after its task).
"""

import pytest
from django.contrib.auth.models import Group, User

from comments import services as public
from comments.models import Comment, Thread
from moderation import services
from moderation.models import ModerationAction, Notification
from tests.conftest import moderate_every_site

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
WEBHOOK = "webhook comment.{}"
EMAIL = "email comment.held"
DELIVER = "moderation.tasks.notification_deliver.delay"


@pytest.fixture
def thread(site):
    site.policy.webhook_url = "https://hooks.example/moderato"
    site.policy.email_moderators = True
    site.policy.save()
    return Thread.objects.create(site=site, key="/news/bridge")


@pytest.fixture
def moderator(db):
    user = User.objects.create_user("alice", "alice@example.org")
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    return user


_seen: set[int] = set()


def queued(callbacks) -> list[str]:
    """The outbox rows written since the last call, as "<kind> <event>"; each has its delivery queued."""
    rows = Notification.objects.exclude(pk__in=_seen).order_by("pk")
    found = sorted(f"{row.kind} {row.event}" for row in rows)
    _seen.update(row.pk for row in rows)
    deliveries = [callback for callback in callbacks if callback.__qualname__ == DELIVER]
    assert len(deliveries) == len(found)
    return found


@pytest.fixture(autouse=True)
def fresh_outbox():
    _seen.clear()


def pending(thread, body=CLEAN):
    return Comment.objects.create(thread=thread, body=body, author_name="Al")


def test_scoring_notifies_the_webhook_and_for_a_held_comment_the_moderators(thread, django_capture_on_commit_callbacks):
    clean, toxic = pending(thread), pending(thread, TOXIC)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.comment_score(comment_id=clean.pk) == "published"
    assert queued(callbacks) == [WEBHOOK.format("published")]
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.comment_score(comment_id=toxic.pk) == "held"
    assert queued(callbacks) == sorted([WEBHOOK.format("held"), EMAIL])
    with django_capture_on_commit_callbacks() as callbacks:  # a second run writes nothing, sends nothing
        assert services.comment_score(comment_id=toxic.pk) == "skipped"
    assert queued(callbacks) == []


def test_giving_up_on_scoring_notifies(thread, django_capture_on_commit_callbacks):
    comment = pending(thread)
    with django_capture_on_commit_callbacks() as callbacks:
        services.comment_scoring_give_up(comment_id=comment.pk, attempts=3)
    assert queued(callbacks) == sorted([WEBHOOK.format("held"), EMAIL])


def test_a_moderators_decision_notifies(thread, moderator, django_capture_on_commit_callbacks):
    comment = pending(thread, TOXIC)
    services.comment_score(comment_id=comment.pk)
    _seen.update(Notification.objects.values_list("pk", flat=True))  # what came before
    with django_capture_on_commit_callbacks() as callbacks:
        services.comment_moderate(comment_id=comment.pk, actor=moderator, action=ModerationAction.REJECT)
    assert queued(callbacks) == [WEBHOOK.format("rejected")]


def test_a_rescore_that_changes_the_status_notifies(thread, django_capture_on_commit_callbacks):
    comment = pending(thread, TOXIC)
    services.comment_score(comment_id=comment.pk)
    _seen.update(Notification.objects.values_list("pk", flat=True))  # what came before
    with django_capture_on_commit_callbacks() as callbacks:  # still held: nothing new to tell
        services.held_comments_rescore(comment_ids=[comment.pk])
    assert queued(callbacks) == []
    heads = ("TOXICITY", "THREAT", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "SPAM")
    thread.site.policy.thresholds = {name: {"publish": 1.0} for name in heads}
    thread.site.policy.save()
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.held_comments_rescore(comment_ids=[comment.pk]).decided == {comment.pk: "published"}
    assert queued(callbacks) == [WEBHOOK.format("published")]


def test_reader_reports_put_a_comment_back_in_the_queue_and_notify(thread, django_capture_on_commit_callbacks):
    thread.site.policy.report_threshold = 2
    thread.site.policy.save()
    comment = pending(thread)
    services.comment_score(comment_id=comment.pk)
    _seen.update(Notification.objects.values_list("pk", flat=True))  # what came before
    with django_capture_on_commit_callbacks() as callbacks:
        public.comment_report(comment_id=comment.pk, site_key="planet", address="192.0.2.1")
    assert queued(callbacks) == [] and Comment.objects.get(pk=comment.pk).status == "published"
    with django_capture_on_commit_callbacks() as callbacks:
        reported = public.comment_report(comment_id=comment.pk, site_key="planet", address="192.0.2.2")
    assert reported.status == "held" and reported.reasons[-1]["code"] == "reader_reports"
    assert queued(callbacks) == sorted([WEBHOOK.format("held"), EMAIL])


def test_a_site_without_webhook_or_email_gets_nothing(site, django_capture_on_commit_callbacks):
    comment = pending(Thread.objects.create(site=site, key="/quiet"), TOXIC)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.comment_score(comment_id=comment.pk) == "held"
    assert queued(callbacks) == []


def test_a_submission_wakes_the_scoring_drain_through_the_signal(site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        public.comment_submit(site_key="planet", thread_key="/news", name="Al", body=CLEAN)
    assert [callback.__qualname__ for callback in callbacks] == ["moderation.tasks.pending_comments_drain.delay"]


def test_a_decision_whose_notification_cannot_be_written_is_not_written_either(thread, monkeypatch):
    """The outbox row is part of the decision's transaction: if writing it fails, the decision is undone
    (and the task retries), rather than a decision that nobody hears of."""
    comment = pending(thread, TOXIC)

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("the connection dropped while writing the outbox")

    monkeypatch.setattr(Notification, "save", broken_save)
    with pytest.raises(RuntimeError):
        services.comment_score(comment_id=comment.pk)
    assert Comment.objects.get(pk=comment.pk).status == "pending"
