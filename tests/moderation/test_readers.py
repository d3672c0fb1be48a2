"""Readers' rights: a commenter's export and erasure, by mailed link, by commenter token, in the admin
and by command; every table that holds their text or identity is covered."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.core import mail, signing
from django.core.management import ManagementUtility, call_command
from django.db import models
from django.utils import timezone

from comments import selectors, tokens
from comments.models import Comment, IdempotencyKey, Report, Site, Thread
from config.logging import redact
from moderation import readers
from moderation.emails import reader_link_token
from moderation.models import CommenterFlag, Erasure, ModerationDecision, Notification, SitePolicy
from moderation.notifications import notification_deliver
from tests.conftest import moderate_every_site

EMAIL = "Alice.Liddell@Wonder.example"
NAME = "Alice Liddell"
COMMENTER = "aliceCommenterId0000001"
IP_HASH = "a1" * 32
USER_AGENT = "AliceBrowser/7.0 (Rabbit Hole)"
SECRET_TEXT = "I live at 12 Looking-Glass Lane"
MARKERS = ["alice", "wonder.example", COMMENTER, IP_HASH, "alicebrowser", "looking-glass"]


def published(thread, body, *, name=NAME, email=EMAIL, commenter=COMMENTER, parent=None, status="published", **extra):
    return Comment.objects.create(
        thread=thread,
        parent=parent,
        root=(parent.root or parent) if parent else None,
        author_name=name,
        author_email=email,
        commenter=commenter,
        ip_hash=IP_HASH if name == NAME else "b2" * 32,
        user_agent=USER_AGENT if name == NAME else "BobBrowser/1.0",
        body=body,
        status=status,
        decided_at=None if status == "pending" else timezone.now(),
        **extra,
    )


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


@pytest.fixture
def alices(thread, site):
    """Alice's comments and every row that points to her, and Bob's, which must survive."""
    replied = published(
        thread,
        f"{SECRET_TEXT}, and the bridge is mine.",
        scores={"TOXICITY": 0.2},
        reasons=[
            {"code": "hold_threshold", "attribute": "TOXICITY", "score": 0.2, "spans": [{"text": "Looking-Glass"}]}
        ],
    )
    bob_reply = published(
        thread, "Bob disagrees politely.", name="Bob", email="bob@planet.example", commenter="bob", parent=replied
    )
    alone = published(thread, f"Second thought: {SECRET_TEXT}.")
    own_reply = published(thread, "Replying to myself.", parent=alone)
    held = published(
        thread,
        "A held rant about the Looking-Glass.",
        status="held",
        reasons=[{"code": "blocked_commenter", "detail": f"The commenter is blocked (email:{EMAIL.lower()})."}],
    )
    moderator = User.objects.create_user("mod", is_staff=True)
    ModerationDecision.objects.create(
        comment=replied, actor=moderator, action="not_toxic", from_status="held", to_status="published",
        labels={"TOXICITY": 0}, note="Alice from the Looking-Glass house again",
    )  # fmt: skip
    ModerationDecision.objects.create(
        comment=held, actor=moderator, action="spam", from_status="pending", to_status="rejected",
        labels={"SPAM": 1}, note="alice spams",
    )  # fmt: skip
    for comment in (replied, held):
        Notification.objects.create(
            kind="webhook", event="comment.published", site=site, comment=comment, next_attempt_at=timezone.now(),
            payload={"event": "comment.published", "comment": {"id": comment.pk, "name": NAME, "comment": comment.body,
                     "reasons": comment.reasons}},
            last_result="HTTP 200: thanks for Alice's comment",
        )  # fmt: skip
    Notification.objects.create(
        kind="email", event="reader.export", site=site, payload={"to": EMAIL.lower()}, next_attempt_at=timezone.now()
    )
    Report.objects.create(comment=replied, reason="Alice doxxes herself", ip_hash="c3" * 32)
    IdempotencyKey.objects.create(site=site, key="k1", request_hash="d4" * 32, comment=replied)
    for identity, kind in [
        (f"commenter:{COMMENTER}", "trusted"),
        (f"email:{EMAIL.lower()}", "blocked"),
        (f"ip:{IP_HASH}:{NAME.lower()}", "trusted"),
        ("commenter:bob", "trusted"),
    ]:
        CommenterFlag.objects.create(site=site, identity=identity, kind=kind)
    return {"replied": replied, "bob_reply": bob_reply, "alone": alone, "own_reply": own_reply, "held": held}


def rows_mentioning_alice() -> list[str]:
    """Every text or JSON value, in every table of the project, that still names or quotes Alice."""
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in {"comments", "moderation"}:
            continue
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for row in model.objects.values("pk", *fields):
            for name in fields:
                text = json.dumps(row[name]).lower() if row[name] is not None else ""
                hits = [marker for marker in MARKERS if marker.lower() in text]
                if hits:
                    found.append(f"{model.__name__}#{row['pk']}.{name}: {hits}")
    return found


def test_the_markers_are_found_before_an_erasure(alices):
    # The scan below would pass vacuously if it could not see Alice: every table set up holds her.
    tables = {hit.split("#")[0] for hit in rows_mentioning_alice()}
    assert tables == {"Comment", "ModerationDecision", "Notification", "Report", "CommenterFlag"}


def test_erasure_deletes_her_comments_and_keeps_a_replied_one_as_a_placeholder(alices, site):
    erased = readers.commenter_erase(commenter=readers.Commenter(email=EMAIL.upper(), site_id=site.pk), via="command")

    assert erased == readers.Erased(comments=4, deleted=3, placeholders=1, anonymised=0)
    placeholder = Comment.objects.get(pk=alices["replied"].pk)
    assert (placeholder.body, placeholder.author_name, placeholder.author_email) == ("[deleted]", "[deleted]", "")
    assert (placeholder.ip_hash, placeholder.user_agent, placeholder.commenter) == ("", "", "")
    assert (placeholder.scores, placeholder.reasons, placeholder.status) == ({}, [], "published")
    assert not Comment.objects.filter(pk__in=[alices[k].pk for k in ("alone", "own_reply", "held")]).exists()
    # The thread keeps its shape: Bob's reply is still listed, under the placeholder.
    page = selectors.thread_comments_page(site=site, thread=alices["replied"].thread, page=1, page_size=20)
    [root] = page.nodes
    assert root.comment.body == "[deleted]"
    assert [reply.comment.body for reply in root.replies] == ["Bob disagrees politely."]
    assert rows_mentioning_alice() == []
    # What stays of the audit trail: the decision on the placeholder without note or label, and the erasure.
    assert list(ModerationDecision.objects.values_list("action", "note", "labels")) == [("not_toxic", "", {})]
    assert not Report.objects.exists() and not IdempotencyKey.objects.exists()
    assert list(CommenterFlag.objects.values_list("identity", flat=True)) == ["commenter:bob"]
    record = Erasure.objects.get()
    assert (record.via, record.mode, record.comments, record.deleted, record.placeholders) == (
        "command", "delete", 4, 3, 1
    )  # fmt: skip


def test_a_chain_of_her_replies_above_someone_elses_stays_as_placeholders(thread, site):
    top = published(thread, "Alice starts.")
    middle = published(thread, "Alice again.", parent=top)
    published(thread, "Bob answers the second.", name="Bob", email="", commenter="bob", parent=middle)

    erased = readers.commenter_erase(commenter=readers.Commenter(commenter=COMMENTER, site_id=site.pk), via="admin")

    assert erased.placeholders == 2 and erased.deleted == 0
    page = selectors.thread_comments_page(site=site, thread=thread, page=1, page_size=20)
    assert page.total == 3
    assert page.nodes[0].replies[0].replies[0].comment.body == "Bob answers the second."


def test_anonymising_keeps_the_text_and_removes_every_trace_of_the_author(alices, site):
    SitePolicy.objects.filter(site=site).update(erasure="anonymise")
    MARKERS.remove("looking-glass")  # the text stays, by the site's choice
    try:
        erased = readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
        assert erased == readers.Erased(comments=4, deleted=0, placeholders=0, anonymised=4)
        kept = Comment.objects.get(pk=alices["replied"].pk)
        assert kept.body.startswith(SECRET_TEXT) and kept.author_name == "[deleted]" and kept.scores
        assert Comment.objects.get(pk=alices["held"].pk).reasons[0]["detail"] == "The commenter was blocked."
        assert rows_mentioning_alice() == []
        assert set(ModerationDecision.objects.values_list("note", flat=True)) == {""}
        assert Report.objects.count() == 1  # a reader's report of the text, which stays
        assert Erasure.objects.get().anonymised == 4
    finally:
        MARKERS.append("looking-glass")


def test_a_placeholder_goes_once_the_replies_under_it_are_erased_too(alices, site):
    readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
    assert Comment.objects.filter(pk=alices["replied"].pk).exists()
    readers.commenter_erase(commenter=readers.Commenter(commenter="bob", site_id=site.pk), via="command")
    assert not Comment.objects.exists()


def test_erasure_changes_nothing_of_other_commenters_or_sites(alices, site):
    other = Site.objects.create(name="Other", public_key="other")
    elsewhere = published(Thread.objects.create(site=other, key="/x"), "Alice elsewhere.")
    readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
    assert Comment.objects.get(pk=elsewhere.pk).author_email == EMAIL
    assert Comment.objects.get(pk=alices["bob_reply"].pk).author_name == "Bob"


def test_the_export_holds_her_comments_and_nobody_elses(alices, site):
    export = readers.commenter_export(commenter=readers.Commenter(email=EMAIL.lower(), site_id=site.pk))
    assert export["count"] == 4
    assert {row["name"] for row in export["comments"]} == {NAME}
    first = export["comments"][0]
    assert first["comment"] == alices["replied"].body and first["email"] == EMAIL and first["thread"] == "/news/bridge"
    assert first["user_agent"] == USER_AGENT and first["address_hash"] == IP_HASH and first["site"] == "planet"
    assert [row["status"] for row in export["comments"]][-1] == "held"


# The mailed links.


def test_a_request_mails_a_link_through_the_outbox_and_forgets_the_address_once_sent(api, alices, site, settings):
    settings.MODERATO_PUBLIC_URL = "https://comments.example"
    answer = api.post(
        "/api/v1/readers/requests", {"site": "planet", "email": EMAIL, "request": "export"}, format="json"
    )
    assert answer.status_code == 202
    assert mail.outbox == []  # not sent inside the request
    row = Notification.objects.filter(event="reader.export", payload__to=EMAIL.lower()).latest("pk")
    assert notification_deliver(notification_id=row.pk) == "delivered"
    [message] = mail.outbox
    assert message.to == [EMAIL.lower()]
    [link] = re.findall(r"https://comments\.example(/moderation/readers/export/\S+)", message.body)
    row.refresh_from_db()
    assert row.payload == {} and row.state == "delivered"

    assert "/moderation/readers/export/[redacted]" in redact(message.body)  # the mail backend's log line

    download = api.get(link)
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert json.loads(download.content)["count"] == 4


def test_a_request_for_an_address_without_comments_sends_nothing_and_answers_the_same(api, site):
    answer = api.post(
        "/api/v1/readers/requests", {"site": "planet", "email": "x@y.example", "request": "erase"}, format="json"
    )
    assert (answer.status_code, answer.json()) == (202, {"status": "received"})
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"site": "planet", "email": "not an address", "request": "export"}, "email"),
        ({"site": "planet", "email": EMAIL, "request": "delete-everything"}, "request"),
        ({"site": "nope", "email": EMAIL, "request": "export"}, "site"),
    ],
)
def test_a_bad_request_answers_400_with_the_field(api, site, body, field):
    answer = api.post("/api/v1/readers/requests", body, format="json")
    assert answer.status_code == 400 and field in answer.json()


def test_the_erase_link_asks_first_and_erases_on_confirmation(client, alices, site):
    link = f"/moderation/readers/erase/{reader_link_token(site_id=site.pk, email=EMAIL, purpose='erase')}"
    page = client.get(link)
    assert page.status_code == 200 and b"Erase the 4 comments" in page.content
    assert Comment.objects.filter(author_email=EMAIL).count() == 4  # a mail scanner following the link erases nothing
    done = client.post(link)
    assert done.status_code == 200 and b"4 comments erased" in done.content
    assert not Comment.objects.filter(author_email=EMAIL).exists()
    assert Erasure.objects.get().via == "email_link"


def expired_token(site, purpose):
    real = time.time
    signing.time.time = lambda: real() - 25 * 3600  # type: ignore[attr-defined]
    try:
        return reader_link_token(site_id=site.pk, email=EMAIL, purpose=purpose)
    finally:
        signing.time.time = real  # type: ignore[attr-defined]


@pytest.mark.parametrize("purpose", ["export", "erase"])
def test_an_expired_link_answers_403_and_a_forged_or_misused_one_400(client, alices, site, purpose):
    other = "erase" if purpose == "export" else "export"
    expired = client.post(f"/moderation/readers/{purpose}/{expired_token(site, purpose)}")
    assert expired.status_code == 403 and b"expired" in expired.content
    valid = reader_link_token(site_id=site.pk, email=EMAIL, purpose=purpose)
    forged = client.post(f"/moderation/readers/{purpose}/{valid[:-3]}abc")
    assert forged.status_code == 400 and b"not valid" in forged.content
    misused = client.post(
        f"/moderation/readers/{purpose}/{reader_link_token(site_id=site.pk, email=EMAIL, purpose=other)}"
    )
    assert misused.status_code == 400
    assert Comment.objects.filter(author_email=EMAIL).count() == 4


# The commenter token (the widget, no e-mail needed).


def test_the_commenter_token_exports_and_erases_directly(api, alices, site):
    token = tokens.commenter_token_make(site_id=site.pk, commenter=COMMENTER)
    export = api.post("/api/v1/readers/export", {"site": "planet", "commenter_token": token}, format="json")
    assert export.status_code == 200 and export.json()["count"] == 4
    erased = api.post("/api/v1/readers/erase", {"site": "planet", "commenter_token": token}, format="json")
    assert erased.json() == {"erased": 4, "deleted": 3, "placeholders": 1, "anonymised": 0}
    assert Erasure.objects.get().via == "commenter_token"


def test_a_forged_or_foreign_commenter_token_is_refused_with_a_message(api, alices, site):
    other = Site.objects.create(name="Other", public_key="other")
    for token in ["forged", tokens.commenter_token_make(site_id=other.pk, commenter=COMMENTER)]:
        for path in ("/api/v1/readers/export", "/api/v1/readers/erase"):
            answer = api.post(path, {"site": "planet", "commenter_token": token}, format="json")
            assert answer.status_code == 400
            assert "not valid" in answer.json()["commenter_token"][0]
    assert Comment.objects.filter(commenter=COMMENTER).count() == 4


# The admin.


@pytest.fixture
def moderator(db):
    user = User.objects.create_user("carol", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return moderate_every_site(user)


def test_the_admin_exports_the_commenter_of_a_comment(client, moderator, alices):
    client.force_login(moderator)
    answer = client.post(
        "/admin/comments/comment/", {"action": "export_commenters", "_selected_action": [alices["held"].pk]}
    )
    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    [commenter] = json.loads(answer.content)["commenters"]
    assert commenter["count"] == 4 and commenter["commenter"] == f"e-mail {EMAIL.lower()}"


def test_the_admin_asks_then_erases_and_records_the_moderator(client, moderator, alices):
    client.force_login(moderator)
    form = {"action": "erase_commenters", "_selected_action": [alices["held"].pk, alices["bob_reply"].pk]}
    asked = client.post("/admin/comments/comment/", form)
    assert asked.status_code == 200 and b"Yes, erase them" in asked.content
    assert Comment.objects.count() == 5  # nothing erased yet

    done = client.post("/admin/comments/comment/", form | {"confirm": "yes"}, follow=True)
    assert b"Erased 5 comment(s) of 2 commenter(s)" in done.content
    assert list(Comment.objects.values_list("body", flat=True)) == []
    assert sorted(Erasure.objects.values_list("actor__username", "comments")) == [("carol", 1), ("carol", 4)]
    history = client.get("/admin/moderation/erasure/")
    assert history.status_code == 200 and b"a moderator, in the admin" in history.content
    assert EMAIL.lower().encode() not in history.content and b"Bob" not in history.content


def test_staff_who_do_not_moderate_cannot_erase(client, alices):
    bob = User.objects.create_user("bob", password="pw", is_staff=True)
    client.force_login(bob)
    form = {"action": "erase_commenters", "_selected_action": [alices["held"].pk], "confirm": "yes"}
    client.post("/admin/comments/comment/", form)
    assert Comment.objects.count() == 5 and not Erasure.objects.exists()


# The commands.


def run(*argv: str) -> int:
    """Run a command as the command line does, and return its exit status. (run_from_argv closes
    the database connections at the end, which would close the test's in-memory database.)"""
    from django.core.management import base

    close_all, base.connections.close_all = base.connections.close_all, lambda: None
    try:
        ManagementUtility(["manage.py", *argv]).execute()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        base.connections.close_all = close_all
    return 0


def test_erase_commenter_exit_codes(alices, site, capsys):
    assert run("erase_commenter") == 2  # --email is required
    assert run("erase_commenter", "--email", "nope") == 1
    assert "is not an e-mail address" in capsys.readouterr().err
    assert run("erase_commenter", "--email", EMAIL, "--site", "missing") == 1
    assert Comment.objects.count() == 5
    assert run("erase_commenter", "--email", EMAIL, "--site", "planet") == 0
    assert (
        "Erased 4 comment(s): 3 deleted, 1 kept as [deleted] (others replied), 0 anonymised." in capsys.readouterr().out
    )
    assert run("erase_commenter", "--email", EMAIL) == 0  # nothing left: still a success
    assert "Erased 0 comment(s)" in capsys.readouterr().out


def test_export_commenter_prints_json_or_writes_a_file(alices, tmp_path, capsys):
    call_command("export_commenter", "--email", EMAIL)
    assert json.loads(capsys.readouterr().out)["count"] == 4
    target = tmp_path / "alice.json"
    assert run("export_commenter", "--email", EMAIL, "--output", str(target)) == 0
    assert json.loads(target.read_text())["comments"][0]["name"] == NAME
    assert run("export_commenter", "--email", EMAIL, "--output", str(tmp_path / "no" / "dir.json")) == 1


# Retention.


def test_retention_removes_old_address_hashes_and_user_agents_only(thread, settings):
    settings.MODERATO_RETENTION_DAYS = 90
    old, recent = published(thread, "old"), published(thread, "recent")
    Comment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    Comment.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=89))
    old_report = Report.objects.create(comment=recent, ip_hash="e5" * 32)
    new_report = Report.objects.create(comment=recent, ip_hash="f6" * 32)
    Report.objects.filter(pk=old_report.pk).update(created_at=timezone.now() - timedelta(days=100))

    from comments.services import retention_purge
    from comments.tasks import retention_purge as retention_task

    assert retention_purge().comments == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.ip_hash, old.user_agent, old.body, old.author_email) == ("", "", "old", EMAIL)
    assert (recent.ip_hash, recent.user_agent) == (IP_HASH, USER_AGENT)
    assert Report.objects.get(pk=old_report.pk).ip_hash == f"expired:{old_report.pk}"
    assert Report.objects.get(pk=new_report.pk).ip_hash == "f6" * 32
    assert retention_task() == {"comments": 0, "reports": 0}  # done once: nothing more


def test_beat_runs_the_retention_job_on_the_housekeeping_queue(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "comments.tasks.retention_purge" in tasks
    assert settings.CELERY_TASK_ROUTES["comments.tasks.retention_purge"] == {"queue": "housekeeping"}
