"""API keys, rate limits, scores and training labels of the compatibility APIs.

Scores come from the same scorer as the comment pipeline and decisions use the site's own
thresholds, so a text gets the same numbers and the same spam verdict here as in the queue.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Case, F, Value, When
from django.utils import timezone

from comments.models import Site
from ml.vocabulary import Attribute
from moderation.compat.models import ApiKey, TrainingLabel
from moderation.scoring import get_scorer
from moderation.sites import site_thresholds

logger = logging.getLogger(__name__)

KEY_PREFIX = "mod"
VISIBLE_CHARACTERS = 11  # "mod" and 8 random characters: enough to tell keys apart, useless to guess
RATE_WINDOW_SECONDS = 60
# Akismet sets no length limit; past this many characters (Perspective's 20 KB) a text is cut,
# so that one request cannot hold a worker for seconds. The pipeline's comments are far shorter.
MAX_TEXT_CHARACTERS = 20 * 1024


def api_key_hash(*, key: str) -> str:
    # Keys are lowercase hex so that they also fit in a host name (KEY.example.org), where case is lost.
    return hashlib.sha256(key.strip().lower().encode("utf-8", "replace")).hexdigest()


def api_key_issue(*, api_key: ApiKey) -> str:
    """Give an unsaved key a new secret, save it, and return the secret (shown once, never stored)."""
    key = KEY_PREFIX + secrets.token_hex(20)
    api_key.prefix = key[:VISIBLE_CHARACTERS]
    api_key.key_hash = api_key_hash(key=key)
    api_key.save()
    return key


def api_key_create(*, site: Site, name: str = "", requests_per_minute: int | None = None) -> tuple[ApiKey, str]:
    """Create an API key for a site; return the row and the key itself."""
    api_key = ApiKey(site=site, name=name)
    if requests_per_minute is not None:
        api_key.requests_per_minute = requests_per_minute
    return api_key, api_key_issue(api_key=api_key)


def api_key_revoke(*, api_key_id: int) -> bool:
    """Revoke a key; return whether it was active."""
    return bool(ApiKey.objects.filter(pk=api_key_id, revoked_at__isnull=True).update(revoked_at=timezone.now()))


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """Return the active key matching this secret, with its site, or None."""
    if not key or len(key) > 200:
        return None
    return ApiKey.objects.select_related("site").filter(key_hash=api_key_hash(key=key), revoked_at__isnull=True).first()


def _rate_cache_key(api_key: ApiKey, now: float) -> str:
    return f"compat-rate:{api_key.pk}:{int(now // RATE_WINDOW_SECONDS)}"


def api_key_throttle(*, api_key: ApiKey, now: float | None = None) -> int | None:
    """Count one request against the key's budget for this minute; over it, return the seconds to wait."""
    if not api_key.requests_per_minute:
        return None
    now = time.time() if now is None else now
    cache_key = _rate_cache_key(api_key, now)
    try:
        cache.add(cache_key, 0, timeout=RATE_WINDOW_SECONDS * 2)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=RATE_WINDOW_SECONDS * 2)
            count = 1
    except Exception as exc:  # the cache cannot be reached: the limit fails open, the request is served
        logger.warning("API key %s: rate limit not applied, the cache cannot be reached: %s", api_key.prefix, exc)
        return None
    if count <= api_key.requests_per_minute:
        return None
    return max(1, RATE_WINDOW_SECONDS - int(now % RATE_WINDOW_SECONDS))


def api_key_throttled(*, api_key: ApiKey, now: float | None = None) -> bool:
    """Whether the key has used up this minute's budget (without counting a request)."""
    if not api_key.requests_per_minute:
        return False
    now = time.time() if now is None else now
    try:
        return (cache.get(_rate_cache_key(api_key, now)) or 0) >= api_key.requests_per_minute
    except Exception as exc:  # as in api_key_throttle: fail open
        logger.warning("API key %s: rate limit not read, the cache cannot be reached: %s", api_key.prefix, exc)
        return False


def api_key_use(*, api_key: ApiKey) -> None:
    """Count one served request, in total and for the current month."""
    now = timezone.now()
    month = now.strftime("%Y-%m")
    ApiKey.objects.filter(pk=api_key.pk).update(
        request_count=F("request_count") + 1,
        month_request_count=Case(When(month=month, then=F("month_request_count") + 1), default=Value(1)),
        month=month,
        last_used_at=now,
    )


def scored_attributes() -> list[str]:
    """The attributes the models produce, e.g. ``["SPAM", "TOXICITY"]``."""
    return sorted(attribute for attributes in get_scorer().attributes.values() for attribute in attributes)


def text_score(*, text: str) -> dict[str, float]:
    """Every attribute's probability for a text: exactly what the comment pipeline computes."""
    return get_scorer().score(text)


def texts_score(*, texts: list[str]) -> list[dict[str, float]]:
    return get_scorer().score_many(texts)


@dataclass(frozen=True)
class SpamVerdict:
    spam: bool
    discard: bool
    reason: str
    score: float | None = None


AKISMET_TEST_AUTHOR = "viagra-test-123"
AKISMET_TEST_EMAIL = "akismet-guaranteed-spam@example.com"


def spam_check(*, site: Site, fields: Mapping[str, str]) -> SpamVerdict:
    """Judge Akismet comment-check fields: test values, honeypot, then the SPAM score and thresholds.

    Spam is a SPAM score at or above the site's publish threshold; blatant spam (may be discarded
    unseen) is at or above its reject threshold.
    """
    if fields.get("user_role", "").strip().lower() == "administrator":
        return SpamVerdict(spam=False, discard=False, reason="user_role=administrator")
    if (
        fields.get("comment_author", "").strip() == AKISMET_TEST_AUTHOR
        or fields.get("comment_author_email", "").strip().lower() == AKISMET_TEST_EMAIL
    ):
        return SpamVerdict(spam=True, discard=False, reason="test value")
    honeypot = fields.get("honeypot_field_name", "").strip()
    if honeypot and honeypot not in SPAM_CHECK_FIELDS and fields.get(honeypot, "").strip():
        return SpamVerdict(spam=True, discard=True, reason="honeypot field filled")
    score = text_score(text=fields.get("comment_content", "")[:MAX_TEXT_CHARACTERS])[Attribute.SPAM]
    threshold = site_thresholds(site=site)[Attribute.SPAM]
    discard = threshold.reject is not None and score >= threshold.reject
    return SpamVerdict(spam=discard or score >= threshold.publish, discard=discard, reason="SPAM score", score=score)


# The documented fields a honeypot may not name (a honeypot is an extra, hidden form field).
SPAM_CHECK_FIELDS = frozenset(
    "api_key blog user_ip user_agent referrer permalink comment_type comment_author comment_author_email "
    "comment_author_url comment_content comment_date_gmt comment_post_modified_gmt blog_lang blog_charset "
    "user_role is_test recheck_reason honeypot_field_name comment_context".split()
)


def storable(text: str) -> str:
    """Text any database can store: NUL (which PostgreSQL refuses) and lone surrogates (which UTF-8
    cannot encode) become U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "\ufffd")


def training_label_create(
    *,
    site: Site,
    text: str,
    labels: dict[str, int],
    source: TrainingLabel.Source,
    api_key: ApiKey | None = None,
    community_id: str = "",
    client_token: str = "",
) -> TrainingLabel:
    """Store a client's label for the learning loop."""
    return TrainingLabel.objects.create(
        site=site,
        api_key=api_key,
        text=storable(text[:MAX_TEXT_CHARACTERS]),
        labels=labels,
        source=source,
        community_id=storable(community_id[:500]),
        client_token=storable(client_token[:500]),
    )
