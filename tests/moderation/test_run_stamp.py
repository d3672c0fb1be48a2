"""The run stamp: ``make run`` skips prepare_run only while nothing it did needs doing again."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from comments.models import Site
from moderation import run_stamp
from moderation.compat.models import ApiKey

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "http://127.0.0.1:8123"


@pytest.fixture
def sources(tmp_path) -> dict[str, Path]:
    """A migrations directory and a static directory, as prepare_run records them."""
    migrations, static = tmp_path / "app" / "migrations", tmp_path / "app" / "static"
    migrations.mkdir(parents=True)
    static.mkdir(parents=True)
    (migrations / "0001_initial.py").write_text("# the first\n")
    (static / "widget.js").write_text("// the widget\n")
    return {"migrations": migrations, "static": static}


def digest(sources: dict[str, Path], environ: dict[str, str] | None = None, base_url: str = BASE_URL) -> str:
    return run_stamp.inputs_digest(
        base_url=base_url,
        environ=environ or {},
        directories=[str(sources["migrations"]), str(sources["static"])],
        files=[str(sources["static"].parent / "password")],
    )


def test_it_changes_the_digest_when_a_migration_or_a_static_file_is_added_or_changed(sources):
    before = digest(sources)
    assert digest(sources) == before
    (sources["migrations"] / "0002_more.py").write_text("# the second\n")
    after_migration = digest(sources)
    assert after_migration != before
    (sources["static"] / "sub").mkdir()
    (sources["static"] / "sub" / "page.css").write_text("p {}\n")
    after_static = digest(sources)
    assert after_static != after_migration
    (sources["static"] / "widget.js").write_text("// the widget, longer\n")
    assert digest(sources) != after_static


def test_it_ignores_bytecode_caches_but_not_a_watched_file_appearing(sources):
    before = digest(sources)
    (sources["migrations"] / "__pycache__").mkdir()
    (sources["migrations"] / "__pycache__" / "0001_initial.cpython-311.pyc").write_bytes(b"\0")
    assert digest(sources) == before
    (sources["static"].parent / "password").write_text("secret\n")
    assert digest(sources) != before


def test_it_changes_the_digest_with_the_settings_that_matter_and_the_base_url(sources):
    before = digest(sources, {"LOG_LEVEL": "INFO"})
    assert digest(sources, {"LOG_LEVEL": "DEBUG"}) == before
    assert digest(sources, {"DATABASE_URL": "sqlite:////tmp/other.sqlite3"}) != before
    assert digest(sources, {"STATIC_ROOT": "/tmp/static"}) != before
    assert digest(sources, {"DJANGO_SETTINGS_MODULE": "config.settings"}) == before  # the default
    assert digest(sources, {"DJANGO_SETTINGS_MODULE": "config.other"}) != before
    assert digest(sources, base_url="http://127.0.0.1:8124") != before


@dataclass(frozen=True)
class Prepared:
    output: str  # what prepare_run printed
    data_dir: Path
    environ: dict[str, str]  # make run's environment: the stamp's digest holds its settings


@pytest.fixture
def prepared(tmp_path) -> Prepared:
    """prepare_run once, as make run runs it: its own process, its own data directory and its own SQLite
    database (the fast path reads SQLite), whatever database this test run uses."""
    data_dir = tmp_path / "var"
    environ = {name: value for name, value in os.environ.items() if name not in {"DATABASE_URL", "REDIS_URL"}}
    environ |= {"MODERATO_DATA_DIR": str(data_dir), "STATIC_ROOT": str(tmp_path / "static"), "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "manage.py", "prepare_run", "--base-url", BASE_URL],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Prepared(output=done.stdout, data_dir=data_dir, environ=environ)


def fast_path(prepared: Prepared, base_url: str = BASE_URL) -> str | None:
    return run_stamp.prepared_output(data_dir=prepared.data_dir, base_url=base_url, environ=prepared.environ)


def sql(prepared: Prepared, statement: str, *params: object) -> None:
    """Change the instance's SQLite database itself, as its owner would (the test run's database is another)."""
    stamp = run_stamp.stamp_read(prepared.data_dir)
    assert stamp is not None and stamp.sqlite_file is not None
    with contextlib.closing(sqlite3.connect(stamp.sqlite_file)) as database, database:
        database.execute(statement, params)


def test_it_prints_what_prepare_run_printed_while_nothing_changed(prepared):
    assert prepared.output.startswith(f"Admin: {BASE_URL}/admin/ user admin password ")
    assert fast_path(prepared) == prepared.output
    assert fast_path(prepared, "http://127.0.0.1:8124") is None  # another PORT: demo origins to add


def test_the_command_prints_the_lines_and_exits_0_or_exits_1_silently(prepared):
    # A shell's environment: no DJANGO_SETTINGS_MODULE, which manage.py set when it wrote the stamp.
    env = {name: value for name, value in prepared.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "-m", "moderation.run_stamp", "--base-url", BASE_URL]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, prepared.output, "")
    assert (
        "django"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, moderation.run_stamp; print(sorted(sys.modules))"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    (prepared.data_dir / "demo-api-key").unlink()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")


def test_a_database_without_a_recorded_migration_is_never_skipped(prepared):
    """A database restored from an older copy, or a new one, lacks migrations the stamp recorded."""
    stamp = run_stamp.stamp_read(prepared.data_dir)
    assert stamp is not None and ("moderation", "0001_initial") in stamp.migrations
    run_stamp.stamp_write(
        data_dir=prepared.data_dir,
        environ=prepared.environ,
        base_url=BASE_URL,
        sqlite_file=stamp.sqlite_file,
        migrations=[*stamp.migrations, ("moderation", "9999_not_applied")],
        directories=stamp.directories,
        files=stamp.files,
        output=stamp.output,
    )
    assert fast_path(prepared) is None
    assert not run_stamp.database_ready(str(prepared.data_dir / "missing.sqlite3"), stamp.migrations)
    assert not (prepared.data_dir / "missing.sqlite3").exists()


@pytest.mark.parametrize("change", ["key revoked", "site deleted", "admin deleted"])
def test_it_takes_the_slow_path_when_the_demo_is_incomplete(prepared, change):
    assert fast_path(prepared) == prepared.output
    if change == "key revoked":
        sql(prepared, f"UPDATE {ApiKey._meta.db_table} SET revoked_at = ?", timezone.now().isoformat())
    elif change == "site deleted":
        sql(prepared, f"DELETE FROM {Site._meta.db_table} WHERE public_key = 'demo'")
    else:
        sql(prepared, f"DELETE FROM {get_user_model()._meta.db_table} WHERE username = 'admin'")
    assert fast_path(prepared) is None


def test_prepare_run_removes_the_stamp_before_it_works_and_writes_it_after(prepared, settings, monkeypatch):
    def failing(*args, **kwargs):
        raise RuntimeError("migrate failed")

    from moderation.management.commands import prepare_run

    settings.DATA_DIR = prepared.data_dir
    assert run_stamp.stamp_read(prepared.data_dir) is not None
    monkeypatch.setattr(prepare_run, "migrations_unapplied", lambda: 1)
    monkeypatch.setattr(prepare_run, "call_command", failing)
    with pytest.raises(RuntimeError):
        call_command("prepare_run", base_url=BASE_URL)
    assert run_stamp.stamp_read(prepared.data_dir) is None
    assert fast_path(prepared) is None


def test_a_database_other_than_sqlite_always_takes_the_slow_path(tmp_path):
    run_stamp.stamp_write(
        data_dir=tmp_path,
        environ={},
        base_url=BASE_URL,
        sqlite_file=None,
        migrations=[],
        directories=[],
        files=[],
        output="Admin: ...\n",
    )
    assert (tmp_path / run_stamp.STAMP_NAME).stat().st_mode & 0o777 == 0o600
    assert run_stamp.prepared_output(data_dir=tmp_path, base_url=BASE_URL, environ={}) is None


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"format": 1}', "not JSON"])
def test_a_missing_or_unreadable_stamp_takes_the_slow_path(tmp_path, text):
    (tmp_path / run_stamp.STAMP_NAME).write_text(text)
    assert run_stamp.prepared_output(data_dir=tmp_path, base_url=BASE_URL, environ={}) is None
    assert run_stamp.prepared_output(data_dir=tmp_path / "none", base_url=BASE_URL, environ={}) is None
