"""Create an API key for the Perspective- and Akismet-compatible APIs and print it."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from moderation.compat.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a site (its public key) and print the key; it is not shown again."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site", required=True, help="The site's public key, e.g. demo.")
        parser.add_argument("--name", default="", help="What the key is for, e.g. 'Coral Talk'.")
        parser.add_argument("--requests-per-minute", type=int, default=None, help="Rate limit (0: none).")

    def handle(self, *args: Any, site: str, name: str, requests_per_minute: int | None, **options: Any) -> None:
        found = Site.objects.filter(public_key=site).first()
        if found is None:
            raise CommandError(f"No site has the public key {site!r}.")
        if requests_per_minute is not None and requests_per_minute < 0:
            raise CommandError("--requests-per-minute must be 0 (no limit) or more.")
        _, key = api_key_create(site=found, name=name, requests_per_minute=requests_per_minute)
        self.stdout.write(key)
