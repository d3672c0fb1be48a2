import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

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


def test_it_loads_whatever_scikit_learn_version_trained_it(artifacts_copy: Path, rewrite_meta: RewriteMeta) -> None:
    # scikit-learn only trains: the hashing is ml.hashing's own, so its version is recorded, not checked.
    libraries = {"python": "3.11", "numpy": "2.4", "scipy": "1.17", "scikit-learn": "0.24.2"}
    rewrite_meta(artifacts_copy / "toxicity" / VERSION, libraries=libraries)
    assert load_model(artifacts_copy, "toxicity", VERSION).version == VERSION


@pytest.mark.parametrize("scheme", ["poly64-multiplicative-v2", "sklearn HashingVectorizer", None])
def test_it_refuses_features_hashed_with_another_scheme_or_an_unnamed_one(
    artifacts_copy: Path, scheme: str | None
) -> None:
    meta_path = artifacts_copy / "toxicity" / VERSION / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["features"]["hashing"] == hashing.SCHEME
    if scheme is None:
        del meta["features"]["hashing"]
    else:
        meta["features"]["hashing"] = scheme
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ArtifactError, match="hash"):
        load_model(artifacts_copy, "toxicity", VERSION)


def rewrite_weights(version_dir: Path, archive: bytes) -> None:
    """Replace the weights and record their hash, so only the array format can be wrong."""
    from ml.fingerprints import file_sha256

    (version_dir / "weights.npz").write_bytes(archive)
    meta = json.loads((version_dir / "meta.json").read_text(encoding="utf-8"))
    meta["weights"]["sha256"] = file_sha256(version_dir / "weights.npz")
    (version_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def npz_with_format(source: Path, version: tuple[int, int] | None, magic: bytes | None = None) -> bytes:
    """The arrays of ``source`` in an .npz whose .npy members use format ``version`` (or a raw ``magic``)."""
    buffer = io.BytesIO()
    with np.load(source, allow_pickle=False) as stored, zipfile.ZipFile(buffer, "w") as archive:
        for key in stored.files:
            member = io.BytesIO()
            np.lib.format.write_array(member, stored[key], version=version or (1, 0), allow_pickle=False)
            data = member.getvalue()
            archive.writestr(f"{key}.npy", magic + data[len(magic) :] if magic else data)
    return buffer.getvalue()


def test_it_loads_weights_in_any_npy_format_numpy_reads(artifacts_copy: Path) -> None:
    version_dir = artifacts_copy / "toxicity" / VERSION
    before = load_model(artifacts_copy, "toxicity", VERSION)
    rewrite_weights(version_dir, npz_with_format(version_dir / "weights.npz", (3, 0)))
    after = load_model(artifacts_copy, "toxicity", VERSION)
    assert np.array_equal(after.coefficients, before.coefficients)


def test_it_refuses_weights_in_an_npy_format_it_cannot_read(artifacts_copy: Path) -> None:
    version_dir = artifacts_copy / "toxicity" / VERSION
    rewrite_weights(version_dir, npz_with_format(version_dir / "weights.npz", None, magic=b"\x93NUMPY\x09\x00"))
    with pytest.raises(ArtifactError, match=r"\.npy format 9\.0"):
        load_model(artifacts_copy, "toxicity", VERSION)


def test_it_refuses_weights_that_are_not_an_npz_archive(artifacts_copy: Path) -> None:
    rewrite_weights(artifacts_copy / "toxicity" / VERSION, b"not a zip archive")
    with pytest.raises(ArtifactError, match=r"not a NumPy \.npz"):
        load_model(artifacts_copy, "toxicity", VERSION)


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
