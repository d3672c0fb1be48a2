"""Held-out metrics (ROC AUC, PR AUC, Brier score, expected calibration error, precision / recall / F1 /
FPR at thresholds), threshold choice, and the Platt scaling fitted on validation rows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.metrics import average_precision_score, roc_auc_score

from ml.datasets import LabelledTexts, LoadedDataset, load_slice
from ml.model import LinearTextModel
from ml.obfuscation import obfuscate_positives
from ml.training_config import EVAL_DIR, EvaluationRules, ThresholdRules

DEFAULT_THRESHOLD = 0.5
CALIBRATION_BINS = 10


def brier_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean squared difference between the probability and the 0/1 label (lower is better)."""
    return float(np.mean((scores - labels) ** 2))


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Share-weighted mean gap between the mean score and the share of positives, over equal-width score bins."""
    which = np.minimum((scores * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    score_sums = np.bincount(which, weights=scores, minlength=bins)
    gaps = np.abs(score_sums - np.bincount(which, weights=labels, minlength=bins))
    return float(gaps.sum() / max(counts.sum(), 1))


def platt_fit(labels: Sequence[int] | np.ndarray, decision_values: np.ndarray) -> tuple[float, float]:
    """Fit ``p = sigmoid(a * z + b)`` to the labels by maximum likelihood (unweighted); return ``(a, b)``.

    As in Platt (1999), the targets are ``(positives + 1) / (positives + 2)`` and ``1 / (negatives + 2)``
    rather than 1 and 0, so that separable rows give a finite slope instead of a step. Raise
    ``ValueError`` when the labels have one class or the fitted slope is not positive (scores that
    rank the wrong way round cannot be calibrated by a monotone map).
    """
    y = np.asarray(labels, dtype=np.float64)
    z = np.asarray(decision_values, dtype=np.float64)
    positives = float(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("calibration needs both classes in the validation rows")
    targets = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss_and_gradient(params: np.ndarray) -> tuple[float, np.ndarray]:
        logits = params[0] * z + params[1]
        residual = expit(logits) - targets
        loss = float(np.mean(np.logaddexp(0.0, logits) - targets * logits))
        return loss, np.array([np.mean(residual * z), np.mean(residual)])

    result = minimize(loss_and_gradient, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    slope, intercept = (float(value) for value in result.x)
    if not (slope > 0 and np.isfinite(intercept)):
        raise ValueError(f"the fitted calibration slope is {slope:.3g}; the scores do not rank positives higher")
    return slope, intercept


def _cumulative_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return, per distinct score from the highest down, the threshold and the true and false positives at it."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_labels = labels[order]
    true_positives = np.cumsum(sorted_labels)
    false_positives = np.cumsum(1 - sorted_labels)
    last_of_tie = np.r_[np.diff(sorted_scores) != 0, True]
    return sorted_scores[last_of_tie], true_positives[last_of_tie], false_positives[last_of_tie]


def choose_thresholds(labels: Sequence[int], scores: np.ndarray, rules: ThresholdRules) -> dict[str, float | None]:
    """Pick ``publish`` (maximum F1) and, when the rules ask, ``reject`` (lowest score meeting the targets)."""
    y = np.asarray(labels, dtype=np.int64)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("choosing thresholds needs both classes in the validation rows")
    thresholds, tp, fp = _cumulative_counts(y, np.asarray(scores, dtype=np.float64))
    f1 = 2 * tp / (tp + fp + positives)
    chosen: dict[str, float | None] = {"publish": round(float(thresholds[int(np.argmax(f1))]), 4), "reject": None}
    if rules.reject_min_precision is not None:
        meets = tp / (tp + fp) >= rules.reject_min_precision
        if rules.reject_max_false_positive_rate is not None:
            meets &= fp / negatives <= rules.reject_max_false_positive_rate
        if meets.any():
            lowest = float(thresholds[np.flatnonzero(meets)[-1]])
            # Round up so that rounding never lets in a score the rules excluded.
            chosen["reject"] = max(math.ceil(lowest * 10_000) / 10_000, chosen["publish"] or 0.0)
    return chosen


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def metrics_at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    flagged = scores >= threshold
    tp = int((flagged & (labels == 1)).sum())
    fp = int((flagged & (labels == 0)).sum())
    positives = int(labels.sum())
    negatives = len(labels) - positives
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, positives)
    f1 = _ratio(2 * tp, 2 * tp + fp + (positives - tp)) if positives else None
    return {
        "threshold": threshold,
        "flagged": int(flagged.sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": _ratio(fp, negatives),
    }


def binary_metrics(labels: Sequence[int], scores: np.ndarray, thresholds: Mapping[str, float | None]) -> dict[str, Any]:
    """Return rank metrics (``None`` when a class is absent) and metrics at each named threshold."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    positives = int(y.sum())
    both_classes = 0 < positives < len(y)
    return {
        "rows": len(y),
        "positives": positives,
        "roc_auc": round(float(roc_auc_score(y, s)), 4) if both_classes else None,
        "pr_auc": round(float(average_precision_score(y, s)), 4) if both_classes else None,
        "brier": round(brier_score(y, s), 4) if len(y) else None,
        "ece": round(expected_calibration_error(y, s), 4) if len(y) else None,
        "at": {name: metrics_at_threshold(y, s, value) for name, value in thresholds.items() if value is not None},
    }


def evaluation_thresholds(model: LinearTextModel, attribute: str) -> dict[str, float | None]:
    suggested = model.thresholds.get(attribute, {})
    return {"0.5": DEFAULT_THRESHOLD, "publish": suggested.get("publish"), "reject": suggested.get("reject")}


def _test_metrics(
    model: LinearTextModel, column: int, rows: LabelledTexts, thresholds: Mapping[str, float | None], group_label: str
) -> dict[str, Any]:
    scores = model.probabilities(rows.texts)[:, column]
    metrics = binary_metrics(rows.labels, scores, thresholds)
    if group_label:
        groups = np.asarray(rows.groups)
        labels = np.asarray(rows.labels)
        metrics["groups"] = {
            f"{group_label}={value}": binary_metrics(labels[groups == value], scores[groups == value], thresholds)
            for value in sorted(set(rows.groups))
        }
    return metrics


def evaluate_model(
    model: LinearTextModel,
    datasets: Sequence[LoadedDataset],
    attribute: str,
    rules: EvaluationRules | None = None,
    eval_dir: Path = EVAL_DIR,
) -> dict[str, Any]:
    """Score every data set's test rows (and, per ``rules``, their obfuscated copies and the slices)."""
    rules = rules or EvaluationRules()
    column = model.attributes.index(attribute)
    thresholds = evaluation_thresholds(model, attribute)
    results: dict[str, Any] = {}
    datasets = [dataset for dataset in datasets if not dataset.spec.attributes_only]
    for dataset in datasets:
        if not len(dataset.test):
            continue
        group_label = dataset.spec.group_column or ""
        results[dataset.spec.name] = _test_metrics(model, column, dataset.test, thresholds, group_label)
    if rules.obfuscated_copies:
        for dataset in datasets:
            if not dataset.test.positives:
                continue
            copy = LabelledTexts(
                texts=obfuscate_positives(dataset.test.texts, dataset.test.labels, rules.seed),
                labels=dataset.test.labels,
                groups=dataset.test.groups,
            )
            results[f"{dataset.spec.name} (obfuscated)"] = _test_metrics(model, column, copy, thresholds, "")
    for name in rules.slices:
        results[f"slice {name}"] = _test_metrics(model, column, load_slice(eval_dir / name), thresholds, "kind")
    return results


def evaluate_attribute_heads(
    model: LinearTextModel, datasets: Sequence[LoadedDataset], attributes: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Score each extra head on the test rows of the data sets that label it: ``{attribute: {set: metrics}}``.

    ``attributes`` defaults to every head of the model but the first; a head no test set labels is left out.
    """
    wanted = list(model.attributes[1:] if attributes is None else attributes)
    results: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        labelled = [attribute for attribute in wanted if attribute in dataset.spec.attributes]
        if not labelled or not len(dataset.test):
            continue
        probabilities = model.probabilities(dataset.test.texts)
        for attribute in labelled:
            rows = dataset.test.attribute(attribute)
            metrics = binary_metrics(
                rows.labels,
                probabilities[:, model.attributes.index(attribute)],
                evaluation_thresholds(model, attribute),
            )
            results.setdefault(attribute, {})[dataset.spec.name] = metrics
    return {attribute: results[attribute] for attribute in wanted if attribute in results}


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def metrics_table(results: Mapping[str, Any]) -> str:
    """Render per-data-set metrics as a fixed-width text table."""
    header = (
        "test set",
        "rows",
        "pos",
        "ROC AUC",
        "PR AUC",
        "Brier",
        "ECE",
        "F1@0.5",
        "FPR@0.5",
        "F1@pub",
        "P@pub",
        "R@pub",
        "FPR@pub",
        "P@rej",
        "FPR@rej",
    )
    lines = [header]
    for name, metrics in results.items():
        rows = [(name, metrics)]
        rows += [(f"  {group}", group_metrics) for group, group_metrics in metrics.get("groups", {}).items()]
        for label, m in rows:
            at = m["at"]
            default = at.get("0.5", {})
            publish = at.get("publish", {})
            reject = at.get("reject", {})
            lines.append(
                (
                    label,
                    str(m["rows"]),
                    str(m["positives"]),
                    _cell(m["roc_auc"]),
                    _cell(m["pr_auc"]),
                    _cell(m.get("brier")),
                    _cell(m.get("ece")),
                    _cell(default.get("f1")),
                    _cell(default.get("false_positive_rate")),
                    _cell(publish.get("f1")),
                    _cell(publish.get("precision")),
                    _cell(publish.get("recall")),
                    _cell(publish.get("false_positive_rate")),
                    _cell(reject.get("precision")),
                    _cell(reject.get("false_positive_rate")),
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )
