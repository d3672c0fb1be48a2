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


def test_it_trains_each_extra_head_only_on_the_rows_that_label_it(attribute_artifacts: Path) -> None:
    from tests.ml.conftest import INSULT_VERSION

    meta = read_meta(attribute_artifacts, "toxicity", INSULT_VERSION)
    assert meta["attributes"] == ["TOXICITY", "INSULT"]
    insult = meta["attribute_heads"]["shipped"]["INSULT"]
    assert set(insult["training_data"]) == {"tiny-insults"}
    [insults_summary] = [s for s in meta["training_data"] if s["name"] == "tiny-insults"]
    assert (
        insult["train_rows"] + insult["validation_rows"]
        == insults_summary["train_rows"] + insults_summary["validation_rows"]
    )
    assert {s["name"] for s in meta["training_data"]} == {"tiny-insults", "tiny-slang"}
    model = load_model(attribute_artifacts, "toxicity")
    slang = model.score("glorbnak budget glorbnak")
    assert slang["TOXICITY"] > 0.5 > slang["INSULT"]
    assert model.score("you are a worthless moron")["INSULT"] > 0.5
    assert set(model.thresholds) == {"TOXICITY", "INSULT"}


def test_it_leaves_out_a_head_with_too_few_positives_and_says_why(attribute_artifacts: Path) -> None:
    from tests.ml.conftest import INSULT_VERSION

    meta = read_meta(attribute_artifacts, "toxicity", INSULT_VERSION)
    left_out = meta["attribute_heads"]["left_out"]
    assert set(left_out) == {"THREAT", "SEVERE_TOXICITY"}
    assert "training positives, fewer than 5" in left_out["THREAT"]
    assert left_out["SEVERE_TOXICITY"] == "no training data set labels it"
    card = (attribute_artifacts / "toxicity" / INSULT_VERSION / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "THREAT: left out" in card and "INSULT: shipped" in card
    slope = meta["calibration"]["INSULT"]["slope"]
    assert slope != 1.0 and f"INSULT: a = {slope:.3f}" in card


def test_it_keeps_the_main_head_as_without_extra_heads(
    attribute_artifacts: Path, attribute_data_dir: Path, tmp_path: Path
) -> None:
    from ml.training_config import parse_config
    from tests.ml.conftest import attribute_config_dict

    raw = attribute_config_dict()
    del raw["attribute_heads"]
    for dataset in raw["datasets"]:
        dataset.pop("attributes", None)
    train_model(parse_config(raw), attribute_data_dir, tmp_path, version="toxicity-2026.01.05")
    alone = load_model(tmp_path, "toxicity")
    with_heads = load_model(attribute_artifacts, "toxicity")
    assert np.array_equal(alone.coefficients[0], with_heads.coefficients[0])
    assert alone.intercepts[0] == with_heads.intercepts[0]


def miscalibrated_rows(count: int, seed: int) -> list[dict[str, str]]:
    """One toxic comment in five, a sixth of the labels flipped: class-balanced weights overstate toxicity."""
    import random

    rng = random.Random(seed)
    words = ["bridge", "budget", "museum", "recipe", "tuesday", "council", "river", "school", "garden", "train"]
    rows = []
    for index in range(count):
        toxic = rng.random() < 0.2
        text = " ".join(rng.sample(words, 4) + ([rng.choice(INSULT_WORDS)] if toxic else []))
        label = int(toxic) ^ int(rng.random() < 0.15)
        rows.append({"text": f"{text} {index}", "label": str(label), "split": "test" if index % 3 == 0 else "train"})
    return rows


INSULT_WORDS = ["idiot", "moron", "clown", "loser"]


@pytest.mark.parametrize("calibration", ["platt", "none"])
def test_it_records_validation_brier_before_and_after_calibration(
    raw_config: Any, csv_writer: Any, tmp_path: Path, calibration: str
) -> None:
    from ml.training_config import parse_config

    csv_writer(tmp_path / "data" / "tiny-toxic" / "tiny_toxic.csv", miscalibrated_rows(600, seed=3))
    csv_writer(tmp_path / "data" / "tiny-news" / "tiny_news.csv", [{"text": "the vote is on tuesday", "label": "0"}])
    raw = raw_config("toxicity") | {"calibration": calibration}
    path = train_model(parse_config(raw), tmp_path / "data", tmp_path / "artifacts", version="toxicity-c")
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    record = meta["calibration"]["TOXICITY"]
    if calibration == "none":
        assert (record["slope"], record["intercept"]) == (1.0, 0.0)
        assert "validation_after" not in record
    else:
        assert record["validation_after"]["brier"] < record["validation_before"]["brier"]
        # Platt scaling minimises log loss, not the binned ECE of a few dozen rows: no worse is the promise.
        assert record["validation_after"]["ece"] <= record["validation_before"]["ece"] + 0.01


def test_it_improves_the_test_brier_score_of_a_miscalibrated_model(
    raw_config: Any, csv_writer: Any, tmp_path: Path
) -> None:
    from ml.training_config import parse_config

    csv_writer(tmp_path / "data" / "tiny-toxic" / "tiny_toxic.csv", miscalibrated_rows(600, seed=3))
    csv_writer(tmp_path / "data" / "tiny-news" / "tiny_news.csv", [{"text": "the vote is on tuesday", "label": "0"}])
    brier = {}
    for calibration in ("platt", "none"):
        raw = raw_config("toxicity") | {"calibration": calibration}
        path = train_model(parse_config(raw), tmp_path / "data", tmp_path / calibration, version="toxicity-c")
        brier[calibration] = json.loads((path / "meta.json").read_text(encoding="utf-8"))["metrics"]["tiny-toxic"]
    assert brier["platt"]["brier"] < brier["none"]["brier"]
    assert brier["platt"]["ece"] < brier["none"]["ece"]
    assert brier["platt"]["roc_auc"] == brier["none"]["roc_auc"]


def test_it_calibrates_for_the_share_of_positives_it_is_told(raw_config: Any, csv_writer: Any, tmp_path: Path) -> None:
    from scipy.special import logit

    from ml.training_config import parse_config

    csv_writer(tmp_path / "data" / "tiny-toxic" / "tiny_toxic.csv", miscalibrated_rows(600, seed=3))
    csv_writer(tmp_path / "data" / "tiny-news" / "tiny_news.csv", [{"text": "the vote is on tuesday", "label": "0"}])
    plain = train_model(parse_config(raw_config("toxicity")), tmp_path / "data", tmp_path / "a", version="toxicity-p")
    raw = raw_config("toxicity") | {"calibration_prior": {"TOXICITY": 0.02}}
    shifted = train_model(parse_config(raw), tmp_path / "data", tmp_path / "a", version="toxicity-q")
    before = json.loads((plain / "meta.json").read_text(encoding="utf-8"))["calibration"]["TOXICITY"]
    after = json.loads((shifted / "meta.json").read_text(encoding="utf-8"))["calibration"]["TOXICITY"]
    share = after["prior"]["validation_share"]
    assert 0.1 < share < 0.5
    assert after["intercept"] == pytest.approx(before["intercept"] + logit(0.02) - logit(share))
    assert "TOXICITY 0.02" in json.loads((shifted / "meta.json").read_text(encoding="utf-8"))["calibration_rule"]


def test_it_spells_south_slavic_copies_as_typed_without_diacritics(raw_config: Any) -> None:
    from ml.train import augmentation_texts
    from ml.training_config import parse_config

    raw = raw_config("toxicity")
    raw["augmentation"] = {"obfuscated_copies": True, "seed": 7, "keyboard_latin": True}
    config = parse_config(raw)
    texts = ["Шта ће бити, човече", "Šta će biti, čoveče", "she should check"]
    copies = augmentation_texts(config, texts)
    plain = augmentation_texts(parse_config(raw | {"augmentation": {"obfuscated_copies": True, "seed": 7}}), texts)
    from ml.train import keyboard_latin

    assert keyboard_latin("Шта ће бити, човече") == keyboard_latin("Šta će biti, čoveče") == "sta ce biti, covece"
    assert copies[0] != plain[0] and copies[1] != plain[1]
    assert copies[2] == plain[2]  # English keeps its digraphs


def test_it_spells_ukrainian_and_russian_copies_in_their_readers_latin_spellings() -> None:
    from ml.normalise import normalise_text
    from ml.train import keyboard_latin

    ukrainian = "Ці люди говорять правду, хочу щастя і яблук"  # noqa: RUF001
    russian = "Объявление: ищем людей, хорошо, это ещё не всё"
    ukrainian_copies = {keyboard_latin(ukrainian, ukrainian, seed) for seed in range(40)}
    russian_copies = {keyboard_latin(russian, russian, seed) for seed in range(40)}
    # The scoring spelling and the others: "ja" for "ya", "sch" or "shh" for "shch", "ts" for "c".
    assert normalise_text(ukrainian) in ukrainian_copies
    assert "ci hovorjat pravdu, hochu schastja i jabluk" in ukrainian_copies
    assert "tsi hovoryat pravdu, hochu shhastya i yabluk" in ukrainian_copies
    # Both Ukrainian letters read "h" stay "h" in every copy; the Russian one is "h", "kh" or "x".
    assert all(" hovor" in copy and " hochu" in copy for copy in ukrainian_copies)
    assert {copy.split(", ")[1] for copy in russian_copies} == {"horosho", "khorosho", "xorosho"}
    assert "objavlenie: ishchem , khorosho, eto eshchjo ne vsjo" in russian_copies
    # A copy depends on the seed and the text only.
    assert keyboard_latin(russian, russian, 3) == keyboard_latin(russian, russian, 3)


def test_it_refuses_keyboard_latin_without_obfuscated_copies(raw_config: Any) -> None:
    from ml.training_config import ConfigError, parse_config

    raw = raw_config("toxicity")
    raw["augmentation"] = {"obfuscated_copies": False, "keyboard_latin": True}
    with pytest.raises(ConfigError, match="keyboard_latin"):
        parse_config(raw)
