"""A site's moderation policy, its thresholds, and who may moderate it.

``site_thresholds`` is the one place that says which thresholds decide a site's comments: the
pipeline, the re-scoring of held comments, the compatibility APIs and the learning loop all ask it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet

from comments.models import Site
from moderation import policy
from moderation.languages import language_allowed
from moderation.models import SitePolicy
from moderation.roles import ALL_SITES_PERMISSION
from moderation.scoring import get_scorer

logger = logging.getLogger(__name__)
_Row = TypeVar("_Row", bound=Model)


def site_policy(*, site: Site) -> SitePolicy:
    """The site's policy (created with the site; made here for a site that has none yet)."""
    try:
        return site.policy
    except SitePolicy.DoesNotExist:
        found, _ = SitePolicy.objects.get_or_create(site=site)
        site.policy = found
        return found


# model_default_thresholds for the scorer it was read from: a new scorer (a promotion) reads them again.
_model_defaults: list[tuple[object, tuple[tuple[str, ...], dict[str, policy.Threshold | None]]]] = []


def model_default_thresholds() -> tuple[tuple[str, ...], dict[str, policy.Threshold | None]]:
    """(the attributes the active models produce, the defaults their artifacts carry).

    A model that carries defaults maps each attribute it produces without one to None: it was
    released holding on none of them, and the code's defaults (chosen for a later model) stay out.
    """
    scorer = get_scorer()
    if _model_defaults and _model_defaults[0][0] is scorer:
        return _model_defaults[0][1]
    produced = tuple(attribute for attributes in scorer.attributes.values() for attribute in attributes)
    defaults: dict[str, policy.Threshold | None] = {}
    for name, model in scorer.models.items():
        raw = model.meta.get("default_thresholds")
        if raw:
            try:
                carried = policy.thresholds_from_json(raw)
            except ValueError as exc:
                logger.error("%s: unusable default_thresholds, using the code's: %s", model.version, exc)
                continue
            defaults |= dict.fromkeys(scorer.attributes[name]) | carried
    _model_defaults[:] = [(scorer, (produced, defaults))]
    return produced, defaults


def site_thresholds(
    *, site: Site, overrides: Mapping[str, policy.Threshold] | None = None
) -> dict[str, policy.Threshold]:
    """The thresholds that decide this site's comments now: the site's own value, else the active
    model's default, else the code's (``policy.thresholds_effective``).

    ``overrides``: thresholds the site does not have yet, taken as its own (the "what if" replay asks
    what they would decide).
    """
    try:
        own = policy.thresholds_from_json(site_policy(site=site).thresholds)
    except ValueError as exc:  # the admin validates; a row written some other way is not trusted
        logger.error("site %s: unreadable thresholds, using the defaults: %s", site.public_key, exc)
        own = {}
    produced, defaults = model_default_thresholds()
    return policy.thresholds_effective(produced=produced, site=own | dict(overrides or {}), models=defaults)


def moderator_site_ids(*, user: Any) -> set[int] | None:
    """The sites a moderator may see and decide: None for every site (a superuser, or an explicit
    grant of "Can moderate every site"), else the sites whose policy lists them (possibly none:
    a moderator removed from their only site moderates nothing, never everything)."""
    if user.is_superuser or user.has_perm(ALL_SITES_PERMISSION):
        return None
    return set(SitePolicy.objects.filter(moderators=user).values_list("site_id", flat=True))


def site_scoped(queryset: QuerySet[_Row], *, user: Any, site_field: str) -> QuerySet[_Row]:
    """The one rule every moderator-facing list applies: only the rows of the sites they moderate.

    ``site_field`` is the path from the rows to their site's id, e.g. ``"thread__site_id"``.
    """
    site_ids = moderator_site_ids(user=user)
    return queryset if site_ids is None else queryset.filter(**{f"{site_field}__in": site_ids})


def moderator_check(*, actor: Any, site_id: int, language: str | None = None, script: str = "") -> None:
    """Refuse a decision by someone who is not a moderator of this site, or (with the comment's
    ``language`` and ``script``) who is limited to other languages than the comment's."""
    if not actor.has_perm("comments.can_moderate"):
        raise PermissionDenied("Only moderators can decide comments.")
    allowed = moderator_site_ids(user=actor)
    if allowed is not None and site_id not in allowed:
        raise PermissionDenied("This moderator does not moderate this site.")
    if language is not None and not language_allowed(user=actor, language=language, script=script):
        raise PermissionDenied("This moderator does not moderate comments in this language.")


def comment_moderator_check(*, actor: Any, comment: Any) -> None:
    """Refuse a decision about this comment by someone who does not moderate its site and language."""
    moderator_check(actor=actor, site_id=comment.thread.site_id, language=comment.language, script=comment.script)


def moderator_sees(*, user: Any, site_id: int, language: str | None = None, script: str = "") -> bool:
    """Whether this user sees the scores and reasons of the site's comments (with ``language`` and
    ``script``: of a comment in that language)."""
    if not user.has_perm("comments.can_moderate"):
        return False
    sites = moderator_site_ids(user=user)
    if sites is not None and site_id not in sites:
        return False
    return language is None or language_allowed(user=user, language=language, script=script)
