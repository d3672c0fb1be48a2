"""One answer to "which thresholds decide this site's comments": the site's, else the active model's default."""

import pytest

from comments.models import Comment, Site, Thread
from moderation import scoring, services, sites
from moderation.models import SitePolicy
from moderation.policy import DEFAULT_THRESHOLDS, Threshold


def test_a_new_site_gets_a_policy_that_follows_the_defaults(db):
    site = Site.objects.create(name="New", public_key="new")
    assert SitePolicy.objects.get(site=site).thresholds == {}
    assert sites.site_thresholds(site=site) == DEFAULT_THRESHOLDS  # what the shipped models carry


def test_the_sites_own_value_wins_and_the_rest_follow_the_model(site):
    site.policy.thresholds = {"TOXICITY": {"publish": 0.4, "reject": 0.99}}
    site.policy.save()
    thresholds = sites.site_thresholds(site=Site.objects.get(pk=site.pk))
    assert thresholds["TOXICITY"] == Threshold(publish=0.4, reject=0.99)
    assert thresholds["THREAT"] == DEFAULT_THRESHOLDS["THREAT"] and thresholds["SPAM"] == DEFAULT_THRESHOLDS["SPAM"]


def test_with_no_spam_threshold_of_its_own_a_site_still_holds_spam_in_the_queue_and_in_akismet(site):
    """The pipeline and the Akismet endpoint ask the same function (they once read the raw field)."""
    from moderation.compat import services as compat

    site.policy.thresholds = {"TOXICITY": {"publish": 0.5}}
    site.policy.save()
    spam = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now"
    comment = Comment.objects.create(thread=Thread.objects.create(site=site, key="/t"), body=spam, author_name="X")
    assert services.comment_score(comment_id=comment.pk) in {"held", "rejected"}
    assert compat.spam_check(site=site, fields={"comment_content": spam}).spam is True


@pytest.fixture
def earlier_toxicity_model(settings):
    settings.MODERATO_TOXICITY_MODEL = "toxicity-2026.11.28.3"
    scoring.clear_cache()
    yield
    settings.MODERATO_TOXICITY_MODEL = None
    scoring.clear_cache()


def test_back_on_a_model_without_a_threat_head_nothing_waits_for_a_missing_score(site, earlier_toxicity_model):
    thresholds = sites.site_thresholds(site=site)
    assert "THREAT" not in thresholds and "SEVERE_TOXICITY" not in thresholds
    assert thresholds["TOXICITY"] == Threshold(publish=0.5)  # that model's own default
    clean = "Thanks for the article, I learned a lot about the new bridge."
    comment = Comment.objects.create(thread=Thread.objects.create(site=site, key="/t"), body=clean, author_name="A")
    assert services.comment_score(comment_id=comment.pk) == "published"


def test_back_on_a_model_released_without_insult_and_profanity_thresholds_they_hold_nothing(site, settings):
    """toxicity-2026.12.01.21 has INSULT and PROFANITY heads but was released holding on neither: a
    rollback to it holds as it did, not at the code's defaults chosen for a later model."""
    settings.MODERATO_TOXICITY_MODEL = "toxicity-2026.12.01.21"
    scoring.clear_cache()
    try:
        assert {"INSULT", "PROFANITY"} <= set(scoring.get_scorer().attributes["toxicity"])
        thresholds = sites.site_thresholds(site=site)
        assert "INSULT" not in thresholds and "PROFANITY" not in thresholds
        assert thresholds["TOXICITY"] == Threshold(publish=0.129)  # that model's own default
        site.policy.thresholds = {"INSULT": {"publish": 0.3}}  # a site may still ask for it
        site.policy.save()
        assert sites.site_thresholds(site=Site.objects.get(pk=site.pk))["INSULT"] == Threshold(publish=0.3)
    finally:
        settings.MODERATO_TOXICITY_MODEL = None
        scoring.clear_cache()
