"""Back up and restore an instance: the database, the model versions stored in it, and the keys.

A backup is a directory: ``database.backup-json.gz`` (gzipped ``dumpdata`` of every table but the ones ``migrate``
fills by itself; the model versions and their artifact files are rows, ``moderation.model_store``),
``secrets/`` (the ``SECRET_KEY`` and the address-hash key in use, mode 0600) and ``manifest.json``
(the migrations the dump was made at, row counts, the dump's SHA-256). Restoring loads it into a
migrated, empty database and writes the keys into this data directory; the processes read the keys
when they start, so they are restarted after a restore. Redis holds only caches and queued tasks:
the sweep re-queues pending comments.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from comments.models import Comment, Site
from moderation.models import ModelArtifactFile, ModelVersion

FORMAT = 1
DATABASE_FILE = "database.backup-json.gz"  # moderation.backup_json
MANIFEST_FILE = "manifest.json"
SECRETS_DIR = "secrets"
# migrate fills these by itself; sessions are logins, not data worth restoring.
EXCLUDED = ["contenttypes", "auth.permission", "sessions", "admin.logentry"]
COUNTED: dict[str, type[models.Model]] = {
    "sites": Site,
    "comments": Comment,
    "model_versions": ModelVersion,
    "model_files": ModelArtifactFile,
}


class BackupError(Exception):
    """A backup that cannot be written or restored; the message is one line for the operator."""


@dataclass(frozen=True)
class KeyFile:
    name: str  # the file's name in the backup's secrets/ and in the data directory
    setting: str
    file_setting: str  # the settings name of its path in the data directory
    variables: tuple[str, ...]  # environment variables that set it instead of the file


KEYS = (
    KeyFile("secret-key", "SECRET_KEY", "SECRET_KEY_FILE", ("SECRET_KEY",)),
    KeyFile(
        "address-hash-key",
        "MODERATO_ADDRESS_HASH_KEY",
        "ADDRESS_HASH_KEY_FILE",
        ("MODERATO_ADDRESS_HASH_KEY", "MODERATO_IP_HASH_KEY"),
    ),
)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def applied_migrations() -> dict[str, list[str]]:
    """Each app's applied migrations, sorted: a dump only loads into the schema it was made from."""
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connections[DEFAULT_DB_ALIAS]).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def row_counts() -> dict[str, int]:
    return {name: model._default_manager.count() for name, model in COUNTED.items()}


def key_write(path: Path, value: str) -> None:
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(value)


def backup_write(*, output: Path) -> dict[str, Any]:
    """Write a backup into ``output``, a new or empty directory; return its manifest."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupError(f"{output} exists and is not an empty directory.")
    try:
        output.mkdir(parents=True, exist_ok=True)
        (output / SECRETS_DIR).mkdir(mode=0o700)
    except OSError as exc:
        raise BackupError(f"{output}: {exc.strerror or exc}") from None
    database = output / DATABASE_FILE
    call_command(
        "dumpdata",
        format="backup-json",
        exclude=EXCLUDED,
        natural_foreign=True,
        natural_primary=True,
        output=str(database),
        verbosity=0,
    )
    for key in KEYS:
        key_write(output / SECRETS_DIR / key.name, getattr(settings, key.setting))
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "database_vendor": connections[DEFAULT_DB_ALIAS].vendor,
        "migrations": applied_migrations(),
        "counts": row_counts(),
        "database_sha256": file_sha256(database),
        "keys_from_environment": [key.name for key in KEYS if any(os.environ.get(v) for v in key.variables)],
    }
    (output / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def manifest_read(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} has no {MANIFEST_FILE}: not a Moderato backup.") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST_FILE}: unreadable ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST_FILE}: not a backup of format {FORMAT}.")
    return manifest


def backup_check(*, source: Path) -> dict[str, Any]:
    """Read and check a backup (its dump's hash, its keys, its migrations against this code's); its manifest."""
    manifest = manifest_read(source)
    database = source / DATABASE_FILE
    if not database.is_file() or file_sha256(database) != manifest.get("database_sha256"):
        raise BackupError(f"{database} is missing or differs from the SHA-256 in the manifest.")
    for key in KEYS:
        if not (source / SECRETS_DIR / key.name).is_file():
            raise BackupError(f"{source / SECRETS_DIR / key.name} is missing.")
    connection = connections[DEFAULT_DB_ALIAS]
    if MigrationExecutor(connection).migration_plan(MigrationExecutor(connection).loader.graph.leaf_nodes()):
        raise BackupError("The database is not migrated: run manage.py migrate first.")
    if manifest.get("migrations") != applied_migrations():
        raise BackupError(
            "The backup was made at other migrations than this release's: restore it with the release that "
            "made it, then upgrade."
        )
    return manifest


def database_empty() -> bool:
    return not (Site.objects.exists() or Comment.objects.exists() or get_user_model().objects.exists())


def backup_restore(*, source: Path) -> dict[str, Any]:
    """Restore a backup into this migrated, empty database and this data directory; its manifest.

    Each key is written to the data directory (a different key already there is kept next to it as
    ``<name>.before-restore``); a key set in the environment wins over the file, so the operator sets it there.
    """
    manifest = backup_check(source=source)
    if not database_empty():
        raise BackupError("The database is not empty (sites, comments or users): restore into a new database.")
    with transaction.atomic():  # a failed check leaves the database empty
        call_command("loaddata", str(source / DATABASE_FILE), verbosity=0)
        counts = row_counts()
        if counts != manifest["counts"]:
            raise BackupError(f"Restored {counts}, the backup has {manifest['counts']}.")
        for file in ModelArtifactFile.objects.only("content", "sha256", "name").iterator():
            if hashlib.sha256(bytes(file.content)).hexdigest() != file.sha256:
                raise BackupError(f"Model file {file.name} (id {file.pk}) differs from its SHA-256.")
    for key in KEYS:
        value = (source / SECRETS_DIR / key.name).read_text().strip()
        target = Path(getattr(settings, key.file_setting))
        if target.exists() and target.read_text().strip() != value:
            previous = target.with_name(f"{target.name}.before-restore")
            previous.unlink(missing_ok=True)
            target.rename(previous)
        key_write(target, value)
    return manifest


def keys_overridden(*, source: Path) -> list[str]:
    """The environment variables set on this process that differ from the backup's keys (they win)."""
    overridden = []
    for key in KEYS:
        value = (source / SECRETS_DIR / key.name).read_text().strip()
        for variable in key.variables:
            if os.environ.get(variable) and os.environ[variable] != value:
                overridden.append(variable)
    return overridden
