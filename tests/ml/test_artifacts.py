import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sklearn

from ml import hashing
from ml.artifacts import (
    ArtifactError,
    list_versions,
    load_model,
    newest_version,
    read_weights,
    version_sort_key,
)
from ml.scoring import DEFAULT_ARTIFACTS_DIR

VERSION = "toxicity-2026.01.02"
RewriteMeta = Callable[..., None]


def test_it_loads_what_training_wrote(trained_artifacts: Path) -> None:
    model = load_model(trained_artifacts, "toxicity", VERSION)
    assert model.version == VERSION
    assert model.attributes == ("TOXICITY",)
    assert model.thresholds["TOXICITY"]["publish"] is not None


def test_it_stores_only_nonzero_float32_weights_without_pickle(trained_artifacts: Path) -> None:
    weights = trained_artifacts / "toxicity" / VERSION / "weights.npz"
    with np.load(weights, allow_pickle=False) as stored:
        assert stored["values"].dtype == np.float32
        assert np.count_nonzero(stored["values"]) == stored["values"].size <= 3000
    coefficients, intercepts = read_weights(weights)
    assert coefficients.shape == (1, 4096 + 8192 + 4)  # word, character and lexicon-category columns
    assert intercepts.shape == (1,)


def test_it_refuses_tampered_weights(artifacts_copy: Path) -> None:
    weights = artifacts_copy / "toxicity" / VERSION / "weights.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_refuses_weights_from_another_artifact(artifacts_copy: Path) -> None:
    shutil.copy(artifacts_copy / "spam" / "spam-2026.01.02" / "weights.npz", artifacts_copy / "toxicity" / VERSION)
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_refuses_another_scikit_learn_version(artifacts_copy: Path, rewrite_meta: RewriteMeta) -> None:
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    libraries = {"python": "3.11", "numpy": "2.4", "scipy": "1.17", "scikit-learn": f"{major}.{minor + 1}.0"}
    rewrite_meta(artifacts_copy / "toxicity" / VERSION, libraries=libraries)
    with pytest.raises(ArtifactError, match="scikit-learn"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_accepts_another_scikit_learn_patch_release(artifacts_copy: Path, rewrite_meta: RewriteMeta) -> None:
    major_minor = ".".join(sklearn.__version__.split(".")[:2])
    libraries = {"python": "3.11", "numpy": "2.4", "scipy": "1.17", "scikit-learn": f"{major_minor}.99"}
    rewrite_meta(artifacts_copy / "toxicity" / VERSION, libraries=libraries)
    assert load_model(artifacts_copy, "toxicity", VERSION).version == VERSION


def test_it_refuses_another_text_normalisation(artifacts_copy: Path) -> None:
    meta_path = artifacts_copy / "toxicity" / VERSION / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["features"]["normalisation_version"] = 0
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ArtifactError, match="normalisation"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_refuses_a_meta_that_describes_another_version(artifacts_copy: Path, rewrite_meta: RewriteMeta) -> None:
    rewrite_meta(artifacts_copy / "toxicity" / VERSION, version="toxicity-2025.01.01")
    with pytest.raises(ArtifactError, match="describes"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_refuses_a_missing_meta(artifacts_copy: Path) -> None:
    (artifacts_copy / "toxicity" / VERSION / "meta.json").unlink()
    with pytest.raises(ArtifactError, match=r"no meta\.json"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_loads_the_newest_version_by_default(artifacts_copy: Path, rewrite_meta: RewriteMeta) -> None:
    for newer in ("toxicity-2026.01.02.2", "toxicity-2026.01.10"):
        shutil.copytree(artifacts_copy / "toxicity" / VERSION, artifacts_copy / "toxicity" / newer)
        rewrite_meta(artifacts_copy / "toxicity" / newer, version=newer)
    (artifacts_copy / "toxicity" / ".toxicity-2026.12.31-partial").mkdir()
    assert list_versions(artifacts_copy, "toxicity") == [VERSION, "toxicity-2026.01.02.2", "toxicity-2026.01.10"]
    assert newest_version(artifacts_copy, "toxicity") == "toxicity-2026.01.10"
    assert load_model(artifacts_copy, "toxicity").version == "toxicity-2026.01.10"


def test_it_orders_versions_naturally() -> None:
    versions = ["spam-2026.11.28", "spam-2026.2.1", "spam-2026.11.28.10", "spam-2026.11.28.2"]
    assert sorted(versions, key=version_sort_key) == [
        "spam-2026.2.1",
        "spam-2026.11.28",
        "spam-2026.11.28.2",
        "spam-2026.11.28.10",
    ]


def test_it_raises_an_artifact_error_for_a_missing_model_or_version(tmp_path: Path, trained_artifacts: Path) -> None:
    with pytest.raises(ArtifactError, match="no 'spam' model"):
        load_model(tmp_path, "spam")
    with pytest.raises(ArtifactError, match=r"present: spam-2026\.01\.02"):
        load_model(trained_artifacts, "spam", "spam-2030.01.01")


@pytest.mark.parametrize("version", ["../toxicity/toxicity-2026.01.02", "toxicity", "spam-2026.01.02", ""])
def test_it_refuses_a_version_name_outside_the_model(trained_artifacts: Path, version: str) -> None:
    with pytest.raises(ArtifactError, match="not a version of"):
        load_model(trained_artifacts, "toxicity", version)


@pytest.mark.parametrize("name", ["toxicity", "spam"])
def test_it_loads_the_committed_artifacts(name: str) -> None:
    # Load time is measured by bench/models.py, not asserted here.
    model = load_model(DEFAULT_ARTIFACTS_DIR, name)
    assert model.attributes[0] == name.upper()
    assert model.version.startswith(f"{name}-")
    assert model.features.spec.hashing == hashing.SCHEME


def test_it_stores_the_calibration_in_the_hashed_weights_and_in_meta(trained_artifacts: Path) -> None:
    from ml.artifacts import read_calibration

    version_dir = trained_artifacts / "toxicity" / VERSION
    calibration = read_calibration(version_dir / "weights.npz")
    assert calibration is not None and calibration.slopes.shape == (1,)
    model = load_model(trained_artifacts, "toxicity", VERSION)
    assert model.calibration.slopes == pytest.approx(calibration.slopes)
    meta = json.loads((version_dir / "meta.json").read_text(encoding="utf-8"))
    assert meta["calibration"]["TOXICITY"]["slope"] == pytest.approx(float(calibration.slopes[0]))


def test_it_loads_an_artifact_without_calibration_unchanged(artifacts_copy: Path) -> None:
    from ml.artifacts import write_weights
    from ml.fingerprints import file_sha256

    version_dir = artifacts_copy / "toxicity" / VERSION
    coefficients, intercepts = read_weights(version_dir / "weights.npz")
    write_weights(version_dir / "weights.npz", coefficients, intercepts)  # as written before calibration existed
    meta = json.loads((version_dir / "meta.json").read_text(encoding="utf-8"))
    del meta["calibration"], meta["calibration_rule"]
    meta["weights"]["sha256"] = file_sha256(version_dir / "weights.npz")
    (version_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    model = load_model(artifacts_copy, "toxicity", VERSION)
    assert model.calibration.is_identity
    assert np.array_equal(model.coefficients, coefficients) and np.array_equal(model.intercepts, intercepts)
    text = "shut up, you worthless clown"
    logit = model.features.matrix([text]) @ coefficients[0].astype(np.float64) + intercepts[0]
    assert model.score(text)["TOXICITY"] == pytest.approx(float(1 / (1 + np.exp(-logit[0]))))
