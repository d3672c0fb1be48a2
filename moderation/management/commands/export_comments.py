"""Write a site's comments as Moderato's JSON or as a WordPress export (WXR)."""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from moderation import exporting


class Command(BaseCommand):
    help = "Export a site's threads and comments as JSON (import_json reads it) or WXR (WordPress, import_wordpress)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site", required=True, help="The site's public key, e.g. demo.")
        parser.add_argument("--format", choices=exporting.FORMATS, default="json")
        parser.add_argument("--output", type=Path, help="The file to write (default: standard output).")
        parser.add_argument(
            "--base-url",
            default="",
            help="WXR: put this in front of thread keys that are paths, e.g. https://news.example.org.",
        )

    def handle(self, *args: Any, site: str, format: str, output: Path | None, base_url: str, **options: Any) -> None:
        found = Site.objects.filter(public_key=site).first()
        if found is None:
            raise CommandError(f"No site has the public key {site!r}.", returncode=2)
        try:
            out = output.open("w", encoding="utf-8") if output else sys.stdout
        except OSError as exc:
            raise CommandError(f"{output}: {exc.strerror or exc}", returncode=2) from None
        try:
            if format == "json":
                count = exporting.comments_export_json(site=found, out=out)
            else:
                count = exporting.comments_export_wxr(site=found, out=out, base_url=base_url)
        finally:
            if output:
                out.close()
        if output:
            self.stdout.write(f"Exported {count} comment(s) of {found.public_key} to {output}.")
