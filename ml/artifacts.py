"""Model artifacts on disk, without pickle: ``<artifacts_dir>/<name>/<version>/``.

Each version directory holds ``weights.npz`` (the non-zero coefficients as float32, the
intercepts, and per head the Platt slope and intercept already folded into them, see
``ml.model``; an artifact without them is uncalibrated and loads as such), ``meta.json``
(everything needed to rebuild the features, where the training data came from, held-out
metrics, suggested thresholds, library versions and the SHA-256 of the weights) and
``MODEL_CARD.md``. Loading refuses weights whose hash differs from ``meta.json``, and checks what
it really depends on, each by its own version: the NumPy array format of the weights (the ``.npy``
format versions inside the ``.npz``), the hashing scheme (``ml.hashing.SCHEME``) and the text
normalisation (``ml.normalise.NORMALISATION_VERSIONS``). scikit-learn only trains: its version is
recorded, not checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ml import hashing
from ml.features import FeatureSpec, HashedTextFeatures
from ml.fingerprints import file_sha256
from ml.model import Calibration, LinearTextModel
from ml.normalise import NORMALISATION_VERSIONS

ARTIFACT_FORMAT = 1
WEIGHTS_FILE = "weights.npz"
META_FILE = "meta.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
VERSION_PATTERN = re.compile(r"[a-z][a-z0-9_]*-[A-Za-z0-9][A-Za-z0-9._-]*")
# The .npy format versions np.load reads (NumPy 1.17 onwards); write_weights writes 1.0.
NPY_FORMAT_VERSIONS = ((1, 0), (2, 0), (3, 0))


class ArtifactError(Exception):
    """A model artifact is missing, altered, or was built for other library versions."""


def version_sort_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions naturally: ``spam-2026.11.28`` < ``spam-2026.11.28.2`` < ``spam-2026.12.01``."""
    parts = re.findall(r"\d+|\D+", version)
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts)


def check_version_name(name: str, version: str) -> None:
    if not VERSION_PATTERN.fullmatch(version) or not version.startswith(f"{name}-"):
        raise ArtifactError(
            f"{version!r} is not a version of {name!r}: expected '{name}-' followed by letters, digits, '.', '_' or '-'"
        )


def list_versions(artifacts_dir: Path, name: str) -> list[str]:
    """Return the versions of ``name`` present, oldest first."""
    model_dir = artifacts_dir / name
    if not model_dir.is_dir():
        return []
    versions = [
        entry.name
        for entry in model_dir.iterdir()
        if entry.is_dir() and VERSION_PATTERN.fullmatch(entry.name) and entry.name.startswith(f"{name}-")
    ]
    return sorted(versions, key=version_sort_key)


def newest_version(artifacts_dir: Path, name: str) -> str:
    versions = list_versions(artifacts_dir, name)
    if not versions:
        raise ArtifactError(f"no {name!r} model in {artifacts_dir}")
    return versions[-1]


def write_weights(
    path: Path, coefficients: np.ndarray, intercepts: np.ndarray, calibration: Calibration | None = None
) -> None:
    """Store the non-zero coefficients as (row, column, float32 value) triples, and the calibration if any."""
    rows, columns = np.nonzero(coefficients)
    extra: dict[str, Any] = {}
    if calibration is not None:
        extra = {"calibration_slopes": calibration.slopes, "calibration_intercepts": calibration.intercepts}
    np.savez_compressed(
        path,
        shape=np.asarray(coefficients.shape, dtype=np.int64),
        rows=rows.astype(np.int32),
        columns=columns.astype(np.int32),
        values=coefficients[rows, columns].astype(np.float32),
        intercepts=np.asarray(intercepts, dtype=np.float64),
        **extra,
    )


def read_calibration(path: Path) -> Calibration | None:
    """Return the calibration folded into the stored weights, or ``None`` for an uncalibrated artifact."""
    with np.load(path, allow_pickle=False) as stored:
        if "calibration_slopes" not in stored.files:
            return None
        return Calibration(slopes=stored["calibration_slopes"], intercepts=stored["calibration_intercepts"])


def read_weights(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return dense float32 coefficients and float64 intercepts."""
    with np.load(path, allow_pickle=False) as stored:
        shape = tuple(int(n) for n in stored["shape"])
        rows, columns, values = stored["rows"], stored["columns"], stored["values"]
        intercepts = stored["intercepts"].astype(np.float64)
    if len(shape) != 2 or not rows.shape == columns.shape == values.shape:
        raise ValueError("inconsistent arrays")
    if rows.size and (rows.min() < 0 or rows.max() >= shape[0] or columns.min() < 0 or columns.max() >= shape[1]):
        raise ValueError("coefficient indices out of range")
    if not (np.isfinite(values).all() and np.isfinite(intercepts).all()):
        raise ValueError("non-finite weights")
    coefficients = np.zeros(shape, dtype=np.float32)
    coefficients[rows, columns] = values
    return coefficients, intercepts


def save_artifact(artifacts_dir: Path, model: LinearTextModel, meta: dict[str, Any], model_card: str) -> Path:
    """Write a new version directory; refuse to overwrite one. Complete ``meta['weights']`` in place."""
    check_version_name(model.name, model.version)
    target = artifacts_dir / model.name / model.version
    if target.exists():
        raise ArtifactError(f"{target} already exists; pass another version")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.version}-", dir=target.parent))
    try:
        weights_path = staging / WEIGHTS_FILE
        write_weights(weights_path, model.coefficients, model.intercepts, model.calibration)
        recorded = meta.get("calibration", {})
        meta["calibration"] = {
            attribute: {**recorded.get(attribute, {}), **values}
            for attribute, values in model.calibration.to_json(model.attributes).items()
        }
        meta.setdefault("weights", {})
        meta["weights"].update(
            {
                "file": WEIGHTS_FILE,
                "sha256": file_sha256(weights_path),
                "bytes": weights_path.stat().st_size,
                "nonzero": int(np.count_nonzero(model.coefficients)),
                "dtype": "float32",
            }
        )
        (staging / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (staging / MODEL_CARD_FILE).write_text(model_card, encoding="utf-8")
        staging.chmod(0o755)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_meta(version_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((version_dir / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{version_dir} has no {META_FILE}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"cannot read {version_dir / META_FILE}: {exc}") from exc
    if not isinstance(meta, dict):
        raise ArtifactError(f"{version_dir / META_FILE} is not a JSON object")
    return meta


def load_model(artifacts_dir: Path, name: str, version: str | None = None) -> LinearTextModel:
    """Load ``name`` at ``version`` (the newest present when ``None``), after checking its integrity."""
    artifacts_dir = Path(artifacts_dir)
    if version is None:
        version = newest_version(artifacts_dir, name)
    check_version_name(name, version)
    version_dir = artifacts_dir / name / version
    if not version_dir.is_dir():
        present = ", ".join(list_versions(artifacts_dir, name)) or "none"
        raise ArtifactError(f"{name} version {version!r} is not in {artifacts_dir} (present: {present})")
    meta = read_meta(version_dir)
    _check_meta(meta, name, version)
    weights_path = version_dir / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ArtifactError(f"{version}: {WEIGHTS_FILE} is missing")
    expected = meta["weights"]["sha256"]
    actual = file_sha256(weights_path)
    if actual != expected:
        raise ArtifactError(f"{version}: {WEIGHTS_FILE} has SHA-256 {actual}, but {META_FILE} says {expected}")
    _check_array_format(weights_path, version)
    try:
        features = HashedTextFeatures(FeatureSpec.from_json(meta["features"]))
        coefficients, intercepts = read_weights(weights_path)
        calibration = read_calibration(weights_path)
        return LinearTextModel(
            name=name,
            version=version,
            attributes=meta["attributes"],
            features=features,
            coefficients=coefficients,
            intercepts=intercepts,
            thresholds=meta.get("thresholds", {}),
            meta=meta,
            calibration=calibration,
        )
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{version}: unusable artifact: {exc}") from exc


def _check_meta(meta: Mapping[str, Any], name: str, version: str) -> None:
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{version}: artifact format {meta.get('format')!r}, this code reads {ARTIFACT_FORMAT}")
    if meta.get("name") != name or meta.get("version") != version:
        raise ArtifactError(f"{version}: {META_FILE} describes {meta.get('name')!r} {meta.get('version')!r}")
    attributes = meta.get("attributes")
    if not isinstance(attributes, list) or not attributes or not all(isinstance(a, str) for a in attributes):
        raise ArtifactError(f"{version}: {META_FILE} has no attribute list")
    features = meta.get("features")
    if not isinstance(features, dict):
        raise ArtifactError(f"{version}: {META_FILE} has no feature spec")
    # Every artifact ever written names its scheme; the ones before 2026.11.28.3 name scikit-learn's.
    scheme = features.get("hashing")
    if scheme != hashing.SCHEME:
        raise ArtifactError(
            f"{version}: features hashed with scheme {scheme!r}, this code hashes with {hashing.SCHEME!r}; retrain"
        )
    trained_normalisation = features.get("normalisation_version")
    if trained_normalisation not in NORMALISATION_VERSIONS:
        raise ArtifactError(
            f"{version}: trained with text normalisation version {trained_normalisation!r}, "
            f"this code runs versions {NORMALISATION_VERSIONS}; retrain"
        )
    weights = meta.get("weights")
    if not isinstance(weights, dict) or not isinstance(weights.get("sha256"), str):
        raise ArtifactError(f"{version}: {META_FILE} has no weights SHA-256")


def _check_array_format(weights_path: Path, version: str) -> None:
    """Refuse weights that are not an ``.npz`` of ``.npy`` arrays in a format version ``np.load`` reads."""
    try:
        with zipfile.ZipFile(weights_path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    raise ArtifactError(f"{version}: {WEIGHTS_FILE} holds {member!r}, not only .npy arrays")
                with archive.open(member) as stream:
                    found = np.lib.format.read_magic(stream)
                if found not in NPY_FORMAT_VERSIONS:
                    raise ArtifactError(
                        f"{version}: {WEIGHTS_FILE} stores {member} in .npy format {found[0]}.{found[1]}, "
                        f"this code reads {', '.join(f'{a}.{b}' for a, b in NPY_FORMAT_VERSIONS)}"
                    )
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{version}: {WEIGHTS_FILE} is not a NumPy .npz archive: {exc}") from exc
