"""Revoke moderators' tokens of the moderation API: one by its prefix, or every token of a user."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moderation.models import ModeratorToken
from moderation.moderator_tokens import moderator_tokens_revoke


class Command(BaseCommand):
    help = "Revoke a moderation API token (--prefix, as the admin lists it) or every token of a user (--user)."

    def add_arguments(self, parser: Any) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--prefix", help="The token's first characters, e.g. mtk_7d2a51c0.")
        which.add_argument("--user", help="A username: revoke every token of theirs.")

    def handle(self, *args: Any, prefix: str | None, user: str | None, **options: Any) -> None:
        tokens = ModeratorToken.objects.filter(revoked_at__isnull=True)
        tokens = tokens.filter(prefix=prefix) if prefix is not None else tokens.filter(user__username=user)
        ids = list(tokens.values_list("pk", flat=True))
        if not ids:
            raise CommandError(f"No active token {'has the prefix ' + repr(prefix) if prefix else 'of ' + repr(user)}.")
        self.stdout.write(f"Revoked {moderator_tokens_revoke(token_ids=ids)} token(s).")
