import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore")


def test_it_reads_booleans_and_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(Exception, match="FLAG='maybe' is not a boolean"):
        env_bool("FLAG", False)


def test_it_reads_whole_numbers_with_a_minimum(monkeypatch):
    monkeypatch.setenv("N", "")
    assert env_int("N", 7) == 7
    monkeypatch.setenv("N", "12")
    assert env_int("N", 7, minimum=1) == 12
    monkeypatch.setenv("N", "0")
    with pytest.raises(Exception, match="below its minimum 1"):
        env_int("N", 7, minimum=1)
    monkeypatch.setenv("N", "ten")
    with pytest.raises(Exception, match="not a whole number"):
        env_int("N", 7)


def test_it_splits_lists_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , ,b.example")
    assert env_list("HOSTS") == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "perhaps", "DEBUG='perhaps' is not a boolean"),
        ("DATABASE_URL", "nonsense://x", "DATABASE_URL"),
        ("MODERATO_LOG_FORMAT", "xml", "MODERATO_LOG_FORMAT='xml' is neither json nor plain"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not one of"),
    ],
)
def test_it_stops_start_up_with_a_message_naming_the_bad_variable(variable, value, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PATH": "/usr/bin:/bin", variable: value, "MODERATO_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_the_sqlite_database_is_readable_by_the_service_user_only(tmp_path):
    import stat

    env = {"MODERATO_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=Path(__file__).resolve().parents[2])
    database = tmp_path / "moderato.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_the_docker_build_context_leaves_out_data_and_secrets():
    ignored = (Path(__file__).resolve().parents[2] / ".dockerignore").read_text().split()
    assert {"var/", ".env", ".venv/"} <= set(ignored)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8101"}, "http://127.0.0.1:8101"),
        ({"PORT": "8101", "MODERATO_PUBLIC_URL": "https://comments.example.org/"}, "https://comments.example.org"),
    ],
)
def test_the_public_url_of_e_mail_links_follows_port_unless_set(tmp_path, extra, expected):
    env = {"MODERATO_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "from django.conf import settings; print(settings.MODERATO_PUBLIC_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env | extra, check=True, capture_output=True, text=True, cwd=ROOT
    )
    assert result.stdout.strip() == expected


def address_hash_key(data_dir: Path, **extra: str) -> str:
    env = {"MODERATO_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "from django.conf import settings; print(settings.MODERATO_ADDRESS_HASH_KEY)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env | extra, check=True, capture_output=True, text=True, cwd=ROOT
    )
    return result.stdout.strip()


def test_an_existing_install_keeps_hashing_addresses_with_its_secret_key_after_a_rotation(tmp_path):
    (tmp_path / "secret-key").write_text("the key of an install from before the upgrade")
    assert address_hash_key(tmp_path) == "the key of an install from before the upgrade"
    assert (tmp_path / "address-hash-key").read_text() == "the key of an install from before the upgrade"
    (tmp_path / "secret-key").write_text("a rotated secret key")
    assert address_hash_key(tmp_path) == "the key of an install from before the upgrade"


def test_a_production_install_keeps_its_secret_key_as_address_hash_key(tmp_path):
    assert address_hash_key(tmp_path, SECRET_KEY="production secret") == "production secret"
    assert address_hash_key(tmp_path, SECRET_KEY="rotated production secret") == "production secret"


def test_a_fresh_data_directory_gets_an_address_hash_key_of_its_own_once(tmp_path):
    key = address_hash_key(tmp_path)
    assert key != (tmp_path / "secret-key").read_text().strip()
    assert len(key) > 40
    assert address_hash_key(tmp_path) == key
    assert address_hash_key(tmp_path, MODERATO_ADDRESS_HASH_KEY="set") == "set"
    assert address_hash_key(tmp_path, MODERATO_IP_HASH_KEY="the old name") == "the old name"
