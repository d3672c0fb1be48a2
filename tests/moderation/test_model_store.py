"""Model versions stored in the database: storing, copying into a process's cache, and the upgrade."""

import hashlib
import shutil
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from moderation.model_store import StoredModelError, version_files_store, version_materialise
from moderation.models import ModelVersion

SHIPPED_VERSION = Path(__file__).resolve().parents[2] / "ml" / "artifacts" / "spam" / "spam-2026.11.30"


@pytest.mark.django_db
def test_it_stores_every_file_with_its_hash_and_copies_them_back_byte_for_byte(settings, tmp_path):
    settings.MODERATO_MODEL_DIR = tmp_path / "cache"
    row = ModelVersion.objects.create(name="spam", version="spam-2026.11.30", status="candidate")
    version_files_store(model_version=row, version_dir=SHIPPED_VERSION)
    stored = {file.name: file.sha256 for file in row.files.all()}
    assert stored == {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in SHIPPED_VERSION.iterdir()}
    root = version_materialise(name="spam", version=row.version)
    for path in SHIPPED_VERSION.iterdir():
        assert (root / "spam" / row.version / path.name).read_bytes() == path.read_bytes()
    assert [entry.name for entry in (root / "spam").iterdir()] == [row.version]  # no staging left behind


@pytest.mark.django_db
def test_it_refuses_to_store_a_directory_without_weights(tmp_path):
    shutil.copy(SHIPPED_VERSION / "meta.json", tmp_path / "meta.json")
    row = ModelVersion.objects.create(name="spam", version="spam-2026.12.01-local", status="candidate")
    with pytest.raises(StoredModelError, match=r"weights\.npz"):
        version_files_store(model_version=row, version_dir=tmp_path)


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_copies_the_files_of_earlier_versions_from_their_directory_into_the_database(tmp_path):
    before, after = [("moderation", "0005_notification_outbox")], [("moderation", "0006_model_artifact_files")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("moderation", "ModelVersion")
    shutil.copytree(SHIPPED_VERSION, tmp_path / "spam" / "spam-2026.11.30")
    old.objects.create(name="spam", version="spam-2026.11.30", directory=str(tmp_path), status="active")
    old.objects.create(name="toxicity", version="toxicity-2026.11.29-local", directory="/gone", status="retired")
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    copied = ModelVersion.objects.get(version="spam-2026.11.30")
    assert sorted(copied.files.values_list("name", flat=True)) == ["MODEL_CARD.md", "meta.json", "weights.npz"]
    assert not ModelVersion.objects.get(version="toxicity-2026.11.29-local").files.exists()
