"""Moderators' API tokens: issued, revoked, and checked on each request to the moderation API.

A token acts as its user, so the user's sites and languages bound what it sees and decides, and a
moderator who loses the permission loses the token's use with it. Keys are long random strings
(``mtk_`` and 48 hex digits): only a SHA-256 hash and a short prefix are stored, the key is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from moderation.models import ModeratorToken

KEY_PREFIX = "mtk_"
VISIBLE_CHARACTERS = 12  # "mtk_" and 8 hex digits: enough to tell tokens apart, useless to guess
# last_used_at is written at most this often per token: a tool polling the queue costs no write per request.
LAST_USED_EVERY = timedelta(minutes=5)
MODERATE_PERMISSION = "comments.can_moderate"


def token_key_hash(*, key: str) -> str:
    return hashlib.sha256(key.strip().encode("utf-8", "replace")).hexdigest()


def token_holder_check(*, user: Any) -> None:
    """Refuse a token for someone the moderation API would refuse: only active staff who may moderate."""
    if not (user.is_active and user.is_staff and user.has_perm(MODERATE_PERMISSION)):
        message = f"{user} is not an active staff member who may moderate (the moderators group): the API would refuse"
        raise ValidationError({"user": f"{message} the token."})


def moderator_token_issue(*, token: ModeratorToken) -> str:
    """Give an unsaved token a new key, save it, and return the key (shown once, never stored)."""
    token_holder_check(user=token.user)
    key = KEY_PREFIX + secrets.token_hex(24)
    token.prefix = key[:VISIBLE_CHARACTERS]
    token.key_hash = token_key_hash(key=key)
    token.save()
    return key


def moderator_token_create(*, user: Any, name: str = "") -> tuple[ModeratorToken, str]:
    """Create a token for a moderator; return the row and the key itself."""
    token = ModeratorToken(user=user, name=name)
    return token, moderator_token_issue(token=token)


def moderator_tokens_revoke(*, token_ids: list[int]) -> int:
    """Revoke tokens; return how many were active."""
    return ModeratorToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True).update(revoked_at=timezone.now())


def moderator_token_authenticate(*, key: str) -> ModeratorToken | None:
    """The active token with this key, with its (active) user, or None; notes its use (at most every
    LAST_USED_EVERY)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    token = (
        ModeratorToken.objects.select_related("user")
        .filter(key_hash=token_key_hash(key=key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_EVERY:
            ModeratorToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class ModeratorTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer mtk_...``; without that header the next authenticator (the session) is tried.

    Its ``authenticate_header`` makes a request with no credentials a 401 rather than a 403.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ModeratorToken] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != self.keyword.lower().encode():
            return None
        if len(words) != 2:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>', one word after Bearer.")
        try:
            key = words[1].decode("ascii")
        except UnicodeError:
            raise AuthenticationFailed("Not a valid moderator token.") from None
        token = moderator_token_authenticate(key=key)
        if token is None:
            raise AuthenticationFailed("Not a valid moderator token (unknown, revoked, or its user is inactive).")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="moderation"'


class ModeratorTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The token in the OpenAPI schema, as ``moderatorToken`` (HTTP bearer)."""

    target_class = ModeratorTokenAuthentication
    name = "moderatorToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A moderator's token (`manage.py create_moderator_token --user NAME`, or the admin's "
            "*Moderators' API tokens*), sent as `Authorization: Bearer mtk_...`. It acts as its user: their sites "
            "and languages.",
        }
