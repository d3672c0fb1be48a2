"""Model versions built by the learning loop live in the database, so every process reads the same model.

Web, worker and beat may each have their own ``var/`` (``docker-compose.yml``), but they share the
database. ``version_files_store`` keeps the files of a version directory (``ml.artifacts``:
``weights.npz``, ``meta.json``, ``MODEL_CARD.md``) as ``ModelArtifactFile`` rows with their SHA-256;
``version_materialise`` copies a version into this process's cache directory
(``MODERATO_MODEL_DIR``, by default ``<MODERATO_DATA_DIR>/models``) so that ``ml.artifacts.load_model``
reads it. The cache is only a cache: a copy whose files differ from the recorded hashes is replaced,
and a copy is written to a temporary directory first and renamed into place, so a process never
reads a half-written version, even when several share one cache directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from ml.artifacts import META_FILE, WEIGHTS_FILE, check_version_name
from ml.fingerprints import file_sha256
from moderation.models import ModelArtifactFile, ModelVersion

REQUIRED_FILES = (WEIGHTS_FILE, META_FILE)


class StoredModelError(Exception):
    """A stored model version is missing files, or its bytes differ from their recorded SHA-256."""


def cache_dir() -> Path:
    """The artifacts directory (``<name>/<version>/``) this process copies stored versions into."""
    return Path(settings.MODERATO_MODEL_DIR)


def version_files_store(*, model_version: ModelVersion, version_dir: Path) -> list[ModelArtifactFile]:
    """Store every file of ``version_dir`` (an ``ml.artifacts`` version directory) with ``model_version``."""
    files = []
    for path in sorted(version_dir.iterdir()):
        if not path.is_file():
            continue
        content = path.read_bytes()
        files.append(
            ModelArtifactFile(
                model_version=model_version,
                name=path.name,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
            )
        )
    missing = set(REQUIRED_FILES) - {file.name for file in files}
    if missing:
        raise StoredModelError(f"{version_dir} has no {', '.join(sorted(missing))}")
    return ModelArtifactFile.objects.bulk_create(files)


def stored_hashes(*, version: str) -> dict[str, str]:
    """Map each stored file of ``version`` to its recorded SHA-256 (no content is read)."""
    return dict(ModelArtifactFile.objects.filter(model_version__version=version).values_list("name", "sha256"))


def stored_fingerprint(*, version: str) -> tuple[tuple[int, str, str], ...]:
    """The ids, names and hashes of the stored files of ``version``: they change when it is stored again."""
    return tuple(
        ModelArtifactFile.objects.filter(model_version__version=version)
        .order_by("pk")
        .values_list("pk", "name", "sha256")
    )


def version_materialise(*, name: str, version: str) -> Path:
    """Copy a stored version into the cache directory unless an intact copy is there; return that directory.

    Raise ``StoredModelError`` when files are missing or their bytes do not match their SHA-256.
    """
    check_version_name(name, version)
    hashes = stored_hashes(version=version)
    missing = set(REQUIRED_FILES) - set(hashes)
    if missing:
        raise StoredModelError(f"{version}: no stored {', '.join(sorted(missing))} in the database")
    root = cache_dir()
    target = root / name / version
    if _intact(target, hashes):
        return root
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        for file in ModelArtifactFile.objects.filter(model_version__version=version).only("name", "sha256", "content"):
            content = bytes(file.content)
            actual = hashlib.sha256(content).hexdigest()
            if actual != file.sha256:
                raise StoredModelError(f"{version}: stored {file.name} has SHA-256 {actual}, recorded {file.sha256}")
            (staging / Path(file.name).name).write_bytes(content)
        staging.chmod(0o755)
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _intact(target, hashes):  # another process wrote it meanwhile from other bytes
        raise StoredModelError(f"{version}: the copy in {target} does not match the stored hashes")
    return root


def _intact(directory: Path, hashes: dict[str, str]) -> bool:
    if not directory.is_dir():
        return False
    try:
        return all(file_sha256(directory / file) == sha256 for file, sha256 in hashes.items())
    except OSError:
        return False


def _replace(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, setting aside a stale copy first."""
    if target.exists():
        stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-stale-", dir=target.parent))
        try:
            os.replace(target, stale / target.name)
        except FileNotFoundError:  # another process set it aside first
            pass
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(staging, target)
    except OSError:
        # Another process renamed its own copy into place first: keep that one (checked by the caller).
        if not target.is_dir():
            raise
