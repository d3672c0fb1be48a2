from pathlib import Path

import numpy as np
import pytest

from ml.evaluation import binary_metrics, choose_thresholds, metrics_at_threshold, metrics_table
from ml.training_config import ThresholdRules

LABELS = [0, 0, 0, 1, 1, 1]
SCORES = np.array([0.1, 0.2, 0.6, 0.4, 0.8, 0.9])


def test_it_picks_the_f1_maximising_publish_threshold() -> None:
    assert choose_thresholds(LABELS, SCORES, ThresholdRules())["publish"] == 0.4


def test_it_leaves_reject_empty_without_reject_rules() -> None:
    assert choose_thresholds(LABELS, SCORES, ThresholdRules())["reject"] is None


def test_it_picks_the_lowest_reject_threshold_that_meets_precision_and_false_positive_rate() -> None:
    rules = ThresholdRules(reject_min_precision=0.99, reject_max_false_positive_rate=0.0)
    assert choose_thresholds(LABELS, SCORES, rules)["reject"] == 0.8


def test_it_leaves_reject_empty_when_no_score_meets_the_targets() -> None:
    rules = ThresholdRules(reject_min_precision=0.99)
    assert choose_thresholds([1, 0], np.array([0.1, 0.9]), rules)["reject"] is None


def test_it_needs_both_classes_to_choose_thresholds() -> None:
    with pytest.raises(ValueError, match="both classes"):
        choose_thresholds([0, 0], np.array([0.1, 0.2]), ThresholdRules())


def test_it_counts_precision_recall_f1_and_false_positive_rate_at_a_threshold() -> None:
    metrics = metrics_at_threshold(np.array(LABELS), SCORES, 0.5)
    assert metrics == {
        "threshold": 0.5,
        "flagged": 3,
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "false_positive_rate": 0.3333,
    }


def test_it_reports_rank_metrics_and_metrics_at_each_threshold() -> None:
    metrics = binary_metrics(LABELS, SCORES, {"0.5": 0.5, "reject": None})
    assert metrics["rows"] == 6
    assert metrics["positives"] == 3
    assert metrics["roc_auc"] == pytest.approx(8 / 9, abs=1e-4)
    assert metrics["pr_auc"] is not None
    assert list(metrics["at"]) == ["0.5"]


def test_it_reports_no_rank_metrics_for_a_set_with_one_class() -> None:
    metrics = binary_metrics([0, 0, 0], np.array([0.1, 0.7, 0.2]), {"publish": 0.5})
    assert metrics["roc_auc"] is None
    assert metrics["pr_auc"] is None
    assert metrics["at"]["publish"]["false_positive_rate"] == 0.3333
    assert metrics["at"]["publish"]["recall"] is None


def test_it_renders_a_table_row_per_test_set() -> None:
    results = {"alice-set": binary_metrics(LABELS, SCORES, {"0.5": 0.5, "publish": 0.4})}
    table = metrics_table(results)
    assert table.splitlines()[0].startswith("test set")
    assert "alice-set" in table
    assert "0.889" in table


def test_it_adds_obfuscated_copies_and_slices(trained_artifacts: Path, data_dir: Path, tmp_path: Path) -> None:
    from ml.artifacts import load_model
    from ml.datasets import load_dataset
    from ml.evaluation import evaluate_model
    from ml.training_config import EvaluationRules, parse_config
    from tests.ml.conftest import tiny_config_dict

    (tmp_path / "fp.jsonl").write_text(
        '{"text": "the bridge vote is on tuesday", "kind": "news"}\n{"text": "i disagree", "kind": "criticism"}\n',
        encoding="utf-8",
    )
    config = parse_config(tiny_config_dict("toxicity"))
    model = load_model(trained_artifacts, "toxicity")
    datasets = [load_dataset(data_dir, spec, roles=frozenset({"test"})) for spec in config.test_sets]
    rules = EvaluationRules(obfuscated_copies=True, seed=7, slices=("fp.jsonl",))
    results = evaluate_model(model, datasets, "TOXICITY", rules, eval_dir=tmp_path)
    assert set(results) == {
        "tiny-toxic",
        "tiny-news",
        "tiny-toxic (obfuscated)",
        "tiny-news (obfuscated)",
        "slice fp.jsonl",
    }
    assert results["tiny-toxic (obfuscated)"]["positives"] == results["tiny-toxic"]["positives"]
    fp_slice = results["slice fp.jsonl"]
    assert fp_slice["rows"] == 2 and fp_slice["positives"] == 0 and fp_slice["roc_auc"] is None
    assert set(fp_slice["groups"]) == {"kind=news", "kind=criticism"}
    assert "slice fp.jsonl" in metrics_table(results)


def test_it_writes_at_least_200_false_positive_sentences_of_three_kinds() -> None:
    from ml.datasets import load_slice
    from ml.training_config import EVAL_DIR

    rows = load_slice(EVAL_DIR / "false_positives.jsonl")
    assert len(rows) >= 200 and rows.positives == 0
    assert set(rows.groups) == {"identity", "news_violence", "civil_criticism"}
    assert len(set(rows.texts)) == len(rows.texts)


def test_it_reports_brier_score_and_expected_calibration_error() -> None:
    metrics = binary_metrics([0, 0, 1, 1], np.array([0.05, 0.15, 0.85, 0.75]), {})
    assert metrics["brier"] == pytest.approx((0.05**2 + 0.15**2 + 0.15**2 + 0.25**2) / 4, abs=1e-4)
    # Bins [0, 0.1): 0.05 vs 0; [0.1, 0.2): 0.15 vs 0; [0.7, 0.8): 0.75 vs 1; [0.8, 0.9): 0.85 vs 1.
    assert metrics["ece"] == pytest.approx((0.05 + 0.15 + 0.25 + 0.15) / 4, abs=1e-4)
    assert "Brier" in metrics_table({"alice-set": metrics}) and "ECE" in metrics_table({"alice-set": metrics})


def test_it_puts_a_score_of_one_in_the_last_calibration_bin() -> None:
    from ml.evaluation import expected_calibration_error

    # Both scores share the last bin [0.9, 1.0]: mean score 0.975 vs one positive in two.
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([1.0, 0.95])) == pytest.approx(0.475)


def test_it_fits_platt_scaling_that_undoes_a_known_distortion() -> None:
    from scipy.special import expit

    from ml.evaluation import platt_fit

    rng = np.random.default_rng(11)
    true_logits = rng.normal(size=20_000) * 2
    labels = (rng.random(20_000) < expit(true_logits)).astype(int)
    slope, intercept = platt_fit(labels, (true_logits - 1.0) / 0.5)  # what a mis-weighted model would output
    assert slope == pytest.approx(0.5, abs=0.03)
    assert intercept == pytest.approx(1.0, abs=0.05)


def test_it_keeps_the_platt_slope_finite_on_separable_rows() -> None:
    from ml.evaluation import platt_fit

    slope, _ = platt_fit([0, 0, 1, 1], np.array([-2.0, -1.0, 1.0, 2.0]))
    assert 0 < slope < 10


def test_it_refuses_to_calibrate_scores_that_rank_the_wrong_way() -> None:
    from ml.evaluation import platt_fit

    with pytest.raises(ValueError, match="slope"):
        platt_fit([1, 1, 0, 0] * 10, np.array([-2.0, -1.0, 1.0, 2.0] * 10))


def test_it_scores_extra_heads_only_on_the_sets_that_label_them(
    attribute_artifacts: Path, attribute_data_dir: Path
) -> None:
    from ml.artifacts import load_model
    from ml.datasets import load_dataset
    from ml.evaluation import evaluate_attribute_heads
    from ml.training_config import parse_config
    from tests.ml.conftest import attribute_config_dict

    config = parse_config(attribute_config_dict())
    model = load_model(attribute_artifacts, "toxicity")
    datasets = [load_dataset(attribute_data_dir, spec, roles=frozenset({"test"})) for spec in config.test_sets]
    results = evaluate_attribute_heads(model, datasets)
    assert list(results) == ["INSULT"]
    assert list(results["INSULT"]) == ["tiny-insults"]
    insult = results["INSULT"]["tiny-insults"]
    assert insult["roc_auc"] > 0.5 and insult["brier"] is not None and "publish" in insult["at"]
