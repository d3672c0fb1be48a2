"""What the import commands share: the arguments, the site, one line for a bad file (exit status 2)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comments.models import Site
from moderation import importing

BAD_INPUT = 2


class ImportCommand(BaseCommand):
    source = ""  # a key of importing.READERS
    what = ""  # the file, as the help names it

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path, help=f"The {self.what}.")
        parser.add_argument("--site", required=True, help="The public key of the site to import into, e.g. demo.")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be created; change nothing.")
        parser.add_argument(
            "--score",
            action="store_true",
            help="Let the scoring pipeline decide the comments the source published or held (in the background, "
            "in batches); without it they keep the source's decision.",
        )
        parser.add_argument(
            "--keep-urls",
            action="store_true",
            help="Thread keys are the pages' full URLs (default: their paths, the widget's default data-thread).",
        )

    def handle(
        self, *args: Any, file: Path, site: str, dry_run: bool, score: bool, keep_urls: bool, **options: Any
    ) -> None:
        found = Site.objects.filter(public_key=site).first()
        if found is None:
            raise CommandError(f"No site has the public key {site!r}.", returncode=BAD_INPUT)
        try:
            report = importing.comments_import(
                site=found,
                records=importing.READERS[self.source](file),
                source=self.source,
                dry_run=dry_run,
                score=score,
                keep_urls=keep_urls,
            )
        except importing.ImportFileError as exc:
            raise CommandError(f"{file}: {exc}", returncode=BAD_INPUT) from None
        if options["verbosity"] >= 2:
            for key in report.threads_created:
                self.stdout.write(f"thread {key}")
            for external_id, key, status in report.planned:
                self.stdout.write(f"comment {external_id} {key} {status}")
        self.stdout.write(report.summary())
