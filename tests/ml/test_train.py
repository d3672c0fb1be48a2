import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml.artifacts import ArtifactError, load_model
from ml.fingerprints import file_sha256
from ml.train import prune_coefficients, sample_weights, train_model, validation_mask
from ml.training_config import TrainingConfig


def read_meta(artifacts: Path, name: str, version: str) -> dict:
    return json.loads((artifacts / name / version / "meta.json").read_text(encoding="utf-8"))


def test_it_trains_a_model_that_ranks_toxic_above_clean(trained_artifacts: Path) -> None:
    model = load_model(trained_artifacts, "toxicity")
    toxic = model.score("shut up, you worthless clown")["TOXICITY"]
    clean = model.score("thanks for the article about the museum")["TOXICITY"]
    assert toxic > 0.5 > clean


def test_it_writes_weights_meta_and_a_model_card(trained_artifacts: Path, data_dir: Path) -> None:
    version_dir = trained_artifacts / "toxicity" / "toxicity-2026.01.02"
    assert sorted(path.name for path in version_dir.iterdir()) == ["MODEL_CARD.md", "meta.json", "weights.npz"]
    meta = read_meta(trained_artifacts, "toxicity", "toxicity-2026.01.02")
    assert (meta["name"], meta["version"], meta["attributes"]) == ("toxicity", "toxicity-2026.01.02", ["TOXICITY"])
    assert meta["weights"]["sha256"] == file_sha256(version_dir / "weights.npz")
    assert meta["features"]["blocks"][0] == {
        "analyzer": "word",
        "ngram_range": [1, 2],
        "n_features": 4096,
        "token_pattern": r"(?u)\b\w+\b",
    }
    assert set(meta["libraries"]) == {"python", "numpy", "scipy", "scikit-learn"}
    [fingerprint] = meta["training_data"][0]["files"]
    assert fingerprint["path"] == "tiny-toxic/tiny_toxic.csv"
    assert fingerprint["sha256"] == file_sha256(data_dir / "tiny-toxic" / "tiny_toxic.csv")
    assert [summary["name"] for summary in meta["test_only_data"]] == ["tiny-news"]
    assert set(meta["metrics"]) == {"tiny-toxic", "tiny-news"}
    assert meta["metrics"]["tiny-toxic"]["roc_auc"] >= 0.9
    assert 0 < meta["thresholds"]["TOXICITY"]["publish"] < 1
    assert meta["thresholds"]["TOXICITY"]["reject"] is None
    card = (version_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "toxicity-2026.01.02" in card and "tiny-toxic" in card


def test_it_keeps_test_rows_out_of_training(trained_artifacts: Path) -> None:
    [summary] = read_meta(trained_artifacts, "toxicity", "toxicity-2026.01.02")["training_data"]
    [fingerprint] = summary["files"]
    assert (fingerprint["rows"], fingerprint["train_rows"], fingerprint["test_rows"]) == (96, 72, 24)
    assert summary["train_rows"] + summary["validation_rows"] == 72
    assert summary["validation_rows"] > 0


def test_it_chooses_a_reject_threshold_when_the_config_asks(trained_artifacts: Path) -> None:
    thresholds = read_meta(trained_artifacts, "spam", "spam-2026.01.02")["thresholds"]["SPAM"]
    assert thresholds["reject"] is not None
    assert thresholds["publish"] <= thresholds["reject"] <= 1


def test_it_names_the_version_after_the_model_and_the_day(
    toxicity_config: TrainingConfig, data_dir: Path, tmp_path: Path
) -> None:
    path = train_model(toxicity_config, data_dir, tmp_path, today=dt.date(2026, 3, 4))
    assert path == tmp_path / "toxicity" / "toxicity-2026.03.04"


def test_it_refuses_to_overwrite_a_version(
    toxicity_config: TrainingConfig, data_dir: Path, artifacts_copy: Path
) -> None:
    with pytest.raises(ArtifactError, match="already exists"):
        train_model(toxicity_config, data_dir, artifacts_copy, version="toxicity-2026.01.02")


def test_it_refuses_a_version_named_after_another_model(
    toxicity_config: TrainingConfig, data_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ArtifactError, match="not a version of"):
        train_model(toxicity_config, data_dir, tmp_path, version="spam-2026.01.02")


def test_it_weights_each_set_by_the_square_root_of_its_size_with_balanced_classes() -> None:
    weights = sample_weights([(75, 25), (0, 16)], [1.0, 0.5], "sqrt")
    assert weights == pytest.approx([5 / 75, 5 / 25, 0.0, 2 / 16])


def test_it_weights_every_row_alike_by_rows() -> None:
    assert sample_weights([(75, 25), (0, 16)], [1.0, 0.5], "rows") == [1.0, 1.0, 0.5, 0.5]


def test_it_prunes_all_but_the_largest_coefficients() -> None:
    pruned = prune_coefficients(np.array([[0.1, -3.0, 0.5, 2.0, -0.2]]), 2)
    assert pruned.dtype == np.float32
    assert pruned.tolist() == [[0.0, -3.0, 0.0, 2.0, 0.0]]


def test_it_keeps_duplicate_texts_on_the_same_side_of_validation() -> None:
    texts = [f"comment number {i}" for i in range(2000)]
    mask = validation_mask(texts + [text.upper() + "\u200b" for text in texts], 0.1)
    assert (mask[:2000] == mask[2000:]).all()
    assert 0.07 < mask[:2000].mean() < 0.13


def test_it_adds_obfuscated_copies_of_both_classes_at_their_weight(raw_config: Any, data_dir: Path) -> None:
    from ml.datasets import load_dataset
    from ml.features import HashedTextFeatures
    from ml.train import augmented_training_set, training_rows
    from ml.training_config import parse_config

    raw = raw_config("toxicity")
    raw["augmentation"] = {"obfuscated_copies": True, "seed": 3, "weight": 0.25}
    config = parse_config(raw)
    rows = training_rows([load_dataset(data_dir, config.datasets[0])], config.dataset_weighting)
    features = HashedTextFeatures(config.features)
    held_back = validation_mask(rows.texts, config.validation_fraction)
    matrix, labels, weights = augmented_training_set(config, features, rows, features.matrix(rows.texts), held_back)
    kept = int((~held_back).sum())
    assert matrix.shape[0] == labels.shape[0] == weights.shape[0] == 2 * kept
    assert labels[kept:].tolist() == labels[:kept].tolist()
    assert weights[kept:] == pytest.approx(weights[:kept] * 0.25)
    assert (matrix[kept:] != matrix[:kept]).nnz > 0
