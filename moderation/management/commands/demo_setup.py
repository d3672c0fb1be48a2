"""Create the demo site and an admin account for the embedded default; safe to run again."""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from comments.models import Site
from moderation.compat.models import ApiKey
from moderation.compat.services import api_key_create


def demo_origins(base_url: str) -> list[str]:
    """The origins the demo page is served from: ``base_url``'s, and its localhost twin."""
    parts = urlsplit(base_url)
    origins = [f"{parts.scheme}://{parts.netloc}"]
    if parts.hostname in {"127.0.0.1", "localhost"}:
        port = f":{parts.port}" if parts.port else ""
        origins = [f"{parts.scheme}://127.0.0.1{port}", f"{parts.scheme}://localhost{port}"]
    return origins


class Command(BaseCommand):
    help = "Create the demo site (public key 'demo') and an admin account, and print how to log in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, username: str, base_url: str, **options: Any) -> None:
        origins = demo_origins(base_url)
        site, created = Site.objects.get_or_create(
            public_key="demo", defaults={"name": "Demo site", "allowed_origins": origins}
        )
        if created and options["verbosity"] > 1:
            self.stdout.write(f"Created the demo site {site}.")
        missing = [origin for origin in origins if origin not in site.allowed_origins]
        if missing:  # make run on another PORT: its demo page must be allowed too (the others stay)
            site.allowed_origins = [*site.allowed_origins, *missing]
            site.save(update_fields=["allowed_origins"])
        password_file = settings.DATA_DIR / "admin-password"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                user = User.objects.create_superuser(username=username, email="", password=password)
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            password_file.touch(mode=0o600)
            password_file.write_text(password)
        password = password_file.read_text().strip()
        self.stdout.write(f"Admin: {base_url.rstrip('/')}/admin/ user {username} password {password}")
        self.stdout.write(f"API key of the demo site (Perspective / Akismet APIs): {self.demo_api_key(site)}")

    def demo_api_key(self, site: Site) -> str:
        """Create the demo site's key once; keys are stored hashed, so keep this one in the data directory."""
        key_file = settings.DATA_DIR / "demo-api-key"
        if key_file.exists() and ApiKey.objects.filter(site=site, revoked_at=None).exists():
            return key_file.read_text().strip()
        _, key = api_key_create(site=site, name="make run demo")
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key
