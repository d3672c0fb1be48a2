"""Train a model from a training config and write it as a new artifact version.

Rows of each data set's train split are weighted so that every set counts in proportion to the
square root of its size, with its two classes balanced; a stable tenth of them (by a hash of
the normalised text, so duplicates stay together) is held back to calibrate the probabilities
(Platt scaling, unweighted) and then choose the thresholds on the calibrated scores. Test splits
are never seen before the final metrics.

Each extra attribute head (INSULT, ...) is its own logistic regression on the rows of the sets
that label it, with the same features, weighting and augmentation, and the same held-back rows;
it ships only when it meets the config's ``attribute_heads`` rules, and the reason is recorded
either way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import platform
import random
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from ml.artifacts import ARTIFACT_FORMAT, ArtifactError, check_version_name, save_artifact
from ml.datasets import LoadedDataset, load_dataset
from ml.evaluation import (
    DEFAULT_THRESHOLD,
    binary_metrics,
    brier_score,
    choose_thresholds,
    evaluate_attribute_heads,
    evaluate_model,
    expected_calibration_error,
    platt_fit,
)
from ml.features import HashedTextFeatures, LexiconBlock
from ml.lexicon import switch_terms
from ml.model import Calibration, LinearTextModel
from ml.model_card import render_model_card
from ml.normalise import TRANSLITERATION_TABLES, normalise_text, transliteration_table
from ml.obfuscation import obfuscate_text
from ml.training_config import ThresholdRules, TrainingConfig

logger = logging.getLogger(__name__)


def default_version(model: str, today: dt.date) -> str:
    return f"{model}-{today:%Y.%m.%d}"


def sample_weights(
    train_sizes: Sequence[tuple[int, int]], dataset_weights: Sequence[float], weighting: str
) -> list[float]:
    """Return one weight per (data set, class), in the order (set 0 class 0, set 0 class 1, set 1 class 0, ...).

    ``sqrt``: a set's total weight is ``weight * sqrt(rows)``, split evenly between the classes it has.
    ``rows``: every row weighs its set's ``weight``.
    """
    per_class: list[float] = []
    for (negatives, positives), weight in zip(train_sizes, dataset_weights, strict=True):
        if weighting == "rows":
            per_class += [weight, weight]
            continue
        rows = negatives + positives
        classes = (negatives > 0) + (positives > 0)
        total = weight * rows**0.5
        per_class += [total / classes / count if count else 0.0 for count in (negatives, positives)]
    return per_class


def validation_mask(texts: Sequence[str], fraction: float) -> np.ndarray:
    """Mark a stable ``fraction`` of rows by a hash of their normalised text."""
    buckets = 10_000
    cutoff = round(fraction * buckets)
    return np.fromiter(
        (
            int.from_bytes(hashlib.sha256(normalise_text(text).encode("utf-8")).digest()[:8], "big") % buckets < cutoff
            for text in texts
        ),
        dtype=bool,
        count=len(texts),
    )


def prune_coefficients(coefficients: np.ndarray, max_nonzero: int | None) -> np.ndarray:
    """Keep the ``max_nonzero`` coefficients of largest magnitude and zero the rest."""
    pruned = coefficients.astype(np.float32)
    nonzero = np.count_nonzero(pruned)
    if max_nonzero is None or nonzero <= max_nonzero:
        return pruned
    flat = np.abs(pruned).ravel()
    cutoff = np.partition(flat, flat.size - max_nonzero)[flat.size - max_nonzero]
    pruned[np.abs(pruned) < cutoff] = 0.0
    return pruned


def augmented_training_set(
    config: TrainingConfig,
    features: HashedTextFeatures,
    rows: TrainingRows,
    matrix: sp.csr_matrix,
    held_back: np.ndarray,
    copies: sp.csr_matrix | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Return the training matrix, labels and weights; with augmentation, plus obfuscated copies of every row.

    Both classes are copied, so that obfuscation itself never becomes a sign of toxicity or spam.
    ``copies``, when given, are the obfuscated rows of ``matrix`` already featurised (see ``obfuscated_matrix``).
    """
    train = ~held_back
    x, y, w = matrix[train], rows.labels[train], rows.weights[train]
    rules = config.augmentation
    if not rules.obfuscated_copies:
        return x, y, w
    if copies is None:
        texts = [text for text, keep in zip(rows.texts, train.tolist(), strict=True) if keep]
        copies = obfuscated_matrix(config, features, texts)
    else:
        copies = copies[train]
    return (
        sp.csr_matrix(sp.vstack([x, copies], format="csr")),
        np.concatenate([y, y]),
        np.concatenate([w, w * rules.weight]),
    )


def augmentation_texts(config: TrainingConfig, texts: Sequence[str]) -> list[str]:
    """Return the augmentation copies of ``texts``: lexicon terms code-switched if configured, then obfuscated."""
    seed = config.augmentation.seed
    originals = texts
    if config.augmentation.code_switch:
        terms = {
            term: category for b in config.features.blocks if isinstance(b, LexiconBlock) for term, category in b.terms
        }
        texts = [switch_terms(text, terms, seed) for text in texts]
    if config.augmentation.keyboard_latin:
        texts = [
            keyboard_latin(features_text, original, seed) if _SOUTH_SLAVIC_LETTERS.search(original) else features_text
            for original, features_text in zip(originals, texts, strict=True)
        ]
    return [obfuscate_text(text, seed) for text in texts]


# Cyrillic, or the Latin letters with a caron that normalisation spells "ch", "sh", "zh".
_SOUTH_SLAVIC_LETTERS = re.compile("[\u0400-\u04ffčšžČŠŽ]")
_DIGRAPHS = re.compile("([csz])h")
# The spellings Ukrainian and Russian readers choose between when they type in Latin letters: "ja" or
# "ya", "shch", "sch" or "shh", Russian "h", "kh" or "x", "c" or "ts".
_J_SYLLABLE = re.compile("y(?=[aeiou])")
_SHCH = re.compile("shch")
_LONE_H = re.compile("(?<![csz])h")
_LONE_C = re.compile("c(?!h)")


def keyboard_latin(text: str, original: str | None = None, seed: int = 0) -> str:
    """Spell a normalised text as readers type it in Latin letters.

    Serbian and the other South Slavic languages lose their digraphs ("ch", "sh", "zh" as "c", "s",
    "z", typed without diacritics); a Ukrainian or Russian ``original`` gets one of its readers'
    Latin spellings, chosen from ``seed`` and the text, so that the model meets them all.
    """
    normalised = normalise_text(text)
    table = None if original is None else transliteration_table(original.casefold())
    if table is None or table is TRANSLITERATION_TABLES[0]:
        return _DIGRAPHS.sub(r"\1", normalised)
    rng = random.Random(f"{seed}:{normalised}".encode("utf-8", "surrogatepass"))  # noqa: S311 (not secrecy)
    if rng.random() < 0.5:
        normalised = _J_SYLLABLE.sub("j", normalised)
    shch, h, c = rng.choice(["shch", "sch", "shh"]), rng.choice(["h", "kh", "x"]), rng.choice(["c", "ts"])
    normalised = _LONE_C.sub(c, _SHCH.sub("\0", normalised))
    if table is TRANSLITERATION_TABLES[2]:
        # A Russian "h" is always one letter, so its other spellings apply; a Ukrainian "h" may be
        # either of two, and stays.
        normalised = _LONE_H.sub(h, normalised)
    return normalised.replace("\0", shch)


def obfuscated_matrix(config: TrainingConfig, features: HashedTextFeatures, texts: Sequence[str]) -> sp.csr_matrix:
    """Featurise the augmentation copies of ``texts`` (each depends only on its text and the seed)."""
    return features.matrix(augmentation_texts(config, texts))


@dataclass
class TrainingRows:
    """Training rows with their main labels and weights; ``attributes`` holds, per extra attribute, one
    label per row (-1 where the row's set does not label it)."""

    texts: list[str]
    labels: np.ndarray
    weights: np.ndarray
    dataset_index: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)


def training_rows(datasets: Sequence[LoadedDataset], weighting: str) -> TrainingRows:
    sizes = [(len(d.train) - d.train.positives, d.train.positives) for d in datasets]
    per_class = sample_weights(sizes, [d.spec.weight for d in datasets], weighting)
    texts: list[str] = []
    labels: list[int] = []
    weights: list[float] = []
    dataset_index: list[int] = []
    for index, dataset in enumerate(datasets):
        texts += dataset.train.texts
        labels += dataset.train.labels
        weights += [per_class[2 * index + label] for label in dataset.train.labels]
        dataset_index += [index] * len(dataset.train)
    weight_array = np.asarray(weights, dtype=np.float64)
    names = sorted({name for dataset in datasets for name in dataset.spec.attributes})
    attributes = {
        name: np.concatenate(
            [np.asarray(d.train.attributes.get(name, [-1] * len(d.train)), dtype=np.int64) for d in datasets]
        )
        for name in names
    }
    return TrainingRows(
        texts=texts,
        labels=np.asarray(labels, dtype=np.int64),
        weights=weight_array / weight_array.mean(),
        dataset_index=np.asarray(dataset_index, dtype=np.int64),
        attributes=attributes,
    )


def attribute_rows(
    rows: TrainingRows, datasets: Sequence[LoadedDataset], attribute: str, weighting: str
) -> tuple[np.ndarray, TrainingRows]:
    """Return the indices of the rows labelled for ``attribute`` and those rows, labelled and weighted for it.

    Weights follow ``sample_weights`` over the sets that label the attribute, with its classes balanced.
    """
    labels = rows.attributes.get(attribute, np.full(len(rows.texts), -1, dtype=np.int64))
    index = np.flatnonzero(labels >= 0)
    head_labels = labels[index]
    head_sets = rows.dataset_index[index]
    sizes = [
        (int(((head_sets == d) & (head_labels == 0)).sum()), int(((head_sets == d) & (head_labels == 1)).sum()))
        for d in range(len(datasets))
    ]
    per_class = np.asarray(sample_weights(sizes, [d.spec.weight for d in datasets], weighting))
    weights = per_class[2 * head_sets + head_labels] if len(index) else np.zeros(0)
    return index, TrainingRows(
        texts=[rows.texts[i] for i in index.tolist()],
        labels=head_labels,
        weights=weights / weights.mean() if len(index) else weights,
        dataset_index=head_sets,
    )


@dataclass
class FittedHead:
    """One attribute head: raw (uncalibrated) weights after pruning, and what the fit reported."""

    coefficients: np.ndarray
    intercept: float
    nonzero_before_pruning: int
    iterations: int
    warnings: list[str]


def fit_head(
    config: TrainingConfig,
    features: HashedTextFeatures,
    rows: TrainingRows,
    matrix: sp.csr_matrix,
    held_back: np.ndarray,
    copies: sp.csr_matrix | None,
    max_nonzero: int | None,
) -> FittedHead:
    """Fit one logistic-regression head on the rows not held back (plus their augmentation copies) and prune it."""
    classifier = LogisticRegression(C=config.regularisation, solver="liblinear", max_iter=config.max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classifier.fit(*augmented_training_set(config, features, rows, matrix, held_back, copies))
    return FittedHead(
        coefficients=prune_coefficients(classifier.coef_, max_nonzero)[0],
        intercept=float(classifier.intercept_[0]),
        nonzero_before_pruning=int(np.count_nonzero(classifier.coef_)),
        iterations=int(np.max(classifier.n_iter_)),
        warnings=sorted({str(w.message) for w in caught}),
    )


def raw_decision_values(head: FittedHead, matrix: sp.csr_matrix) -> np.ndarray:
    return np.asarray(matrix @ head.coefficients.astype(np.float64), dtype=np.float64).ravel() + head.intercept


def calibrate(
    config: TrainingConfig, labels: np.ndarray, raw: np.ndarray, attribute: str
) -> tuple[float, float, dict[str, Any]]:
    """Fit the Platt scaling of one head on its plain validation rows; return ``(a, b, report)``.

    With a ``calibration_prior`` for the attribute, the intercept then moves by the difference of the
    log-odds of that prior and of the validation rows' share of positives (the standard correction
    for a change of base rate): the probabilities are those of a stream with the prior's share.
    """
    before = {"brier": brier_score(labels, expit(raw)), "ece": expected_calibration_error(labels, expit(raw))}
    if config.calibration == "none":
        return 1.0, 0.0, {"method": "none", "slope": 1.0, "intercept": 0.0, "validation_before": _rounded(before)}
    slope, intercept = platt_fit(labels, raw)
    calibrated = expit(slope * raw + intercept)
    after = {"brier": brier_score(labels, calibrated), "ece": expected_calibration_error(labels, calibrated)}
    report: dict[str, Any] = {
        "method": "platt",
        "slope": slope,
        "intercept": intercept,
        "validation_before": _rounded(before),
        "validation_after": _rounded(after),
    }
    prior = config.calibration_prior.get(attribute)
    if prior is not None:
        observed = float(np.mean(labels))
        shift = float(logit(prior) - logit(observed))
        intercept += shift
        report["intercept"] = intercept
        report["prior"] = {"validation_share": round(observed, 4), "target_share": prior, "intercept_shift": shift}
    return slope, intercept, report


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 4) for key, value in values.items()}


@dataclass
class HeadOutcome:
    attribute: str
    head: FittedHead | None
    calibration: tuple[float, float]
    report: dict[str, Any]
    reason: str | None = None  # why the head is left out; None when it ships


def extra_head(
    config: TrainingConfig,
    features: HashedTextFeatures,
    datasets: Sequence[LoadedDataset],
    rows: TrainingRows,
    matrix: sp.csr_matrix,
    held_back: np.ndarray,
    copies: sp.csr_matrix | None,
    attribute: str,
) -> HeadOutcome:
    """Train one extra attribute head when its data allow and judge it by the config's rules."""
    rules = config.attribute_heads
    index, head_rows = attribute_rows(rows, datasets, attribute, config.dataset_weighting)
    head_held_back = held_back[index]
    train_labels, validation_labels = head_rows.labels[~head_held_back], head_rows.labels[head_held_back]
    report: dict[str, Any] = {
        "train_rows": len(train_labels),
        "train_positives": int(train_labels.sum()),
        "validation_rows": len(validation_labels),
        "validation_positives": int(validation_labels.sum()),
        "training_data": {
            datasets[d].spec.name: {
                "rows": int((head_rows.dataset_index == d).sum()),
                "positives": int(head_rows.labels[head_rows.dataset_index == d].sum()),
            }
            for d in sorted(set(head_rows.dataset_index.tolist()))
        },
    }

    def left_out(reason: str, head: FittedHead | None = None) -> HeadOutcome:
        return HeadOutcome(attribute, head, (1.0, 0.0), report, reason)

    if not len(index):
        return left_out("no training data set labels it")
    if report["train_positives"] < rules.min_train_positives:
        return left_out(f"{report['train_positives']} training positives, fewer than {rules.min_train_positives}")
    if report["validation_positives"] < rules.min_validation_positives:
        return left_out(
            f"{report['validation_positives']} validation positives, fewer than {rules.min_validation_positives}"
        )
    if report["validation_positives"] == report["validation_rows"] or report["train_positives"] == len(train_labels):
        return left_out("no negative rows to learn from or validate on")
    head_copies = copies[index] if copies is not None else None
    head = fit_head(config, features, head_rows, matrix[index], head_held_back, head_copies, rules.max_nonzero_weights)
    raw = raw_decision_values(head, matrix[index][head_held_back])
    auc = binary_metrics(validation_labels, expit(raw), {})["roc_auc"]
    report["validation_roc_auc"] = auc
    if auc is None or auc < rules.min_validation_roc_auc:
        return left_out(f"validation ROC AUC {auc}, below {rules.min_validation_roc_auc}", head)
    try:
        slope, intercept, calibration_report = calibrate(config, validation_labels, raw, attribute)
    except ValueError as exc:
        return left_out(f"cannot be calibrated: {exc}", head)
    report["calibration"] = calibration_report
    scores = expit(slope * raw + intercept)
    thresholds = choose_thresholds(validation_labels, scores, ThresholdRules())
    report["thresholds"] = thresholds
    report["validation"] = binary_metrics(validation_labels, scores, {"0.5": DEFAULT_THRESHOLD, **thresholds})
    return HeadOutcome(attribute, head, (slope, intercept), report)


def train_model(
    config: TrainingConfig,
    data_dir: Path,
    artifacts_dir: Path,
    version: str | None = None,
    today: dt.date | None = None,
) -> Path:
    """Train, evaluate on the held-out test splits, and save; return the new version directory."""
    started = time.monotonic()
    version = version or default_version(config.model, today or dt.datetime.now(dt.UTC).date())
    check_version_name(config.model, version)
    if (artifacts_dir / config.model / version).exists():
        raise ArtifactError(f"{artifacts_dir / config.model / version} already exists; pass another --version")

    datasets = [load_dataset(data_dir, spec) for spec in config.datasets]
    for dataset in datasets:
        logger.info("%s: %d train rows, %d test rows", dataset.spec.name, len(dataset.train), len(dataset.test))
    with_train_rows = [d for d in datasets if len(d.train)]
    rows = training_rows(with_train_rows, config.dataset_weighting)
    held_back = validation_mask(rows.texts, config.validation_fraction)
    if len(set(rows.labels[held_back].tolist())) < 2 or len(set(rows.labels[~held_back].tolist())) < 2:
        raise ValueError("the training and validation rows each need both labels; add more data")

    features = HashedTextFeatures(config.features)
    matrix = features.matrix(rows.texts)
    logger.info("features: %d rows x %d columns, %d non-zero", matrix.shape[0], matrix.shape[1], matrix.nnz)
    copies = obfuscated_matrix(config, features, rows.texts) if config.augmentation.obfuscated_copies else None
    main = fit_head(config, features, rows, matrix, held_back, copies, config.max_nonzero_weights)
    validation_labels = rows.labels[held_back]
    main_raw = raw_decision_values(main, matrix[held_back])
    try:
        main_slope, main_intercept, main_calibration = calibrate(config, validation_labels, main_raw, config.attribute)
    except ValueError as exc:
        raise ValueError(f"{config.attribute}: {exc}") from exc

    outcomes = []
    for attribute in config.attribute_heads.attributes:
        logger.info("training the %s head", attribute)
        outcomes.append(extra_head(config, features, with_train_rows, rows, matrix, held_back, copies, attribute))
    shipped = [outcome for outcome in outcomes if outcome.reason is None and outcome.head is not None]
    for outcome in outcomes:
        if outcome.reason is not None:
            logger.info("%s left out: %s", outcome.attribute, outcome.reason)

    heads = [main] + [outcome.head for outcome in shipped if outcome.head is not None]
    attributes = [config.attribute] + [outcome.attribute for outcome in shipped]
    raw_model = LinearTextModel(
        name=config.model,
        version=version,
        attributes=attributes,
        features=features,
        coefficients=np.vstack([head.coefficients for head in heads]).astype(np.float32),
        intercepts=np.asarray([head.intercept for head in heads]),
    )
    model = raw_model.recalibrated(
        Calibration(
            slopes=np.asarray([main_slope] + [outcome.calibration[0] for outcome in shipped]),
            intercepts=np.asarray([main_intercept] + [outcome.calibration[1] for outcome in shipped]),
        )
    )
    del raw_model

    validation_scores = model.probabilities_from_matrix(matrix[held_back])[:, 0]
    thresholds = choose_thresholds(validation_labels, validation_scores, config.thresholds)
    model.thresholds = {config.attribute: thresholds}
    model.thresholds.update({outcome.attribute: outcome.report["thresholds"] for outcome in shipped})
    validation = binary_metrics(validation_labels, validation_scores, {"0.5": DEFAULT_THRESHOLD, **thresholds})
    test_metrics = evaluate_model(model, datasets, config.attribute, config.evaluation)
    attribute_metrics = evaluate_attribute_heads(model, datasets)

    meta: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "name": config.model,
        "version": version,
        "attributes": attributes,
        "description": config.description,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "features": config.features.to_json(),
        "classifier": {
            "type": "sklearn.linear_model.LogisticRegression",
            "solver": "liblinear",
            "C": config.regularisation,
            "max_iter": config.max_iter,
            "iterations": main.iterations,
            "dataset_weighting": config.dataset_weighting,
            "nonzero_coefficients_before_pruning": main.nonzero_before_pruning,
            "max_nonzero_weights": config.max_nonzero_weights,
            "warnings": main.warnings,
        },
        "weights": {},
        "thresholds": model.thresholds,
        "threshold_rules": {
            "chosen_on": "validation rows (held back from the train splits), unweighted, calibrated scores",
            "publish": "score maximising F1; at or above it a comment is held",
            "reject": _reject_rule(config),
        },
        "calibration_rule": _calibration_rule(config),
        "calibration": {config.attribute: main_calibration}
        | {outcome.attribute: outcome.report["calibration"] for outcome in shipped},
        "attribute_heads": {
            "rules": {
                "min_train_positives": config.attribute_heads.min_train_positives,
                "min_validation_positives": config.attribute_heads.min_validation_positives,
                "min_validation_roc_auc": config.attribute_heads.min_validation_roc_auc,
                "max_nonzero_weights": config.attribute_heads.max_nonzero_weights,
            },
            "shipped": {outcome.attribute: _head_summary(outcome) for outcome in shipped if outcome.head is not None},
            "left_out": {outcome.attribute: outcome.reason for outcome in outcomes if outcome.reason is not None},
        },
        "training_data": [_dataset_summary(d, held_back, rows, index) for index, d in enumerate(with_train_rows)],
        "test_only_data": [_dataset_summary(d) for d in datasets if not len(d.train)],
        "validation": validation,
        "metrics": test_metrics,
        "attribute_metrics": attribute_metrics,
        "libraries": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "training_seconds": round(time.monotonic() - started, 1),
        "config": config.raw,
    }
    path = save_artifact(artifacts_dir, model, meta, render_model_card(meta))
    logger.info("wrote %s in %.0f s", path, time.monotonic() - started)
    return path


def _head_summary(outcome: HeadOutcome) -> dict[str, Any]:
    assert outcome.head is not None
    summary = {key: value for key, value in outcome.report.items() if key not in ("calibration", "thresholds")}
    return summary | {
        "iterations": outcome.head.iterations,
        "nonzero_coefficients_before_pruning": outcome.head.nonzero_before_pruning,
        "warnings": outcome.head.warnings,
    }


def _calibration_rule(config: TrainingConfig) -> str:
    if config.calibration == "none":
        return "none: probabilities are the classifier's own"
    rule = (
        "Platt scaling per head, p = sigmoid(a * z + b) on the classifier's log-odds z, fitted by maximum "
        "likelihood on the validation rows (held back, unweighted, not augmented); folded into the weights"
    )
    if config.calibration_prior:
        shares = ", ".join(f"{name} {share:g}" for name, share in sorted(config.calibration_prior.items()))
        rule += (
            f"; then b moves by logit(prior) - logit(validation share of positives), for traffic with these "
            f"shares of positives: {shares}"
        )
    return rule


def _reject_rule(config: TrainingConfig) -> str:
    rules = config.thresholds
    if rules.reject_min_precision is None:
        return "none: this model never rejects on its own"
    rule = f"lowest score with precision >= {rules.reject_min_precision}"
    if rules.reject_max_false_positive_rate is not None:
        rule += f" and false positive rate <= {rules.reject_max_false_positive_rate}"
    return rule + " on validation; null when no score meets it"


def _dataset_summary(
    dataset: LoadedDataset,
    held_back: np.ndarray | None = None,
    rows: TrainingRows | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    spec = dataset.spec
    summary: dict[str, Any] = {
        "name": spec.name,
        "folder": spec.folder,
        "licence": spec.licence,
        "training_allowed": spec.training_allowed,
        "source": spec.source,
        "files": [fingerprint.to_json() for fingerprint in dataset.files],
        "test_rows": len(dataset.test),
        "test_positives": dataset.test.positives,
    }
    if spec.note:
        summary["note"] = spec.note
    if rows is not None and held_back is not None and index is not None:
        in_set = rows.dataset_index == index
        summary.update(
            {
                "train_rows": int((in_set & ~held_back).sum()),
                "train_positives": int(rows.labels[in_set & ~held_back].sum()),
                "validation_rows": int((in_set & held_back).sum()),
                "weight": spec.weight,
                "row_weight_negative": round(float(rows.weights[in_set & (rows.labels == 0)].max(initial=0)), 4),
                "row_weight_positive": round(float(rows.weights[in_set & (rows.labels == 1)].max(initial=0)), 4),
            }
        )
    return summary
