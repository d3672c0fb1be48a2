"""Create a moderator's token for the moderation API and print it."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from moderation.moderator_tokens import moderator_token_create


class Command(BaseCommand):
    help = (
        "Create a token for the moderation API (/api/v1/moderation/) acting as a staff moderator, and print it; "
        "it is not shown again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="The moderator's username.")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'newsroom desk'.")

    def handle(self, *args: Any, user: str, name: str, **options: Any) -> None:
        holder = get_user_model().objects.filter(username=user).first()
        if holder is None:
            raise CommandError(f"No user is called {user!r}.")
        try:
            _, key = moderator_token_create(user=holder, name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(key)
