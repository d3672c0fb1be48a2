"""Upgrading keeps every site's moderation settings: moderation 0004 moves them to SitePolicy."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("comments", "0004_site_thresholds_for_the_2026_11_30_models"), ("moderation", "0003_model_versions")]
AFTER = [("comments", "0005_site_policy_moved_to_moderation"), ("moderation", "0004_site_policy")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_sites_keep_their_settings_and_only_their_own_thresholds():
    from importlib import import_module

    defaults = import_module("comments.migrations.0004_site_thresholds_for_the_2026_11_30_models").NEW
    old = migrate(BEFORE)
    Site = old.get_model("comments", "Site")
    User = old.get_model("auth", "User")
    carol = User.objects.create(username="carol")
    follows = Site.objects.create(name="Follows", public_key="follows", thresholds=defaults)
    strict = defaults | {"TOXICITY": {"publish": 0.1, "reject": 0.9}}
    own = Site.objects.create(
        name="Own",
        public_key="own",
        thresholds=strict,
        hold_all=True,
        hold_links_at=2,
        blocked_words="troll",
        webhook_url="https://hooks.example/x",
        webhook_secret="s3cret",
        email_moderators=True,
        report_threshold=5,
    )
    own.moderators.add(carol)
    try:
        new = migrate(AFTER)
        SitePolicy = new.get_model("moderation", "SitePolicy")
        assert SitePolicy.objects.get(site_id=follows.pk).thresholds == {}
        policy = SitePolicy.objects.get(site_id=own.pk)
        assert policy.thresholds == {"TOXICITY": {"publish": 0.1, "reject": 0.9}}
        assert (policy.hold_all, policy.hold_links_at, policy.blocked_words) == (True, 2, "troll")
        assert (policy.webhook_url, policy.webhook_secret, policy.email_moderators) == (
            "https://hooks.example/x",
            "s3cret",
            True,
        )
        assert policy.report_threshold == 5
        assert list(policy.moderators.values_list("username", flat=True)) == ["carol"]
        # And back: the site has its full thresholds and settings again.
        back = migrate(BEFORE)
        site = back.get_model("comments", "Site").objects.get(pk=own.pk)
        assert site.thresholds == strict and site.hold_all and site.webhook_secret == "s3cret"
        assert list(site.moderators.values_list("username", flat=True)) == ["carol"]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_trust_given_by_e_mail_address_moves_to_the_addresses_it_published_from():
    old = migrate([("comments", "0009_comment_commenter_form_seconds"), ("moderation", "0008_moderate_all_sites")])
    Site, Thread = old.get_model("comments", "Site"), old.get_model("comments", "Thread")
    Comment, CommenterFlag = old.get_model("comments", "Comment"), old.get_model("moderation", "CommenterFlag")
    site = Site.objects.create(name="Gazette", public_key="gazette-0009")
    thread = Thread.objects.create(site=site, key="/a")
    for ip_hash, name, status in [("h1", "Vera ", "published"), ("h2", "V.", "published"), ("h3", "Vera", "held")]:
        Comment.objects.create(
            thread=thread,
            author_name=name,
            author_email="Vera@example.org",
            body="x",
            status=status,
            ip_hash=ip_hash,
            decided_at=timezone.now(),
        )
    CommenterFlag.objects.create(site=site, identity="email:vera@example.org", kind="trusted")
    CommenterFlag.objects.create(site=site, identity="email:spam@example.org", kind="blocked")
    try:
        new = migrate([("moderation", "0009_site_policy_form_token")])
        flags = dict(new.get_model("moderation", "CommenterFlag").objects.values_list("identity", "kind"))
        assert flags == {
            "email:vera@example.org": "trusted",  # kept, inert
            "email:spam@example.org": "blocked",
            "ip:h1:vera": "trusted",
            "ip:h2:v.": "trusted",
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_thread_keys_without_their_slash_join_or_become_the_canonical_thread():
    old = migrate([("comments", "0009_comment_commenter_form_seconds")])
    Site, Thread = old.get_model("comments", "Site"), old.get_model("comments", "Thread")
    Comment = old.get_model("comments", "Comment")
    site = Site.objects.create(name="Gazette", public_key="gazette-0010")
    both = Thread.objects.create(site=site, key="news/bridge")
    canonical = Thread.objects.create(site=site, key="/news/bridge")
    alone = Thread.objects.create(site=site, key="news/dam")
    url = Thread.objects.create(site=site, key="https://gazette.example/x")
    for thread in (both, canonical, alone, url):
        Comment.objects.create(thread=thread, author_name="A", body="x")
    try:
        new = migrate([("comments", "0010_thread_keys_canonical")])
        threads = new.get_model("comments", "Thread").objects.filter(site_id=site.pk)
        assert sorted(threads.values_list("key", flat=True)) == [
            "/news/bridge",
            "/news/dam",
            "https://gazette.example/x",
        ]
        comments = new.get_model("comments", "Comment").objects.filter(thread__site_id=site.pk)
        assert comments.filter(thread_id=canonical.pk).count() == 2 and comments.count() == 4
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_comments_stored_before_events_get_their_story_from_their_rows():
    from datetime import timedelta

    old = migrate([("comments", "0014_comment_staff_reply"), ("moderation", "0016_site_policy_staff_name")])
    Site, Thread = old.get_model("comments", "Site"), old.get_model("comments", "Thread")
    Comment, Report = old.get_model("comments", "Comment"), old.get_model("comments", "Report")
    CommentEdit = old.get_model("comments", "CommentEdit")
    Decision, User = old.get_model("moderation", "ModerationDecision"), old.get_model("auth", "User")
    site = Site.objects.create(name="Gazette", public_key="gazette-0015")
    thread = Thread.objects.create(site=site, key="/a")
    dora = User.objects.create(username="dora-0015")
    posted = timezone.now() - timedelta(hours=2)
    scored = {"scores": {"TOXICITY": 0.9}, "model_versions": {"TOXICITY": "toxicity-old"}, "language": "en"}
    hold = [{"code": "hold_threshold", "attribute": "TOXICITY", "score": 0.9, "threshold": 0.5}]

    def comment(status, **fields):
        return Comment.objects.create(
            thread=thread, author_name="A", body="x", status=status, created_at=posted, **fields
        )

    alone = comment("held", decided_at=posted + timedelta(seconds=1), reasons=hold, **scored)
    decided = comment("rejected", decided_at=posted + timedelta(hours=1), reasons=hold, **scored)
    Decision.objects.create(
        comment=decided, actor=dora, action="spam", from_status="held", to_status="rejected", note="Bot."
    )
    reported = comment(
        "held",
        decided_at=posted + timedelta(seconds=1),
        reasons=[{"code": "reader_reports", "detail": "3 reader reports put it back in the queue."}],
        **scored,
    )
    Report.objects.create(comment=reported, ip_hash="r1", reason="rude")
    imported = comment("published", decided_at=posted, external_id="wordpress:9", reasons=[{"code": "imported"}])
    deleted = comment("deleted", decided_at=posted, deleted_at=posted + timedelta(minutes=5), **scored)
    edited = comment("published", decided_at=posted, reasons=[], **scored)
    CommentEdit.objects.create(comment=edited, body="y", state="published", decided_at=posted, scores={"SPAM": 0.1})
    try:
        new = migrate([("moderation", "0018_comment_events_backfill")])
        Event = new.get_model("moderation", "CommentEvent")

        def story(row):
            events = Event.objects.filter(comment_id=row.pk).order_by("at", "pk")
            return list(events.values_list("kind", "actor", "from_status", "to_status"))

        assert story(alone) == [("scored", "system", "pending", "held")]
        first = Event.objects.get(comment_id=alone.pk)
        assert first.at == alone.decided_at and first.details["backfilled"] is True
        assert first.details["scores"] == {"TOXICITY": 0.9} and first.details["versions"] == {
            "TOXICITY": "toxicity-old"
        }
        assert story(decided) == [("scored", "system", "pending", "held"), ("decided", "person", "held", "rejected")]
        moderator = Event.objects.get(comment_id=decided.pk, kind="decided")
        assert (moderator.user_id, moderator.decision.note) == (dora.pk, "Bot.")
        assert story(reported) == [
            ("scored", "system", "pending", "published"),
            ("reports_held", "system", "published", "held"),
        ]
        assert story(imported) == []  # the story reads the import from the comment itself
        assert story(deleted) == [("deleted", "reader", "", "deleted")]
        assert [e[0] for e in story(edited)] == ["scored", "edit_scored"]
        assert Event.objects.get(comment_id=edited.pk, kind="edit_scored").details["state"] == "published"
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
