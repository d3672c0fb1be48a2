"""Restore a backup into a migrated, empty database and this data directory."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moderation import backup


class Command(BaseCommand):
    help = "Restore a backup (manage.py backup) into a migrated, empty database; then restart every process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("source", type=Path, help="The backup's directory.")

    def handle(self, *args: Any, source: Path, **options: Any) -> None:
        try:
            manifest = backup.backup_restore(source=source)
            overridden = backup.keys_overridden(source=source)
        except backup.BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        counts = manifest["counts"]
        self.stdout.write(
            f"Restored {counts['sites']} site(s), {counts['comments']} comment(s) and {counts['model_versions']} "
            f"model version(s) from {source}; restart every process so that it reads the restored keys."
        )
        for variable in overridden:
            self.stderr.write(
                f"{variable} is set in the environment and wins over the restored key: set it to the backup's."
            )
