import hashlib

import pytest

from comments.models import Site
from moderation.compat import services
from moderation.compat.models import ApiKey, TrainingLabel
from moderation.scoring import get_scorer
from tests.moderation.compat.conftest import CLEAN, SPAM


def test_it_stores_only_a_hash_and_a_prefix_of_a_new_key(site):
    api_key, key = services.api_key_create(site=site, name="Coral")
    row = ApiKey.objects.get(pk=api_key.pk)
    assert key.startswith("mod") and len(key) == 43 and key == key.lower()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:11]
    assert key not in {value for value in vars(row).values() if isinstance(value, str)}


def test_it_authenticates_an_active_key_and_no_other(site, key):
    assert services.api_key_authenticate(key=key).site == site
    assert services.api_key_authenticate(key=f"  {key.upper()} ").site == site  # host names lose case
    assert services.api_key_authenticate(key=key[:-1]) is None
    assert services.api_key_authenticate(key="") is None
    assert services.api_key_authenticate(key="x" * 10_000) is None


def test_it_revokes_a_key(key):
    api_key = services.api_key_authenticate(key=key)
    assert services.api_key_revoke(api_key_id=api_key.pk) is True
    assert services.api_key_revoke(api_key_id=api_key.pk) is False
    assert services.api_key_authenticate(key=key) is None


def test_it_gives_each_key_its_own_budget_a_minute(site):
    alice, _ = services.api_key_create(site=site, requests_per_minute=2)
    bob, _ = services.api_key_create(site=site, requests_per_minute=2)
    minute = 1_800_000_000.0
    assert services.api_key_throttle(api_key=alice, now=minute) is None
    assert services.api_key_throttle(api_key=alice, now=minute + 1) is None
    assert services.api_key_throttled(api_key=alice, now=minute + 1) is True
    assert services.api_key_throttle(api_key=alice, now=minute + 10) == 50
    assert services.api_key_throttle(api_key=bob, now=minute + 10) is None
    assert services.api_key_throttle(api_key=alice, now=minute + 60) is None  # the next minute


def test_it_never_throttles_a_key_without_a_limit(site):
    api_key, _ = services.api_key_create(site=site, requests_per_minute=0)
    assert all(services.api_key_throttle(api_key=api_key) is None for _ in range(100))


def test_it_counts_use_in_total_and_for_the_month(site):
    api_key, _ = services.api_key_create(site=site)
    ApiKey.objects.filter(pk=api_key.pk).update(month="2001-01", month_request_count=41, request_count=41)
    services.api_key_use(api_key=api_key)
    services.api_key_use(api_key=api_key)
    api_key.refresh_from_db()
    assert api_key.request_count == 43
    assert api_key.month_request_count == 2 and api_key.month != "2001-01"
    assert api_key.last_used_at is not None


def test_it_scores_with_the_pipelines_scorer(db):  # the active model version is a database row
    assert services.text_score(text=CLEAN) == get_scorer().score(CLEAN)
    assert set(services.scored_attributes()) >= {"TOXICITY", "SPAM"}


@pytest.mark.parametrize(
    ("fields", "spam", "discard"),
    [
        ({"comment_content": CLEAN}, False, False),
        ({"comment_content": SPAM}, True, True),
        ({"comment_content": CLEAN, "comment_author": "viagra-test-123"}, True, False),
        ({"comment_content": CLEAN, "comment_author_email": "akismet-guaranteed-spam@example.com"}, True, False),
        ({"comment_content": SPAM, "user_role": "administrator"}, False, False),
        ({"comment_content": CLEAN, "honeypot_field_name": "hp", "hp": "filled by a bot"}, True, True),
        ({"comment_content": CLEAN, "honeypot_field_name": "hp", "hp": ""}, False, False),
    ],
)
def test_it_judges_spam_like_akismet(site, fields, spam, discard):
    verdict = services.spam_check(site=site, fields=fields)
    assert (verdict.spam, verdict.discard) == (spam, discard)


def test_it_judges_spam_with_the_sites_thresholds(db):
    score = get_scorer().score(SPAM)["SPAM"]
    strict = Site.objects.create(name="Strict", public_key="strict")
    strict.policy.thresholds = {"SPAM": {"publish": 0.0}}
    strict.policy.save()
    lenient = Site.objects.create(name="Lenient", public_key="lenient")
    lenient.policy.thresholds = {"TOXICITY": {"publish": 0.5}}
    lenient.policy.save()
    assert services.spam_check(site=strict, fields={"comment_content": CLEAN}).spam is True
    verdict = services.spam_check(site=strict, fields={"comment_content": SPAM})
    assert verdict.score == score and verdict.discard is False  # no reject threshold: never discard
    assert services.spam_check(site=lenient, fields={"comment_content": SPAM}).discard is True  # the defaults


def test_it_judges_only_the_first_20_kb_of_a_huge_text(site):
    huge = CLEAN + " buy cheap pills now" * 100_000
    verdict = services.spam_check(site=site, fields={"comment_content": huge})
    assert verdict.score == get_scorer().score(huge[: 20 * 1024])["SPAM"]


def test_it_stores_a_label_without_nul_characters(site):
    label = services.training_label_create(
        site=site, text="a\x00b", labels={"SPAM": 1}, source=TrainingLabel.Source.AKISMET, client_token="t" * 900
    )
    label.refresh_from_db()
    assert label.text == "a\ufffdb" and len(label.client_token) == 500


def test_it_stores_at_most_20_kb_of_text(site):
    label = services.training_label_create(
        site=site, text="x" * 100_000, labels={"SPAM": 1}, source=TrainingLabel.Source.AKISMET
    )
    assert len(label.text) == 20 * 1024
