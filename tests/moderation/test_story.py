"""A comment's story: each service writes one event per change of state, in the change's transaction,
and ``comment_story`` reads them with the submission, the reports and the edits, oldest first."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comments import services as public
from comments.models import Comment, Thread
from moderation import services, story
from moderation.models import CommentEvent, ModerationAction, ModerationDecision
from tests.conftest import moderate_every_site

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
CLEAN_EDIT = "Thanks for the article, I learned a lot about the new bridge and its history."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
SPAM = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now"


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


@pytest.fixture
def alice(db):
    """A moderator."""
    user = User.objects.create_user("alice", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return moderate_every_site(user)


def pending(thread, body=CLEAN, **fields):
    return Comment.objects.create(thread=thread, body=body, **({"author_name": "Reader"} | fields))


def kinds(comment) -> list[tuple[str, str, str, str]]:
    """The story's lines as (kind, actor, from, to)."""
    return [(line.kind, line.actor, line.from_status, line.to_status) for line in story.comment_story(comment)]


def test_a_scoring_writes_one_event_with_the_scores_the_model_versions_and_the_reasons(thread):
    comment = pending(thread, TOXIC)
    assert services.comment_score(comment_id=comment.pk) == "held"
    comment.refresh_from_db()

    assert kinds(comment) == [("submitted", "reader", "", ""), ("scored", "system", "pending", "held")]
    [event] = CommentEvent.objects.filter(comment=comment)
    assert event.details["scores"] == comment.scores and event.details["versions"] == comment.model_versions
    assert [r["code"] for r in event.details["reasons"]] == [r["code"] for r in comment.reasons]
    assert event.details["language"] == "en" and event.at == comment.decided_at
    assert services.comment_score(comment_id=comment.pk) == "skipped"  # run twice: no second event
    assert CommentEvent.objects.filter(comment=comment).count() == 1


def test_a_batch_writes_its_events_in_one_statement(thread):
    comments = [pending(thread, body) for body in (CLEAN, TOXIC, SPAM)]
    with CaptureQueriesContext(connection) as queries:
        batch = services.pending_comments_score_batch()
    assert sorted(batch.outcomes.values()) == ["held", "published", "rejected"]
    inserts = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT") and "commentevent" in q["sql"]
    ]
    assert len(inserts) == 1
    for comment in comments:
        [(kind, actor, before, after)] = kinds(comment)[1:]
        assert (kind, actor, before, after) == ("scored", "system", "pending", batch.outcomes[comment.pk])


def test_a_batch_decision_that_loses_the_compare_and_set_writes_no_event(thread, alice, monkeypatch):
    before, contested = pending(thread, CLEAN), pending(thread, TOXIC)
    evaluate = services.comments_evaluate

    def evaluate_then_the_moderator_acts(**kwargs):
        evaluations = evaluate(**kwargs)
        services.comment_moderate(
            comment_id=contested.pk, actor=alice, action=ModerationAction.NOT_TOXIC, note="Irony, not abuse."
        )
        return evaluations

    monkeypatch.setattr(services, "comments_evaluate", evaluate_then_the_moderator_acts)
    assert services.pending_comments_score_batch().outcomes == {before.pk: "published", contested.pk: "skipped"}
    assert kinds(contested) == [("submitted", "reader", "", ""), ("decided", "person", "pending", "published")]
    [line] = story.comment_story(contested)[1:]
    assert (line.user, line.action, line.note, line.labels) == (
        "alice",
        "not_toxic",
        "Irony, not abuse.",
        {"TOXICITY": 0},
    )
    assert kinds(before)[1:] == [("scored", "system", "pending", "published")]


def test_a_single_decision_that_loses_the_compare_and_set_writes_no_event(thread, alice, monkeypatch):
    comment = pending(thread, TOXIC)
    evaluate = services.comment_evaluate

    def evaluate_then_the_moderator_acts(**kwargs):
        evaluation = evaluate(**kwargs)
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.APPROVE)
        return evaluation

    monkeypatch.setattr(services, "comment_evaluate", evaluate_then_the_moderator_acts)
    assert services.comment_score(comment_id=comment.pk) == "skipped"
    assert [kind for kind, *_ in kinds(comment)] == ["submitted", "decided"]


def test_an_event_is_written_in_the_transaction_of_its_change(thread, alice, monkeypatch):
    """A decision that fails after its event was written leaves neither the decision nor the event."""
    comment = pending(thread, TOXIC, status="held", decided_at=timezone.now())

    def broken(**kwargs):
        raise RuntimeError("the outbox is broken")

    monkeypatch.setattr(services, "decision_notify", broken)
    with pytest.raises(RuntimeError):
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.REJECT)
    assert Comment.objects.get(pk=comment.pk).status == "held"
    assert not ModerationDecision.objects.exists() and not CommentEvent.objects.exists()


def test_the_decision_rows_keep_their_meaning_next_to_the_events(thread, alice):
    comment = pending(thread, TOXIC, status="held", decided_at=timezone.now())
    decision = services.comment_moderate(
        comment_id=comment.pk, actor=alice, action=ModerationAction.TOXIC, note="Insults the author."
    )
    assert (decision.from_status, decision.to_status, decision.labels) == ("held", "rejected", {"TOXICITY": 1})
    event = CommentEvent.objects.get(comment=comment)
    assert (event.kind, event.actor, event.user, event.decision) == ("decided", "person", alice, decision)
    assert event.details == {}  # the note and the labels live in the decision only


def test_readers_reports_are_in_the_story_and_the_one_that_reaches_the_threshold_holds(thread):
    comment = pending(thread, CLEAN, status="published", decided_at=timezone.now())
    for n, address in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.3"]):
        public.comment_report(comment_id=comment.pk, site_key=thread.site.public_key, reason=f"r{n}", address=address)
    lines = story.comment_story(comment)
    assert [line.kind for line in lines] == ["submitted", "reported", "reported", "reported", "reports_held"]
    assert [line.details.get("reason") for line in lines if line.kind == "reported"] == ["r0", "r1", "r3"]
    assert (lines[-1].from_status, lines[-1].to_status, lines[-1].details["reports"]) == ("published", "held", 3)


def test_a_re_scoring_is_an_event_that_names_who_asked(thread, alice):
    comment = pending(thread, TOXIC)
    services.comment_score(comment_id=comment.pk)
    comment.refresh_from_db()
    assert comment.status == "held"
    thread.site.policy.thresholds = {name: {"publish": 1.0, "reject": None} for name in comment.scores}
    thread.site.policy.save()
    result = services.held_comments_rescore(comment_ids=[comment.pk], asked_by=alice)
    assert result.decided == {comment.pk: "published"}
    line = story.comment_story(comment)[-1]
    assert (line.kind, line.actor, line.user, line.from_status, line.to_status) == (
        "rescored", "system", "alice", "held", "published"
    )  # fmt: skip
    comment.refresh_from_db()
    assert line.details["scores"] == comment.scores and line.details["reasons"] == []


def test_giving_up_on_scoring_is_an_event(thread, settings):
    comment = pending(thread, scoring_attempts=settings.MODERATO_MAX_SCORING_ATTEMPTS)
    assert services.comment_score(comment_id=comment.pk) == "held"
    [line] = story.comment_story(comment)[1:]
    assert (line.kind, line.to_status, line.details["reasons"][0]["code"]) == (
        "scoring_failed",
        "held",
        "scoring_failed",
    )


def test_an_authors_edits_and_deletion_are_in_the_story(thread, alice):
    submission = public.comment_submit(site_key=thread.site.public_key, thread_key=thread.key, name="Ann", body=CLEAN)
    comment, token = submission.comment, submission.commenter_token
    services.comment_score(comment_id=comment.pk)
    first = public.comment_author_edit(comment_id=comment.pk, commenter_token=token, body=CLEAN_EDIT)
    assert services.comment_edit_score(edit_id=first.pk) == "published"
    second = public.comment_author_edit(comment_id=comment.pk, commenter_token=token, body=TOXIC)
    assert services.comment_edit_score(edit_id=second.pk) == "held"
    services.comment_edit_moderate(edit_id=second.pk, actor=alice, approve=False, note="Keeps the old text.")
    public.comment_author_delete(comment_id=comment.pk, commenter_token=token)

    lines = story.comment_story(comment)
    assert [(line.kind, line.actor, line.details.get("edit"), line.details.get("state")) for line in lines] == [
        ("submitted", "reader", None, None),
        ("scored", "system", None, None),
        ("edit_sent", "reader", first.pk, None),
        ("edit_scored", "system", first.pk, "published"),
        ("edit_sent", "reader", second.pk, None),
        ("edit_scored", "system", second.pk, "held"),
        ("edit_decided", "person", second.pk, "rejected"),
        ("deleted", "reader", None, None),
    ]
    assert lines[6].note == f"edit #{second.pk} rejected: Keeps the old text." and lines[6].user == "alice"
    assert (lines[-1].from_status, lines[-1].to_status) == ("published", "deleted")
    assert lines[3].details["versions"] and lines[3].details["scores"]


def test_a_submission_writes_no_event_its_story_starts_at_its_time(thread):
    submission = public.comment_submit(site_key=thread.site.public_key, thread_key=thread.key, name="Ann", body=CLEAN)
    assert not CommentEvent.objects.exists()
    [line] = story.comment_story(submission.comment)
    assert (line.kind, line.actor, line.at) == ("submitted", "reader", submission.comment.created_at)


def test_an_imported_comment_starts_with_its_import_and_the_status_it_came_with(thread, alice):
    from moderation import importing

    record = importing.Record(external_id="wordpress:7", thread=thread.key, author_name="Old", body="From before.")
    importing.comments_import(site=thread.site, records=[record], source="wordpress")
    comment = Comment.objects.get(external_id="wordpress:7")
    [line] = story.comment_story(comment)
    assert (line.kind, line.actor, line.to_status, line.details["source"]) == (
        "imported",
        "system",
        "published",
        "wordpress",
    )
    services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.REJECT)
    assert [(line.kind, line.to_status) for line in story.comment_story(comment)] == [
        ("imported", "published"),
        ("decided", "rejected"),
    ]


def test_the_story_is_plain_data_for_the_api(thread, alice):
    comment = pending(thread, TOXIC, status="held", decided_at=timezone.now())
    services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.SPAM, note="Bot.")
    import json

    lines = json.loads(json.dumps([line.as_dict() for line in story.comment_story(comment)]))
    assert lines[-1] | {"at": None} == {
        "at": None, "actor": "person", "kind": "decided", "label": "moderator's decision", "user": "alice",
        "from_status": "held", "to_status": "rejected", "note": "Bot.", "action": "spam", "labels": {"SPAM": 1},
        "details": {},
    }  # fmt: skip


def test_the_story_costs_two_queries_however_long(thread, alice, django_assert_num_queries):
    comment = pending(thread, TOXIC, status="held", decided_at=timezone.now())
    for action in [ModerationAction.REJECT, ModerationAction.APPROVE] * 10:
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=action, note="n")
    comment = Comment.objects.get(pk=comment.pk)
    for n in range(2):
        public.comment_report(comment_id=comment.pk, site_key=thread.site.public_key, address=f"10.0.0.{n}")
    with django_assert_num_queries(2):
        assert len(story.comment_story(comment)) == 23
