"""The run stamp: ``make run`` skips prepare_run only while nothing it did needs doing again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from comments.models import Site
from moderation import run_stamp
from moderation.compat.models import ApiKey

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "http://127.0.0.1:8123"

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the fast path reads SQLite; other databases always run prepare_run"
)


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


@pytest.fixture
def prepared(transactional_db, settings, tmp_path, capsys, monkeypatch) -> str:
    """prepare_run once, in a data directory of its own (the environment says so too, as under make
    run: the stamp's digest holds these settings); what it printed."""
    settings.DATA_DIR = tmp_path / "var"
    settings.DATA_DIR.mkdir()
    settings.STATIC_ROOT = tmp_path / "static"
    monkeypatch.setenv("MODERATO_DATA_DIR", str(settings.DATA_DIR))
    monkeypatch.setenv("STATIC_ROOT", str(settings.STATIC_ROOT))
    call_command("prepare_run", base_url=BASE_URL)
    return capsys.readouterr().out


def fast_path(settings, base_url: str = BASE_URL) -> str | None:
    return run_stamp.prepared_output(data_dir=settings.DATA_DIR, base_url=base_url, environ=os.environ)


@sqlite_only
def test_it_prints_what_prepare_run_printed_while_nothing_changed(prepared, settings):
    assert prepared.startswith(f"Admin: {BASE_URL}/admin/ user admin password ")
    assert fast_path(settings) == prepared
    assert fast_path(settings, "http://127.0.0.1:8124") is None  # another PORT: demo origins to add


@sqlite_only
def test_the_command_prints_the_lines_and_exits_0_or_exits_1_silently(prepared, settings):
    # A shell's environment: no DJANGO_SETTINGS_MODULE, which manage.py set when it wrote the stamp.
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "config.settings"
    command = [sys.executable, "-m", "moderation.run_stamp", "--base-url", BASE_URL]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, prepared, "")
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
    (settings.DATA_DIR / "demo-api-key").unlink()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")


@sqlite_only
def test_a_database_without_a_recorded_migration_is_never_skipped(prepared, settings):
    """A database restored from an older copy, or a new one, lacks migrations the stamp recorded."""
    stamp = run_stamp.stamp_read(settings.DATA_DIR)
    assert stamp is not None and ("moderation", "0001_initial") in stamp.migrations
    run_stamp.stamp_write(
        data_dir=settings.DATA_DIR,
        environ=os.environ,
        base_url=BASE_URL,
        sqlite_file=stamp.sqlite_file,
        migrations=[*stamp.migrations, ("moderation", "9999_not_applied")],
        directories=stamp.directories,
        files=stamp.files,
        output=stamp.output,
    )
    assert fast_path(settings) is None
    assert not run_stamp.database_ready(str(settings.DATA_DIR / "missing.sqlite3"), stamp.migrations)
    assert not (settings.DATA_DIR / "missing.sqlite3").exists()


@sqlite_only
@pytest.mark.parametrize("change", ["key revoked", "site deleted", "admin deleted"])
def test_it_takes_the_slow_path_when_the_demo_is_incomplete(prepared, settings, change):
    if change == "key revoked":
        ApiKey.objects.update(revoked_at=timezone.now())
    elif change == "site deleted":
        Site.objects.filter(public_key="demo").delete()
    else:
        get_user_model().objects.filter(username="admin").delete()
    assert fast_path(settings) is None


@sqlite_only
def test_prepare_run_removes_the_stamp_before_it_works_and_writes_it_after(prepared, settings, monkeypatch):
    def failing(*args, **kwargs):
        raise RuntimeError("migrate failed")

    from moderation.management.commands import prepare_run

    monkeypatch.setattr(prepare_run, "migrations_unapplied", lambda: 1)
    monkeypatch.setattr(prepare_run, "call_command", failing)
    with pytest.raises(RuntimeError):
        call_command("prepare_run", base_url=BASE_URL)
    assert run_stamp.stamp_read(settings.DATA_DIR) is None
    assert fast_path(settings) is None


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
