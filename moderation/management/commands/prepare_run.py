"""What ``make run`` does before it starts the processes, in one process, skipping what is done.

Migrations only when some are unapplied, static files only when a source file changed since the
last collection (a stamp in ``STATIC_ROOT``), the demo site and admin account only when missing.
Prints the admin line and the demo key line; nothing else unless something is wrong (the
supervisor prints the URL once gunicorn listens). Once done, it writes the data directory's run
stamp (``moderation.run_stamp``), with which the next ``make run`` skips this command altogether
while nothing it depends on has changed.
"""

from __future__ import annotations

import hashlib
import os
from io import StringIO
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from ml.artifacts import ArtifactError
from moderation import run_stamp
from moderation.scoring import shipped_models_load

STATIC_STAMP = ".moderato-sources"
IGNORE_PATTERNS = ["CVS", ".*", "*~"]  # collectstatic's defaults


def migrations_unapplied() -> int:
    """How many migrations the database lacks (one graph load; ``migrate --check`` loads it again)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def static_sources() -> tuple[str, set[str]]:
    """A digest of every file collectstatic would copy (path, size, modification time) and the storage,
    and the directories they are found in."""
    digest = hashlib.sha256(str(settings.STORAGES["staticfiles"]["BACKEND"]).encode())
    entries, roots = [], set()
    for finder in get_finders():
        for path, storage in finder.list(IGNORE_PATTERNS):
            stat = Path(storage.path(path)).stat()
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
            roots.add(str(storage.location))
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest(), roots


def migration_directories() -> set[str]:
    """Every installed app's migrations directory: a file added or changed there may need a migrate."""
    return {str(path) for config in apps.get_app_configs() if (path := Path(config.path) / "migrations").is_dir()}


def run_stamp_write(*, base_url: str, static_roots: set[str], output: str) -> None:
    """Record what is now done, for ``python -m moderation.run_stamp`` to check without Django."""
    connection = connections[DEFAULT_DB_ALIAS]
    sqlite = connection.vendor == "sqlite"
    run_stamp.stamp_write(
        data_dir=settings.DATA_DIR,
        environ=os.environ,
        base_url=base_url,
        sqlite_file=str(connection.settings_dict["NAME"]) if sqlite else None,
        migrations=MigrationRecorder(connection).applied_migrations(),
        directories=static_roots | migration_directories() | {str(settings.MODERATO_ARTIFACTS_DIR)},
        files=[
            __file__,  # this command and demo_setup: a new release of either runs them again
            str(Path(__file__).with_name("demo_setup.py")),
            str(settings.BASE_DIR / "config" / "settings.py"),
            str(Path(settings.STATIC_ROOT) / STATIC_STAMP),
            str(settings.DATA_DIR / "admin-password"),
            str(settings.DATA_DIR / "demo-api-key"),
        ],
        output=output,
    )


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
        run_stamp.stamp_remove(settings.DATA_DIR)  # until everything below is done again
        try:
            shipped_models_load()
        except (ArtifactError, OSError) as exc:
            raise CommandError(f"The shipped models cannot be loaded, not starting: {exc}") from exc
        if migrations_unapplied():
            call_command("migrate", interactive=False, verbosity=0)
        digest, static_roots = static_sources()
        if not static_files_current(digest):
            call_command("collectstatic", interactive=False, verbosity=0)
            (Path(settings.STATIC_ROOT) / STATIC_STAMP).write_text(digest + "\n")
        output = StringIO()
        call_command("demo_setup", base_url=base_url, stdout=output, stderr=self.stderr)
        self.stdout.write(output.getvalue(), ending="")
        run_stamp_write(base_url=base_url, static_roots=static_roots, output=output.getvalue())
