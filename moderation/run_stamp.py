"""Whether ``make run`` may skip ``manage.py prepare_run``: a stamp of what it last prepared, read without Django.

``prepare_run`` costs about 2 s of CPU even when it has nothing to do (Django, the models and the
migration graph loaded, the static sources listed by the finders). When it has done its work it
writes a stamp in the data directory: a digest of its inputs, the migrations the database then
had, the directories and files it depends on, and the lines it printed. ``python -m
moderation.run_stamp --base-url URL`` (plain Python and SQLite's own module, about 50 ms) prints
those lines again and exits 0 when

- the inputs are unchanged: the base URL, the settings that decide where things are
  (``WATCHED_SETTINGS``), the files of every migrations directory, static source directory and
  the shipped model artifacts (names, sizes, modification times), ``config/settings.py``,
  ``prepare_run`` and ``demo_setup`` themselves, the collection stamp in ``STATIC_ROOT``, the admin
  password and demo key files;
- the database still holds every migration recorded (a database replaced by an older copy, or
  deleted, fails here whatever the stamp says), the admin account, the demo site and a live key.

Otherwise it exits 1, printing nothing, and ``make run`` runs ``prepare_run`` as before, which
removes the stamp first and writes it again once everything is done. A database other than SQLite
always takes the slow path.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP_NAME = "prepare-run.json"
FORMAT = 1
# The environment variables prepare_run's work depends on (the database, where files go, which models),
# with the default of those that have one outside config/settings.py: manage.py sets the settings
# module in its own environment, a user's shell does not.
WATCHED_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": "",
    "MODERATO_DATA_DIR": "",
    "STATIC_ROOT": "",
    "DEBUG": "",
    "MODERATO_ARTIFACTS_DIR": "",
    "MODERATO_TOXICITY_MODEL": "",
    "MODERATO_SPAM_MODEL": "",
}
ADMIN_USERNAME = "admin"
DEMO_SITE = "demo"
# What demo_setup makes sure of, as SQL (tests/moderation/test_run_stamp.py fails if a table is renamed).
DEMO_QUERIES = (
    ("SELECT 1 FROM auth_user WHERE username = ?", (ADMIN_USERNAME,)),
    (
        "SELECT 1 FROM moderation_apikey k JOIN comments_site s ON s.id = k.site_id"
        " WHERE s.public_key = ? AND k.revoked_at IS NULL",
        (DEMO_SITE,),
    ),
)


@dataclass(frozen=True)
class Stamp:
    """What prepare_run left ready; ``inputs`` is ``inputs_digest`` of the rest at that time."""

    inputs: str
    base_url: str
    sqlite_file: str | None  # None: not SQLite, never skipped
    migrations: list[tuple[str, str]]  # (app, name) rows of django_migrations
    directories: list[str]  # walked for names, sizes and modification times
    files: list[str]  # their size and modification time, or their absence
    output: str  # what prepare_run printed
    format: int = FORMAT


def environ_data_dir(environ: Mapping[str, str]) -> Path:
    """The data directory as config/settings.py finds it."""
    return Path(environ.get("MODERATO_DATA_DIR", "").strip() or ROOT / "var")


def _file_entry(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return f"{path}\0absent"
    return f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}"


def _tree_entries(directory: Path) -> Iterable[str]:
    """Every file below ``directory`` with its size and modification time (bytecode caches left out)."""
    if not directory.is_dir():
        yield f"{directory}\0absent"
        return
    for parent, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(name for name in dirnames if name != "__pycache__")
        for name in sorted(filenames):
            yield _file_entry(Path(parent, name))


def inputs_digest(
    *, base_url: str, environ: Mapping[str, str], directories: Iterable[str], files: Iterable[str]
) -> str:
    """A digest of everything prepare_run's result depends on; the secrets are hashed, never stored."""
    digest = hashlib.sha256(f"{FORMAT}\0{base_url}\n".encode())
    for name, default in WATCHED_SETTINGS.items():
        digest.update(f"{name}\0{environ.get(name, '').strip() or default}\n".encode())
    for directory in sorted(set(directories)):
        for entry in _tree_entries(Path(directory)):
            digest.update(entry.encode(errors="surrogateescape") + b"\n")
    for file in sorted(set(files)):
        digest.update(_file_entry(Path(file)).encode(errors="surrogateescape") + b"\n")
    return digest.hexdigest()


def stamp_write(
    *,
    data_dir: Path,
    environ: Mapping[str, str],
    base_url: str,
    sqlite_file: str | None,
    migrations: Iterable[tuple[str, str]],
    directories: Iterable[str],
    files: Iterable[str],
    output: str,
) -> Stamp:
    """Write the stamp (readable by this user only: the output holds the admin password)."""
    directories, files = sorted(set(directories)), sorted(set(files))
    stamp = Stamp(
        inputs=inputs_digest(base_url=base_url, environ=environ, directories=directories, files=files),
        base_url=base_url,
        sqlite_file=sqlite_file,
        migrations=sorted(migrations),
        directories=directories,
        files=files,
        output=output,
    )
    path = data_dir / STAMP_NAME
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        json.dump(asdict(stamp), out)
    partial.replace(path)
    return stamp


def stamp_remove(data_dir: Path) -> None:
    (data_dir / STAMP_NAME).unlink(missing_ok=True)


def stamp_read(data_dir: Path) -> Stamp | None:
    try:
        raw = json.loads((data_dir / STAMP_NAME).read_text())
        if raw.get("format") != FORMAT:
            return None
        raw["migrations"] = [(app, name) for app, name in raw["migrations"]]
        return Stamp(**raw)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # none, or not one this code wrote
        return None


def database_ready(sqlite_file: str, migrations: Iterable[tuple[str, str]]) -> bool:
    """The database holds every recorded migration, the admin account, the demo site and a live key."""
    if not Path(sqlite_file).is_file():
        return False
    try:
        # Read-only: a missing or foreign file is never created or changed here.
        uri = Path(sqlite_file).resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            applied = set(db.execute("SELECT app, name FROM django_migrations"))
            if not set(migrations) <= applied:
                return False
            return all(db.execute(sql, params).fetchone() is not None for sql, params in DEMO_QUERIES)
    except sqlite3.Error:
        return False


def prepared_output(*, data_dir: Path, base_url: str, environ: Mapping[str, str]) -> str | None:
    """What prepare_run printed, if nothing it did needs doing again; else ``None``."""
    stamp = stamp_read(data_dir)
    if stamp is None or stamp.base_url != base_url or stamp.sqlite_file is None:
        return None
    current = inputs_digest(base_url=base_url, environ=environ, directories=stamp.directories, files=stamp.files)
    if current != stamp.inputs or not database_ready(stamp.sqlite_file, stamp.migrations):
        return None
    return stamp.output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moderation.run_stamp",
        description="Print what prepare_run printed and exit 0 if it has nothing to do; exit 1 otherwise.",
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where make run serves the site")
    args = parser.parse_args(argv)
    output = prepared_output(data_dir=environ_data_dir(os.environ), base_url=args.base_url, environ=os.environ)
    if output is None:
        return 1
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
