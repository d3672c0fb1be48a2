"""Print (or write) every comment posted with an e-mail address, as the JSON a reader's link gives."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moderation import readers
from moderation.management.commands.erase_commenter import commenter_of


class Command(BaseCommand):
    help = "Export the comments posted with an e-mail address (every site, or --site) as JSON."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", required=True, help="The commenter's e-mail address (any case).")
        parser.add_argument("--site", default=None, help="Only this site (its public key); default every site.")
        parser.add_argument("--output", default=None, help="Write to this file instead of standard output.")

    def handle(self, *args: Any, email: str, site: str | None, output: str | None, **options: Any) -> None:
        export = readers.commenter_export(commenter=commenter_of(email=email, site_key=site))
        text = json.dumps(export, indent=2, ensure_ascii=False)
        if output is None:
            self.stdout.write(text)
            return
        try:
            Path(output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        self.stderr.write(f"{export['count']} comment(s) written to {output}.")
