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
