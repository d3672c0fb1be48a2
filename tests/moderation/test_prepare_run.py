from pathlib import Path

import pytest
from django.core.management import call_command

from moderation.management.commands import prepare_run


@pytest.fixture
def commands_run(monkeypatch) -> list[str]:
    """The names of the commands prepare_run calls (each still runs)."""
    names: list[str] = []

    def recording(name: str, *args, **kwargs):
        names.append(name)
        return call_command(name, *args, **kwargs)

    monkeypatch.setattr(prepare_run, "call_command", recording)
    return names


def test_it_collects_static_files_only_when_a_source_changed_and_prints_two_lines(
    db, settings, tmp_path, capsys, commands_run
):
    settings.DATA_DIR = tmp_path / "var"
    settings.DATA_DIR.mkdir()
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("prepare_run", base_url="http://127.0.0.1:8123")
    assert commands_run == ["collectstatic", "demo_setup"]  # the test database is migrated already
    assert (Path(settings.STATIC_ROOT) / "moderato" / "widget.js").exists()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Admin: http://127.0.0.1:8123/admin/ user admin password ")

    commands_run.clear()
    call_command("prepare_run", base_url="http://127.0.0.1:8123")
    assert commands_run == ["demo_setup"]
    assert capsys.readouterr().out.splitlines() == lines

    (Path(settings.STATIC_ROOT) / prepare_run.STATIC_STAMP).write_text("an older collection\n")
    commands_run.clear()
    call_command("prepare_run", base_url="http://127.0.0.1:8123")
    assert commands_run == ["collectstatic", "demo_setup"]


def test_it_migrates_only_when_a_migration_is_unapplied(db, settings, tmp_path, monkeypatch, commands_run):
    settings.DATA_DIR = tmp_path
    settings.STATIC_ROOT = tmp_path / "static"
    monkeypatch.setattr(prepare_run, "migrations_unapplied", lambda: 1)
    call_command("prepare_run")
    assert commands_run[0] == "migrate"


def test_the_test_database_has_no_unapplied_migration(db):
    assert prepare_run.migrations_unapplied() == 0
