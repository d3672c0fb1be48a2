import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from comments.models import Comment, Thread
from comments.services import ip_hash
from moderation import backup
from moderation.model_store import version_files_store
from moderation.models import ModelArtifactFile, ModelVersion

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "198.51.100.7"


def address_hash_in_a_new_process(data_dir: Path) -> str:
    """The hash a freshly started process with this data directory (and no key in its environment) gives ADDRESS."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "MODERATO_ADDRESS_HASH_KEY", "MODERATO_IP_HASH_KEY"}
    }
    code = f"import django; django.setup(); from comments.services import ip_hash; print(ip_hash(address={ADDRESS!r}))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {"MODERATO_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def instance(site, tmp_path):
    """alice's and bob's comments, a stored model version, and a hash of ADDRESS; the comment list."""
    thread = Thread.objects.create(site=site, key="/news/bridge")
    alice = Comment.objects.create(
        thread=thread, author_name="Alice", body="Great reporting.", ip_hash=ip_hash(address=ADDRESS)
    )
    Comment.objects.create(
        thread=thread,
        parent=alice,
        root=alice,
        author_name="Bob",
        body="Agreed, ça va.",
        status=Comment.Status.HELD,
        decided_at=timezone.now(),
    )
    version_dir = tmp_path / "toxicity-2026.12.01"
    version_dir.mkdir()
    (version_dir / "weights.npz").write_bytes(bytes(range(256)) * 40)
    (version_dir / "meta.json").write_text('{"version": "toxicity-2026.12.01"}')
    version = ModelVersion.objects.create(
        name="toxicity", version="toxicity-2026.12.01", status=ModelVersion.Status.CANDIDATE
    )
    version_files_store(model_version=version, version_dir=version_dir)


def database_empty() -> None:
    """Empty every table, as on a new machine after migrate (inside the test's transaction)."""
    if connection.vendor == "postgresql":
        # TRUNCATE refuses tables with deferred foreign-key checks pending in the transaction.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0)


def comments():
    return list(
        Comment.objects.order_by("pk").values(
            "pk", "thread__key", "parent", "root", "author_name", "body", "status", "decided_at", "ip_hash"
        )
    )


def model_files():
    rows = ModelArtifactFile.objects.order_by("model_version__version", "name").values_list(
        "model_version__version", "model_version__status", "name", "sha256", "content"
    )
    return [(version, status, name, sha256, bytes(content)) for version, status, name, sha256, content in rows]


def test_it_restores_comments_model_versions_and_address_hashes_into_an_empty_database(instance, settings, tmp_path):
    before_comments, before_files = comments(), model_files()
    call_command("backup", output=tmp_path / "backup")
    hash_before = Comment.objects.get(author_name="Alice").ip_hash

    # A new machine: an empty database and a data directory whose keys differ.
    database_empty()
    assert Comment.objects.count() == 0 and ModelVersion.objects.count() == 0
    new_dir = tmp_path / "new-var"
    assert address_hash_in_a_new_process(new_dir) != hash_before
    settings.SECRET_KEY_FILE = new_dir / "secret-key"
    settings.ADDRESS_HASH_KEY_FILE = new_dir / "address-hash-key"

    call_command("restore", str(tmp_path / "backup"))

    assert comments() == before_comments
    assert model_files() == before_files
    assert address_hash_in_a_new_process(new_dir) == hash_before
    assert (new_dir / "secret-key").read_text() == settings.SECRET_KEY
    assert (new_dir / "address-hash-key.before-restore").exists()
    # The database's id sequences follow the restored rows (PostgreSQL).
    thread = Thread.objects.get()
    new_pk = Comment.objects.create(thread=thread, author_name="Carol", body="New.").pk
    assert new_pk == max(comment["pk"] for comment in before_comments) + 1


def test_the_backup_keeps_its_keys_private_and_its_dump_hashed(instance, tmp_path):
    call_command("backup", output=tmp_path / "backup")
    assert oct((tmp_path / "backup" / "secrets").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "backup" / "secrets" / "address-hash-key").stat().st_mode & 0o777) == "0o600"
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["counts"] == {"sites": 1, "comments": 2, "model_versions": 1, "model_files": 2}
    with gzip.open(tmp_path / "backup" / backup.DATABASE_FILE, "rt") as dump:
        assert "Great reporting." in dump.read()


def test_it_refuses_a_database_that_is_not_empty(instance, tmp_path):
    call_command("backup", output=tmp_path / "backup")
    with pytest.raises(CommandError, match="The database is not empty") as refused:
        call_command("restore", str(tmp_path / "backup"))
    assert refused.value.returncode == 2
    assert Comment.objects.count() == 2


def test_it_refuses_a_changed_dump_a_foreign_directory_and_a_used_output(instance, tmp_path):
    call_command("backup", output=tmp_path / "backup")
    with pytest.raises(CommandError, match="exists and is not an empty directory"):
        call_command("backup", output=tmp_path / "backup")
    with pytest.raises(CommandError, match="not a Moderato backup"):
        call_command("restore", str(tmp_path))
    database_empty()
    with gzip.open(tmp_path / "backup" / backup.DATABASE_FILE, "at") as dump:
        dump.write(" ")
    with pytest.raises(CommandError, match="differs from the SHA-256"):
        call_command("restore", str(tmp_path / "backup"))
    assert Comment.objects.count() == 0


def test_it_refuses_a_backup_made_at_other_migrations(instance, tmp_path):
    call_command("backup", output=tmp_path / "backup")
    manifest_path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["migrations"]["comments"].append("9999_from_the_future")
    manifest_path.write_text(json.dumps(manifest))
    database_empty()
    with pytest.raises(backup.BackupError, match="restore it with the release that made it"):
        backup.backup_restore(source=tmp_path / "backup")
