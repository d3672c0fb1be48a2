"""The languages a moderator reads: a moderator limited to some sees and decides only the comments
in them (``ModeratorLanguages``), as a moderator of some sites sees only theirs (``moderation.sites``)."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from moderation.models import ModeratorLanguages, language_entries

logger = logging.getLogger(__name__)
_Row = TypeVar("_Row", bound=Model)


def moderator_languages(*, user: Any) -> list[tuple[str, str]] | None:
    """The (language, script) pairs a moderator is limited to ("" script: any; "" language: not
    detected), None for every language (no row; a superuser is never limited). Read once per request
    object: the queue's filters, its list and its held count all ask."""
    if user.is_superuser or not user.is_authenticated:
        return None
    cached: list[tuple[str, str]] | bool | None = getattr(user, "_moderator_languages", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    raw = ModeratorLanguages.objects.filter(user_id=user.pk).values_list("languages", flat=True).first()
    try:
        found = None if raw is None else language_entries(raw)
    except ValueError:  # the admin validates; a row written some other way limits to nothing, not to everything
        logger.error("moderator %s: unreadable languages %r, limited to none", user.pk, raw)
        found = []
    user._moderator_languages = found
    return found


def language_q(entries: list[tuple[str, str]], *, comment_field: str = "") -> Q:
    """Comments in one of these (language, script) pairs; ``comment_field`` is the path to the comment."""
    prefix = f"{comment_field}__" if comment_field else ""
    match = Q(pk__in=[])
    for language, script in entries:
        one = Q(**{f"{prefix}language": language})
        match |= one & Q(**{f"{prefix}script": script}) if script else one
    return match


def language_scoped(queryset: QuerySet[_Row], *, user: Any, comment_field: str = "") -> QuerySet[_Row]:
    """Only the rows of comments in the moderator's languages (every row for a moderator not limited)."""
    entries = moderator_languages(user=user)
    return queryset if entries is None else queryset.filter(language_q(entries, comment_field=comment_field))


def language_allowed(*, user: Any, language: str, script: str) -> bool:
    entries = moderator_languages(user=user)
    return entries is None or any(
        language == wanted and (not only_script or script == only_script) for wanted, only_script in entries
    )
