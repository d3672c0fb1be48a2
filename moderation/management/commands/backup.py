"""Write a backup of this instance: database, model versions and keys (README, "Backup and restore")."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moderation import backup


class Command(BaseCommand):
    help = "Back up the database (model versions included) and the keys into a new directory; restore reads it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", type=Path, required=True, help="A new or empty directory.")

    def handle(self, *args: Any, output: Path, **options: Any) -> None:
        try:
            manifest = backup.backup_write(output=output)
        except backup.BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        counts = manifest["counts"]
        self.stdout.write(
            f"Backed up {counts['sites']} site(s), {counts['comments']} comment(s), {counts['model_versions']} "
            f"model version(s) and the keys to {output} (secrets/ holds the keys: keep it private)."
        )
