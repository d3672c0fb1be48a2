"""The held count in the admin's header: one COUNT per moderator's set of sites and languages, kept a few seconds."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.cache import cache

from comments.models import Comment
from moderation import languages, sites

register = template.Library()
HELD_COUNT_SECONDS = 15


def held_count(*, user: Any) -> int | None:
    """The held comments this moderator can decide; None for someone who moderates nothing."""
    if not user.is_authenticated or not user.has_perm("comments.can_moderate"):
        return None
    site_ids = sites.moderator_site_ids(user=user)
    reads = languages.moderator_languages(user=user)
    key = "moderato:held:" + ("all" if site_ids is None else ",".join(map(str, sorted(site_ids))))
    if reads is not None:
        key += ":" + ",".join(sorted(f"{code}-{script}" for code, script in reads))
    count: int | None = cache.get(key)
    if count is None:
        held = Comment.objects.filter(status=Comment.Status.HELD)
        held = languages.language_scoped(held, user=user)
        count = sites.site_scoped(held, user=user, site_field="thread__site_id").count()
        cache.set(key, count, HELD_COUNT_SECONDS)
    return count


@register.inclusion_tag("moderation/admin/held_count.html", takes_context=True)
def held_link(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    return {"count": held_count(user=request.user) if request is not None else None}
