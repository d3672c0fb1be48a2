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
from comments.models import Comment, CommentEdit, IdempotencyKey, Report, Site, Thread
from config.logging import redact
from moderation import importing, readers, services
from moderation.emails import reader_link_token
from moderation.models import (
    CommenterFlag,
    CommentEvent,
    Erasure,
    ModelVersion,
    ModerationDecision,
    Notification,
    ShadowDecision,
    SitePolicy,
)
from moderation.notifications import notification_deliver
from tests.conftest import moderate_every_site

EMAIL = "Alice.Liddell@Wonder.example"
NAME = "Alice Liddell"
COMMENTER = "aliceCommenterId0000001"
IP_HASH = "a1" * 32
USER_AGENT = "AliceBrowser/7.0 (Rabbit Hole)"
SECRET_TEXT = "I live at 12 Looking-Glass Lane"
MARKERS = ["alice", "wonder.example", COMMENTER, IP_HASH, "alicebrowser", "looking-glass"]
BLOCKED = [
    {"code": "blocked_words", "detail": "Blocked words: looking-glass."},
    {"code": "blocked_commenter", "detail": f"The commenter is blocked (email:{EMAIL.lower()})."},
]

# The tables with a text or JSON column that cannot hold a reader's data, and why. Every other one
# must be set up with Alice's data by the ``alices`` fixture (test_every_table_with_text_is_set_up_or_
# named_here): a new table fails that test until it is either covered (set up, then erased) or named.
HOLD_NO_READERS_DATA = {
    "auth.Permission": "permission names",
    "auth.Group": "group names",
    "auth.User": "the moderators' accounts (readers have none)",
    "contenttypes.ContentType": "model names",
    "sessions.Session": "the moderators' admin sessions (the widget sets no cookie)",
    "admin.LogEntry": "the admin cannot add, change or delete a comment (CommentAdmin), so no entry names one",
    "comments.Site": "the publisher's settings",
    "comments.Thread": "the publisher's pages",
    "moderation.SitePolicy": "the publisher's settings and word lists",
    "moderation.ThreadPolicy": "a thread's pre-moderation and thresholds (the publisher's settings)",
    "moderation.ModelArtifactFile": "model files",
    "moderation.Erasure": "counts, never whose (by design)",
    "moderation.WorkerHeartbeat": "worker host names",
    "moderation.ApiKey": "the publisher's API keys (hashed)",
    "moderation.ModeratorLanguages": "the languages a moderator reads (staff accounts, not readers)",
    "moderation.ModeratorToken": "moderators' API tokens (hashed; staff accounts, not readers)",
    "comments.IdempotencyKey": "a hash of the submitted fields, where no marker shows: set up, and its "
    "deletion checked, by the erasure tests",
    "moderation.TrainingLabel": "texts another system's Perspective or Akismet client sent: tied to no Moderato "
    "comment or commenter, so erasure cannot find them (README: what it cannot reach)",
}


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


def bobs(thread, body, *, parent):
    return published(thread, body, name="Bob", email="bob@planet.example", commenter="bob", parent=parent)


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
        reply_notice=Comment.ReplyNotice.CONFIRMED,
    )
    bob_reply = bobs(thread, "Bob disagrees politely.", parent=replied)
    alone = published(thread, f"Second thought: {SECRET_TEXT}.")
    own_reply = published(thread, "Replying to myself.", parent=alone)
    held = published(thread, "A held rant about the Looking-Glass.", status="held", reasons=BLOCKED[1:])
    # Imported from WordPress: no commenter id, an address hash and user agent from the file.
    imported = published(thread, "From the old site: the Looking-Glass years.", commenter="", external_id="wordpress:7")
    # Deleted by Alice herself (the authors' deletion): her name, address and text are gone, her browser's
    # commenter id, address hash and user agent are not; Bob's reply keeps it on the page as "[deleted]".
    self_deleted = published(thread, "Words I took back.")
    bob_second = bobs(thread, "Bob answers the deleted one.", parent=self_deleted)
    services.comment_author_delete(comment_id=self_deleted.pk)

    moderator = User.objects.create_user("mod", is_staff=True)
    ModerationDecision.objects.create(
        comment=replied, actor=moderator, action="not_toxic", from_status="held", to_status="published",
        labels={"TOXICITY": 0}, note="Alice from the Looking-Glass house again",
    )  # fmt: skip
    ModerationDecision.objects.create(
        comment=held, actor=moderator, action="spam", from_status="pending", to_status="rejected",
        labels={"SPAM": 1}, note="alice spams",
    )  # fmt: skip
    ModerationDecision.objects.create(
        comment=imported, actor=moderator, action="approve", from_status="held", to_status="published",
        note="Alice's old comment, fine",
    )  # fmt: skip
    for comment in (replied, held, imported):
        Notification.objects.create(
            kind="webhook", event="comment.published", site=site, comment=comment, next_attempt_at=timezone.now(),
            payload={"event": "comment.published", "comment": {"id": comment.pk, "name": NAME, "comment": comment.body,
                     "reasons": comment.reasons}},
            last_result="HTTP 200: thanks for Alice's comment",
        )  # fmt: skip
    Notification.objects.create(
        kind="email", event="reader.export", site=site, payload={"to": EMAIL.lower()}, next_attempt_at=timezone.now()
    )
    # Reply notices: her confirmation not sent yet, and the notice of Bob's reply to her, not sent yet.
    for comment, event in [(replied, "reply.confirm"), (bob_reply, "comment.reply")]:
        Notification.objects.create(
            kind="email", event=event, site=site, comment=comment, next_attempt_at=timezone.now()
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
    # Her edits: a held one (its text and reasons), a published one (its text is the comment's now).
    CommentEdit.objects.create(comment=replied, body=f"{SECRET_TEXT}, edited.", state="held", reasons=BLOCKED)
    CommentEdit.objects.create(comment=held, body="A held rant about the Looking-Glass.", state="published")
    # Shadow mode's record: its reasons quote the blocked words and name the blocked identity.
    for comment in (replied, imported):
        ShadowDecision.objects.create(
            comment=comment, site=site, outcome="rejected", applied="published", reasons=BLOCKED,
            decided_at=timezone.now(),
        )  # fmt: skip
    # The comments' stories: a scoring's reasons quote her words and name her blocked address.
    for comment in (replied, held, imported):
        CommentEvent.objects.create(
            comment=comment, at=timezone.now(), actor="system", kind="scored", from_status="pending",
            to_status=comment.status, details={"scores": {"TOXICITY": 0.2}, "versions": {"TOXICITY": "toxicity-test"},
            "reasons": [*replied.reasons, *BLOCKED], "shadow": {"outcome": "rejected", "reasons": BLOCKED}},
        )  # fmt: skip
    # A model version's replay quotes comments it would decide differently.
    examples = [
        {"comment": c.pk, "text": c.body[:200], "before": "published", "after": "held"} for c in (alone, bob_reply)
    ]
    ModelVersion.objects.create(
        name="toxicity", version="toxicity-test", status="candidate", replay={"comments": 2, "examples": examples}
    )
    return {
        "replied": replied,
        "bob_reply": bob_reply,
        "alone": alone,
        "own_reply": own_reply,
        "held": held,
        "imported": imported,
        "self_deleted": self_deleted,
        "bob_second": bob_second,
    }


def text_fields(model) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
    ]


def rows_mentioning_alice() -> list[str]:
    """Every text or JSON value, in every table of every installed app, that still names or quotes Alice."""
    found = []
    for model in apps.get_models():
        fields = text_fields(model)
        for row in model.objects.values("pk", *fields):
            for name in fields:
                text = json.dumps(row[name]).lower() if row[name] is not None else ""
                hits = [marker for marker in MARKERS if marker.lower() in text]
                if hits:
                    found.append(f"{model._meta.label}#{row['pk']}.{name}: {hits}")
    return found


def test_every_table_with_text_is_set_up_with_her_data_or_named_here(alices):
    """The scan after an erasure would pass vacuously for a table that never held Alice: each table with
    a text or JSON column holds her before, or is named as one that cannot hold a reader's data."""
    with_text = {model._meta.label for model in apps.get_models() if text_fields(model)}
    holding_her = {hit.split("#")[0] for hit in rows_mentioning_alice()}

    assert set(HOLD_NO_READERS_DATA) <= with_text  # no stale names
    assert holding_her == with_text - set(HOLD_NO_READERS_DATA)
    assert holding_her == {
        "comments.Comment", "comments.CommentEdit", "comments.Report", "moderation.ShadowDecision",
        "moderation.ModerationDecision", "moderation.CommenterFlag", "moderation.ModelVersion",
        "moderation.Notification", "moderation.CommentEvent",
    }  # fmt: skip


def listed(api, site, thread) -> list[dict]:
    answer = api.get("/api/v1/comments", {"site": site.public_key, "thread": thread.key})
    assert answer.status_code == 200
    return answer.json()["results"]


def test_erasure_deletes_her_comments_and_keeps_a_replied_one_as_a_placeholder(api, alices, site, thread):
    erased = readers.commenter_erase(commenter=readers.Commenter(email=EMAIL.upper(), site_id=site.pk), via="command")

    # replied and self_deleted stay for Bob's replies; alone, own_reply and held go; imported is emptied.
    assert erased == readers.Erased(comments=6, deleted=4, placeholders=2, anonymised=0)
    for key in ("replied", "self_deleted"):
        placeholder = Comment.objects.get(pk=alices[key].pk)
        assert (placeholder.body, placeholder.author_name, placeholder.author_email) == ("", "", "")
        assert (placeholder.ip_hash, placeholder.user_agent, placeholder.commenter) == ("", "", "")
        assert (placeholder.scores, placeholder.reasons, placeholder.status) == ({}, [], "published")
        assert placeholder.deleted_at is not None and placeholder.reply_notice == ""
    assert not Comment.objects.filter(pk__in=[alices[k].pk for k in ("alone", "own_reply", "held")]).exists()
    # The thread keeps its shape: Bob's replies are still listed, under placeholders that look exactly like
    # an author's own deletion.
    page = selectors.thread_comments_page(site=site, thread=thread, page=1, page_size=20)
    assert [[reply.comment.body for reply in root.replies] for root in page.nodes] == [
        ["Bob disagrees politely."],
        ["Bob answers the deleted one."],
    ]
    shown = listed(api, site, thread)
    assert [{k: c[k] for k in ("name", "comment", "deleted")} for c in shown] == [
        {"name": "", "comment": "[deleted]", "deleted": True}
    ] * 2
    assert rows_mentioning_alice() == []
    # What stays of the audit trail: the decisions on kept rows without note or label, and the erasure.
    assert sorted(ModerationDecision.objects.values_list("action", "note", "labels")) == [
        ("approve", "", {}),
        ("not_toxic", "", {}),
    ]
    assert not Report.objects.exists() and not IdempotencyKey.objects.exists()
    assert not CommentEdit.objects.exists() and not ShadowDecision.objects.exists()
    assert list(CommenterFlag.objects.values_list("identity", flat=True)) == ["commenter:bob"]
    # E-mails not sent yet to her go: her reply-notice confirmation, the notice of Bob's reply.
    assert not Notification.objects.filter(event__in=["reply.confirm", "comment.reply"]).exists()
    [replay] = ModelVersion.objects.values_list("replay", flat=True)
    assert [example["text"] for example in replay["examples"]] == ["", "Bob disagrees politely."]
    record = Erasure.objects.get()
    assert (record.via, record.mode, record.comments, record.deleted, record.placeholders) == (
        "command", "delete", 6, 4, 2
    )  # fmt: skip
    # The stories of the rows that stay keep their lines without the details; the erasure is a line of its own.
    story = CommentEvent.objects.filter(comment=alices["replied"]).order_by("at", "pk")
    assert list(story.values_list("kind", "actor", "user", "from_status", "to_status", "details")) == [
        ("scored", "system", None, "pending", "published", {}),
        ("erased", "system", None, "published", "published", {"mode": "delete", "placeholder": True}),
    ]
    imported = CommentEvent.objects.filter(comment=alices["imported"]).order_by("at", "pk")
    assert list(imported.values_list("kind", "to_status", "details")) == [
        ("scored", "published", {}),
        ("erased", "deleted", {"mode": "delete", "placeholder": False}),
    ]


def test_an_imported_comment_keeps_its_external_id_so_importing_again_brings_nothing_back(alices, site):
    readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
    row = Comment.objects.get(pk=alices["imported"].pk)
    assert (row.external_id, row.status, row.body, row.author_name, row.author_email, row.ip_hash) == (
        "wordpress:7", "deleted", "", "", "", ""
    )  # fmt: skip
    assert row.deleted_at is not None

    again = importing.Record(
        external_id="wordpress:7", thread="/news/bridge", author_name=NAME, author_email=EMAIL, body="The old text."
    )
    report = importing.comments_import(site=site, records=[again], source="wordpress")

    assert (report.comments_created, report.already) == (0, 1)
    assert not Comment.objects.filter(author_email__iexact=EMAIL).exists()


def test_an_author_deleted_comment_is_found_by_the_browser_that_posted_it_with_her_address(alices, site):
    by_address = readers.Commenter(email=EMAIL, site_id=site.pk).comments()
    assert alices["self_deleted"].pk in set(by_address.values_list("pk", flat=True))
    # Only a deleted one: Bob's comments from a browser Alice once used are not hers.
    Comment.objects.filter(pk=alices["bob_second"].pk).update(commenter=COMMENTER)
    assert alices["bob_second"].pk not in set(by_address.values_list("pk", flat=True))


def test_a_chain_of_her_replies_above_someone_elses_stays_as_placeholders(thread, site):
    top = published(thread, "Alice starts.")
    middle = published(thread, "Alice again.", parent=top)
    published(thread, "Bob answers the second.", name="Bob", email="", commenter="bob", parent=middle)

    erased = readers.commenter_erase(commenter=readers.Commenter(commenter=COMMENTER, site_id=site.pk), via="admin")

    assert erased.placeholders == 2 and erased.deleted == 0
    page = selectors.thread_comments_page(site=site, thread=thread, page=1, page_size=20)
    assert page.total == 3
    assert page.nodes[0].replies[0].replies[0].comment.body == "Bob answers the second."


def test_a_placeholder_over_only_rejected_replies_stays_a_row_but_leaves_the_page(thread, site):
    mine = published(thread, "Alice says.")
    rejected = published(thread, "Bob's spam.", name="Bob", email="", commenter="bob", parent=mine, status="rejected")

    erased = readers.commenter_erase(commenter=readers.Commenter(commenter=COMMENTER, site_id=site.pk), via="admin")

    assert erased.placeholders == 1  # deleting the row would delete Bob's rejected reply with it
    assert Comment.objects.get(pk=mine.pk).status == "deleted"
    assert Comment.objects.get(pk=rejected.pk).status == "rejected"
    assert selectors.thread_comments_page(site=site, thread=thread, page=1, page_size=20).total == 0


def test_anonymising_keeps_the_text_and_removes_every_trace_of_the_author(alices, site):
    SitePolicy.objects.filter(site=site).update(erasure="anonymise")
    MARKERS.remove("looking-glass")  # the text stays, by the site's choice
    try:
        erased = readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
        assert erased == readers.Erased(comments=6, deleted=0, placeholders=0, anonymised=6)
        kept = Comment.objects.get(pk=alices["replied"].pk)
        assert kept.body.startswith(SECRET_TEXT) and kept.author_name == "[deleted]" and kept.scores
        assert kept.reply_notice == ""
        assert Comment.objects.get(pk=alices["held"].pk).reasons[0]["detail"] == "The commenter was blocked."
        assert rows_mentioning_alice() == []
        assert set(ModerationDecision.objects.values_list("note", flat=True)) == {""}
        assert Report.objects.count() == 1  # a reader's report of the text, which stays
        # Her edits keep their texts; their reasons and shadow mode's keep the blocked words, not her address.
        assert CommentEdit.objects.filter(body__startswith=SECRET_TEXT).count() == 1
        held_edit = CommentEdit.objects.filter(state="held").values_list("reasons", flat=True)
        for reasons in [*held_edit, *ShadowDecision.objects.values_list("reasons", flat=True)]:
            assert reasons == [BLOCKED[0], {"code": "blocked_commenter", "detail": "The commenter was blocked."}]
        assert Comment.objects.get(pk=alices["imported"].pk).external_id == "wordpress:7"
        assert not Notification.objects.filter(event__in=["reply.confirm", "comment.reply"]).exists()
        assert Erasure.objects.get().anonymised == 6
        # The stories keep the scores and the blocked words, not her address.
        scrubbed = {"code": "blocked_commenter", "detail": "The commenter was blocked."}
        for details in CommentEvent.objects.filter(kind="scored").values_list("details", flat=True):
            assert details["scores"] == {"TOXICITY": 0.2} and details["reasons"][-2:] == [BLOCKED[0], scrubbed]
            assert details["shadow"]["reasons"] == [BLOCKED[0], scrubbed]
        assert (
            CommentEvent.objects.filter(kind="erased", details={"mode": "anonymise", "placeholder": False}).count() == 6
        )
    finally:
        MARKERS.append("looking-glass")


def test_a_placeholder_leaves_the_page_once_the_replies_under_it_are_erased_too(
    api, alices, site, thread, django_capture_on_commit_callbacks
):
    readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
    assert len(listed(api, site, thread)) == 2
    with django_capture_on_commit_callbacks(execute=True):  # the cached page is invalidated after the commit
        bob = readers.Commenter(email="bob@planet.example", site_id=site.pk)
        readers.commenter_erase(commenter=bob, via="command")

    assert listed(api, site, thread) == []
    # The rows that stay hold nothing: the placeholders' (now status deleted, as an author's deletion
    # without replies) and the imported comment's.
    left = Comment.objects.values_list("pk", "status", "body", "author_name", "author_email", "commenter")
    assert sorted(left) == sorted(
        (alices[key].pk, "deleted", "", "", "", "") for key in ("replied", "imported", "self_deleted")
    )


def test_erasure_changes_nothing_of_other_commenters_or_sites(alices, site):
    other = Site.objects.create(name="Other", public_key="other")
    elsewhere = published(Thread.objects.create(site=other, key="/x"), "Alice elsewhere.")
    readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
    assert Comment.objects.get(pk=elsewhere.pk).author_email == EMAIL
    assert Comment.objects.get(pk=alices["bob_reply"].pk).author_name == "Bob"


def test_the_export_holds_her_comments_and_nobody_elses(alices, site):
    export = readers.commenter_export(commenter=readers.Commenter(email=EMAIL.lower(), site_id=site.pk))
    assert export["count"] == 6
    assert {row["name"] for row in export["comments"]} == {NAME, ""}  # "": the one she deleted herself
    by_id = {row["id"]: row for row in export["comments"]}
    first = by_id[alices["replied"].pk]
    assert first["comment"] == alices["replied"].body and first["email"] == EMAIL and first["thread"] == "/news/bridge"
    assert first["user_agent"] == USER_AGENT and first["address_hash"] == IP_HASH and first["site"] == "planet"
    assert first["reply_notice"] == "confirmed" and first["deleted"] is None and first["imported_as"] is None
    # Her held edit, with its text; shadow mode's would-be decision, read as the status API reads it.
    assert [(e["comment"], e["status"]) for e in first["edits"]] == [(f"{SECRET_TEXT}, edited.", "held")]
    assert first["shadow_mode"] == "held"
    assert by_id[alices["held"].pk]["status"] == "held" and by_id[alices["alone"].pk]["shadow_mode"] is None
    assert by_id[alices["imported"].pk]["imported_as"] == "wordpress:7"
    deleted = by_id[alices["self_deleted"].pk]
    assert (deleted["status"], deleted["comment"], deleted["address_hash"]) == ("published", "", IP_HASH)
    assert deleted["deleted"] is not None


def test_a_site_export_after_an_erasure_writes_the_emptied_rows_as_wordpress_trash(alices, site, tmp_path):
    readers.commenter_erase(commenter=readers.Commenter(email=EMAIL, site_id=site.pk), via="command")
    target = tmp_path / "planet.xml"
    call_command("export_comments", "--site", "planet", "--format", "wxr", "--output", str(target))
    written = target.read_text()
    assert written.count("<wp:comment_approved>trash</wp:comment_approved>") == 1  # the imported one
    assert all(marker.lower() not in written.lower() for marker in MARKERS)


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
    assert json.loads(download.content)["count"] == 6


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
    assert page.status_code == 200 and b"Erase the 6 comments" in page.content
    assert Comment.objects.filter(author_email=EMAIL).count() == 5  # a mail scanner following the link erases nothing
    done = client.post(link)
    assert done.status_code == 200 and b"6 comments erased" in done.content
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
    assert Comment.objects.filter(author_email=EMAIL).count() == 5


# The commenter token (the widget, no e-mail needed).


def test_the_commenter_token_exports_and_erases_directly(api, alices, site):
    token = tokens.commenter_token_make(site_id=site.pk, commenter=COMMENTER)
    export = api.post("/api/v1/readers/export", {"site": "planet", "commenter_token": token}, format="json")
    assert export.status_code == 200 and export.json()["count"] == 5  # the imported one has no commenter id
    erased = api.post("/api/v1/readers/erase", {"site": "planet", "commenter_token": token}, format="json")
    assert erased.json() == {"erased": 5, "deleted": 3, "placeholders": 2, "anonymised": 0}
    assert Erasure.objects.get().via == "commenter_token"


def test_a_forged_or_foreign_commenter_token_is_refused_with_a_message(api, alices, site):
    other = Site.objects.create(name="Other", public_key="other")
    for token in ["forged", tokens.commenter_token_make(site_id=other.pk, commenter=COMMENTER)]:
        for path in ("/api/v1/readers/export", "/api/v1/readers/erase"):
            answer = api.post(path, {"site": "planet", "commenter_token": token}, format="json")
            assert answer.status_code == 400
            assert "not valid" in answer.json()["commenter_token"][0]
    assert Comment.objects.filter(commenter=COMMENTER).count() == 5


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
    assert commenter["count"] == 6 and commenter["commenter"] == f"e-mail {EMAIL.lower()}"


def test_the_admin_asks_then_erases_and_records_the_moderator(client, moderator, alices):
    client.force_login(moderator)
    form = {"action": "erase_commenters", "_selected_action": [alices["held"].pk, alices["bob_reply"].pk]}
    asked = client.post("/admin/comments/comment/", form)
    assert asked.status_code == 200 and b"Yes, erase them" in asked.content
    assert Comment.objects.count() == 8  # nothing erased yet

    done = client.post("/admin/comments/comment/", form | {"confirm": "yes"}, follow=True)
    assert b"Erased 8 comment(s) of 2 commenter(s)" in done.content
    assert set(Comment.objects.values_list("body", "status")) == {("", "deleted")}
    assert sorted(Erasure.objects.values_list("actor__username", "comments")) == [("carol", 2), ("carol", 6)]
    erased = CommentEvent.objects.filter(kind="erased")
    assert set(erased.values_list("actor", "user__username")) == {("person", "carol")}
    history = client.get("/admin/moderation/erasure/")
    assert history.status_code == 200 and b"a moderator, in the admin" in history.content
    assert EMAIL.lower().encode() not in history.content and b"Bob" not in history.content


def test_staff_who_do_not_moderate_cannot_erase(client, alices):
    bob = User.objects.create_user("bob", password="pw", is_staff=True)
    client.force_login(bob)
    form = {"action": "erase_commenters", "_selected_action": [alices["held"].pk], "confirm": "yes"}
    client.post("/admin/comments/comment/", form)
    assert Comment.objects.count() == 8 and not Erasure.objects.exists()


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
    assert Comment.objects.count() == 8
    assert run("erase_commenter", "--email", EMAIL, "--site", "planet") == 0
    assert (
        "Erased 6 comment(s): 4 deleted, 2 kept as [deleted] (others replied), 0 anonymised." in capsys.readouterr().out
    )
    assert run("erase_commenter", "--email", EMAIL) == 0  # nothing left: still a success
    assert "Erased 0 comment(s)" in capsys.readouterr().out


def test_export_commenter_prints_json_or_writes_a_file(alices, tmp_path, capsys):
    call_command("export_commenter", "--email", EMAIL)
    assert json.loads(capsys.readouterr().out)["count"] == 6
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
