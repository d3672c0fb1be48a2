"""What ``make run`` does before it starts the processes, in one process, skipping what is done.

Migrations only when some are unapplied, static files only when a source file changed since the
last collection (a stamp in ``STATIC_ROOT``), the demo site and admin account only when missing.
Prints the admin line and the demo key line; nothing else unless something is wrong (the
supervisor prints the URL once gunicorn listens).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from ml.artifacts import ArtifactError
from moderation.scoring import shipped_models_load

STATIC_STAMP = ".moderato-sources"
IGNORE_PATTERNS = ["CVS", ".*", "*~"]  # collectstatic's defaults


def migrations_unapplied() -> int:
    """How many migrations the database lacks (one graph load; ``migrate --check`` loads it again)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def static_sources_digest() -> str:
    """A digest of every file collectstatic would copy (path, size, modification time) and the storage."""
    digest = hashlib.sha256(str(settings.STORAGES["staticfiles"]["BACKEND"]).encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(IGNORE_PATTERNS):
            stat = Path(storage.path(path)).stat()
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def static_files_current(digest: str) -> bool:
    stamp = Path(settings.STATIC_ROOT) / STATIC_STAMP
    return stamp.exists() and stamp.read_text().strip() == digest


class Command(BaseCommand):
    help = "Migrate, collect static files and create the demo site, each only if needed; print how to log in."
    # Only the check that matters before starting (the models load, below): the full system checks
    # import the URL configuration and the admin's, a second or more that every start would pay.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where make run serves the site")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        try:
            shipped_models_load()
        except (ArtifactError, OSError) as exc:
            raise CommandError(f"The shipped models cannot be loaded, not starting: {exc}") from exc
        if migrations_unapplied():
            call_command("migrate", interactive=False, verbosity=0)
        digest = static_sources_digest()
        if not static_files_current(digest):
            call_command("collectstatic", interactive=False, verbosity=0)
            (Path(settings.STATIC_ROOT) / STATIC_STAMP).write_text(digest + "\n")
        call_command("demo_setup", base_url=base_url, stdout=self.stdout, stderr=self.stderr)
