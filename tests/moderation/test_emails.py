import re
import time

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail, signing
from django.utils import timezone

from comments.models import Comment, Thread
from moderation.emails import decided_stamp, email_action_read, email_action_token, held_comment_email_send
from moderation.models import ModerationAction, ModerationDecision
from tests.conftest import moderate_every_site


@pytest.fixture
def alice(db):
    user = User.objects.create_user("alice", email="alice@planet.example", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    moderate_every_site(user)
    return user


@pytest.fixture
def held(site):
    site.policy.email_moderators = True
    site.policy.save()
    return Comment.objects.create(
        thread=Thread.objects.create(site=site, key="/a"),
        author_name="Troll",
        body="You idiot",
        status="held",
        decided_at=timezone.now(),
        reasons=[{"code": "hold_threshold", "detail": "TOXICITY 0.91 is at or above the publish threshold 0.50."}],
    )


def test_it_emails_moderators_about_a_held_comment_with_signed_links(held, alice, settings):
    settings.MODERATO_PUBLIC_URL = "https://comments.example"
    assert held_comment_email_send(comment_id=held.pk) == 1
    [message] = mail.outbox
    assert message.to == ["alice@planet.example"]
    assert "You idiot" in message.body and "TOXICITY 0.91" in message.body
    links = re.findall(r"https://comments\.example/moderation/email-action/(\S+)", message.body)
    assert [email_action_read(token=token)[1] for token in links] == ["approve", "reject", "spam"]


def test_it_emails_only_the_sites_own_moderators_when_it_has_some(held, alice):
    bob = User.objects.create_user("bob", email="bob@planet.example")
    bob.groups.add(Group.objects.get(name="moderators"))
    held.thread.site.policy.moderators.add(bob)
    held_comment_email_send(comment_id=held.pk)
    assert [m.to for m in mail.outbox] == [["bob@planet.example"]]


def test_it_sends_nothing_when_the_site_does_not_want_emails(held, alice):
    held.thread.site.policy.email_moderators = False
    held.thread.site.policy.save()
    assert held_comment_email_send(comment_id=held.pk) == 0


def test_a_link_asks_for_confirmation_then_decides_as_that_moderator(client, held, alice):
    token = email_action_token(
        comment_id=held.pk, action=ModerationAction.SPAM, user_id=alice.pk, decided=decided_stamp(held)
    )
    url = f"/moderation/email-action/{token}"
    page = client.get(url)
    assert page.status_code == 200 and "Mark as spam" in page.content.decode()
    held.refresh_from_db()
    assert held.status == "held"  # opening the link (or a mail scanner) decides nothing
    done = client.post(url)
    assert done.status_code == 200
    decision = ModerationDecision.objects.get()
    assert (decision.actor, decision.to_status, decision.labels) == (alice, "rejected", {"SPAM": 1})


def test_it_refuses_tampered_expired_and_no_longer_allowed_links(client, held, alice, monkeypatch):
    token = email_action_token(
        comment_id=held.pk, action=ModerationAction.APPROVE, user_id=alice.pk, decided=decided_stamp(held)
    )
    assert client.get(f"/moderation/email-action/{token[:-2]}xx").status_code == 400
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - 8 * 86400)  # signed eight days ago
    old = email_action_token(
        comment_id=held.pk, action=ModerationAction.APPROVE, user_id=alice.pk, decided=decided_stamp(held)
    )
    monkeypatch.undo()
    assert client.get(f"/moderation/email-action/{old}").status_code == 410
    alice.groups.clear()
    assert client.post(f"/moderation/email-action/{token}").status_code == 403
    held.refresh_from_db()
    assert held.status == "held"


def test_a_link_decides_only_a_comment_that_is_still_held(client, held, alice):
    approve = email_action_token(
        comment_id=held.pk, action=ModerationAction.APPROVE, user_id=alice.pk, decided=decided_stamp(held)
    )
    spam = email_action_token(
        comment_id=held.pk, action=ModerationAction.SPAM, user_id=alice.pk, decided=decided_stamp(held)
    )
    assert client.post(f"/moderation/email-action/{spam}").status_code == 200
    again = client.post(f"/moderation/email-action/{spam}")
    late = client.post(f"/moderation/email-action/{approve}")
    assert (again.status_code, late.status_code) == (409, 409)
    held.refresh_from_db()
    assert held.status == "rejected"
    assert ModerationDecision.objects.count() == 1


def test_it_emails_no_moderator_limited_to_other_sites(held, alice):
    from comments.models import Site

    carol = User.objects.create_user("carol", email="carol@elsewhere.example")
    carol.groups.add(Group.objects.get(name="moderators"))
    Site.objects.create(name="Elsewhere", public_key="elsewhere").policy.moderators.add(carol)
    held_comment_email_send(comment_id=held.pk)
    assert [m.to for m in mail.outbox] == [["alice@planet.example"]]


def test_a_link_works_once_even_after_reports_send_the_comment_back(client, held, alice, mailoutbox):
    import re

    from comments import services as public

    held_comment_email_send(comment_id=held.pk)
    approve = re.search(r"Approve \(publish\): \S+/moderation/email-action/(\S+)", mailoutbox[0].body).group(1)
    assert client.post(f"/moderation/email-action/{approve}").status_code == 200
    held.refresh_from_db()
    assert held.status == "published"
    held.thread.site.policy.report_threshold = 1
    held.thread.site.policy.save()
    public.comment_report(comment_id=held.pk, site_key="planet", address="192.0.2.9")
    held.refresh_from_db()
    assert held.status == "held"  # back in the queue: the old link must not publish it again
    again = client.post(f"/moderation/email-action/{approve}")
    assert again.status_code == 409 and "works once" in again.content.decode()
    held.refresh_from_db()
    assert held.status == "held" and ModerationDecision.objects.count() == 1


def test_a_line_break_in_the_authors_name_does_not_stop_the_email(held, alice, mailoutbox):
    Comment.objects.filter(pk=held.pk).update(author_name="Evil\r\nBcc: victim@example.org")
    assert held_comment_email_send(comment_id=held.pk) == 1
    assert "\n" not in mailoutbox[0].subject and "Evil Bcc: victim@example.org" in mailoutbox[0].subject
