"""Readers' reply notices (double opt-in, one-click unsubscribe) and the moderators' daily digest, all
through the outbox: rows written with the decision, mail sent by the delivery, never in the request."""

import re
import time
from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail, signing

from comments import services as public
from comments.models import Comment, Site, Thread
from moderation import emails, notifications, services
from moderation.models import Notification
from tests.conftest import moderate_every_site

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
REPLY = "I agree, the bridge story was very well researched."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


def submit(site, body=CLEAN, **fields):
    return public.comment_submit(site_key=site.public_key, thread_key="/news/bridge", name="Alice", body=body, **fields)


def deliver_all() -> list[str]:
    """Deliver every pending outbox row, as the worker does; return the e-mail events sent."""
    sent = []
    for row in Notification.objects.filter(state=Notification.State.PENDING, kind="email").order_by("pk"):
        assert notifications.notification_deliver(notification_id=row.pk) == "delivered"
        sent.append(row.event)
    return sent


def link(message, pattern=r"http://\S+/moderation/replies/\S+") -> str:
    return re.search(pattern, message.body)[0]


@pytest.fixture
def alice(site, thread):
    """Alice's published comment, with reply notices asked for and the confirmation e-mail delivered."""
    submission = submit(site, email="alice@example.org", notify_replies=True)
    assert services.comment_score(comment_id=submission.comment.pk) == "published"
    assert deliver_all() == ["reply.confirm"]
    return submission.comment


def test_publishing_a_comment_sends_its_author_one_confirmation_with_a_signed_link(alice, client):
    [message] = mail.outbox
    assert message.to == ["alice@example.org"]
    assert "Confirm reply notifications" in message.subject
    confirm = link(message)
    assert Comment.objects.get(pk=alice.pk).reply_notice == "unconfirmed"
    page = client.get(confirm)  # a mail scanner that follows the link confirms nothing
    assert page.status_code == 200 and b"Yes, e-mail me about replies" in page.content
    assert Comment.objects.get(pk=alice.pk).reply_notice == "unconfirmed"
    assert client.post(confirm).status_code == 200
    assert Comment.objects.get(pk=alice.pk).reply_notice == "confirmed"
    # Published again (after reports, say): no second confirmation.
    services.comment_moderate(
        comment_id=alice.pk, actor=User.objects.create_superuser("r", "r@x.org", "pw"), action="reject"
    )
    services.comment_moderate(comment_id=alice.pk, actor=User.objects.get(username="r"), action="approve")
    assert deliver_all() == []


def test_without_confirmation_a_reply_sends_nothing(alice, site):
    reply = submit(site, REPLY, parent_id=alice.pk, email="bob@example.org")
    assert services.comment_score(comment_id=reply.comment.pk) == "published"
    assert deliver_all() == []


def confirmed(comment):
    Comment.objects.filter(pk=comment.pk).update(reply_notice=Comment.ReplyNotice.CONFIRMED)
    mail.outbox.clear()


def test_a_confirmed_author_gets_one_mail_per_published_reply_with_an_unsubscribe_link(alice, site, client):
    confirmed(alice)
    reply = submit(site, REPLY, parent_id=alice.pk)
    held = submit(site, TOXIC, parent_id=alice.pk)
    assert services.comment_score(comment_id=reply.comment.pk) == "published"
    assert services.comment_score(comment_id=held.comment.pk) == "held"
    assert deliver_all() == ["comment.reply"]  # the held reply tells nobody
    [message] = mail.outbox
    assert message.to == ["alice@example.org"]
    assert REPLY in message.body
    stop = link(message)
    assert message.extra_headers["List-Unsubscribe"] == f"<{stop}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Published again later: still one notice for this reply.
    moderator = User.objects.create_superuser("root", "root@example.org", "pw")
    services.comment_moderate(comment_id=reply.comment.pk, actor=moderator, action="reject")
    services.comment_moderate(comment_id=reply.comment.pk, actor=moderator, action="approve")
    assert deliver_all() == []
    # The mail client's one-click POST (RFC 8058) unsubscribes; the next reply sends nothing.
    assert (
        client.post(stop, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded").status_code
        == 200
    )
    assert Comment.objects.get(pk=alice.pk).reply_notice == "unsubscribed"
    another = submit(site, "Another fine reply about the new bridge.", parent_id=alice.pk)
    services.comment_score(comment_id=another.comment.pk)
    deliver_all()
    assert len(mail.outbox) == 1


def test_an_author_replying_to_themselves_is_not_told(alice, site):
    confirmed(alice)
    token = public.Submission(comment=alice, replayed=False, site_id=site.pk).commenter_token
    own = submit(site, REPLY, parent_id=alice.pk, commenter_token=token)
    services.comment_score(comment_id=own.comment.pk)
    assert deliver_all() == []


def test_a_reply_moderated_to_published_notifies_too(alice, site):
    confirmed(alice)
    held = submit(site, TOXIC, parent_id=alice.pk)
    services.comment_score(comment_id=held.comment.pk)
    services.comment_moderate(
        comment_id=held.comment.pk, actor=User.objects.create_superuser("x", "x@x.org", "pw"), action="approve"
    )
    assert deliver_all() == ["comment.reply"]


def test_forged_expired_and_foreign_links_are_refused(alice, client, monkeypatch, settings):
    confirm = link(mail.outbox[0])
    token = confirm.rsplit("/", 1)[1]
    forged = confirm[:-3] + ("aaa" if not confirm.endswith("aaa") else "bbb")
    assert client.post(forged).status_code == 400
    assert client.post(confirm.replace(token, "not-a-token")).status_code == 400
    # A token of the moderators' one-click links is no reply link.
    other = emails.email_action_token(comment_id=alice.pk, action=emails.ModerationAction.APPROVE, user_id=1)
    assert client.post(confirm.replace(token, other)).status_code == 400
    # Expired: signed MODERATO_EMAIL_LINK_DAYS and a second ago.
    past = time.time() - settings.MODERATO_EMAIL_LINK_DAYS * 86400 - 1
    monkeypatch.setattr(signing.time, "time", lambda: past)
    old = emails.reply_link_token(comment_id=alice.pk, address="alice@example.org", purpose=emails.REPLY_CONFIRM)
    monkeypatch.undo()
    expired = client.post(confirm.replace(token, old))
    assert expired.status_code == 410 and b"expired" in expired.content
    # The comment's address changed (erased, say): the link no longer works.
    Comment.objects.filter(pk=alice.pk).update(author_email="someone@example.org")
    assert client.post(confirm).status_code == 404
    assert Comment.objects.get(pk=alice.pk).reply_notice == "unconfirmed"


def test_an_unsubscribe_link_outlives_the_confirmation_s_days(alice, client, monkeypatch, settings):
    confirmed(alice)
    past = time.time() - settings.MODERATO_EMAIL_LINK_DAYS * 86400 - 60
    monkeypatch.setattr(signing.time, "time", lambda: past)
    stop = emails.reply_link_url(comment=alice, purpose=emails.REPLY_STOP)
    monkeypatch.undo()
    assert client.post(stop).status_code == 200
    assert Comment.objects.get(pk=alice.pk).reply_notice == "unsubscribed"


# The moderators' daily digest.


@pytest.fixture
def moderator(site):
    site.policy.email_moderators = True
    site.policy.email_digest = True
    site.policy.save()
    user = User.objects.create_user("mo", "mo@example.org")
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    return user


def test_with_a_digest_a_held_comment_sends_no_mail_of_its_own(site, thread, moderator):
    held = submit(site, TOXIC)
    assert services.comment_score(comment_id=held.comment.pk) == "held"
    assert deliver_all() == []
    site.policy.email_digest = False
    site.policy.save()
    other = submit(site, TOXIC + " again")
    services.comment_score(comment_id=other.comment.pk)
    assert deliver_all() == ["comment.held"]


def test_the_digest_lists_the_site_s_held_comments_once_a_day(
    site, thread, moderator, django_capture_on_commit_callbacks
):
    held = [submit(site, TOXIC), submit(site, "You are a stupid moron and everyone hates you")]
    published = submit(site, CLEAN)
    for submission in [*held, published]:
        services.comment_score(comment_id=submission.comment.pk)
    assert [Comment.objects.get(pk=s.comment.pk).status for s in held] == ["held", "held"]
    elsewhere = Site.objects.create(name="Other Paper", public_key="other")
    other = public.comment_submit(site_key="other", thread_key="/x", name="Eve", body=TOXIC)
    services.comment_score(comment_id=other.comment.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        assert notifications.held_digests_queue(day=date(2026, 12, 1)) == 1  # the other site takes no digest
        assert notifications.held_digests_queue(day=date(2026, 12, 1)) == 0  # beat firing twice: one digest
    assert [c.__qualname__ for c in callbacks] == ["moderation.tasks.notification_deliver.delay"]
    assert deliver_all() == ["digest.held"]
    [message] = mail.outbox
    assert message.to == ["mo@example.org"]
    assert "2 held comment(s): daily digest" in message.subject
    first, second = (s.comment.pk for s in held)
    assert message.body.index(f"#{first} ") < message.body.index(f"#{second} ")  # oldest first
    assert f"/admin/comments/comment/{first}/change/" in message.body
    assert CLEAN not in message.body
    assert f"#{other.comment.pk} " not in message.body and elsewhere.name not in message.body
    assert notifications.held_digests_queue(day=date(2026, 12, 2)) == 1  # the next day, the next one


def test_no_digest_when_nothing_is_held(site, thread, moderator):
    services.comment_score(comment_id=submit(site, CLEAN).comment.pk)
    assert notifications.held_digests_queue() == 0
