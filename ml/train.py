"""Train a model from a training config and write it as a new artifact version.

Rows of each data set's train split are weighted so that every set counts in proportion to the
square root of its size, with its two classes balanced; a stable tenth of them (by a hash of
the normalised text, so duplicates stay together) is held back to choose the thresholds. Test
splits are never seen before the final metrics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import platform
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression

from ml.artifacts import ARTIFACT_FORMAT, ArtifactError, check_version_name, save_artifact
from ml.datasets import LoadedDataset, load_dataset
from ml.evaluation import DEFAULT_THRESHOLD, binary_metrics, choose_thresholds, evaluate_model
from ml.features import HashedTextFeatures
from ml.model import LinearTextModel
from ml.model_card import render_model_card
from ml.normalise import normalise_text
from ml.obfuscation import obfuscate_text
from ml.training_config import TrainingConfig

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
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Return the training matrix, labels and weights; with augmentation, plus obfuscated copies of every row.

    Both classes are copied, so that obfuscation itself never becomes a sign of toxicity or spam.
    """
    train = ~held_back
    x, y, w = matrix[train], rows.labels[train], rows.weights[train]
    rules = config.augmentation
    if not rules.obfuscated_copies:
        return x, y, w
    texts = [text for text, keep in zip(rows.texts, train.tolist(), strict=True) if keep]
    copies = features.matrix([obfuscate_text(text, rules.seed) for text in texts])
    return (
        sp.csr_matrix(sp.vstack([x, copies], format="csr")),
        np.concatenate([y, y]),
        np.concatenate([w, w * rules.weight]),
    )


@dataclass
class TrainingRows:
    texts: list[str]
    labels: np.ndarray
    weights: np.ndarray
    dataset_index: np.ndarray


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
    return TrainingRows(
        texts=texts,
        labels=np.asarray(labels, dtype=np.int64),
        weights=weight_array / weight_array.mean(),
        dataset_index=np.asarray(dataset_index, dtype=np.int64),
    )


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
    classifier = LogisticRegression(C=config.regularisation, solver="liblinear", max_iter=config.max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classifier.fit(*augmented_training_set(config, features, rows, matrix, held_back))
    nonzero_before = int(np.count_nonzero(classifier.coef_))
    model = LinearTextModel(
        name=config.model,
        version=version,
        attributes=[config.attribute],
        features=features,
        coefficients=prune_coefficients(classifier.coef_, config.max_nonzero_weights),
        intercepts=classifier.intercept_,
    )

    validation_scores = model.probabilities_from_matrix(matrix[held_back])[:, 0]
    validation_labels = rows.labels[held_back]
    thresholds = choose_thresholds(validation_labels, validation_scores, config.thresholds)
    model.thresholds = {config.attribute: thresholds}
    validation = binary_metrics(validation_labels, validation_scores, {"0.5": DEFAULT_THRESHOLD, **thresholds})
    test_metrics = evaluate_model(model, datasets, config.attribute, config.evaluation)

    meta: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "name": config.model,
        "version": version,
        "attributes": [config.attribute],
        "description": config.description,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "features": config.features.to_json(),
        "classifier": {
            "type": "sklearn.linear_model.LogisticRegression",
            "solver": "liblinear",
            "C": config.regularisation,
            "max_iter": config.max_iter,
            "iterations": int(np.max(classifier.n_iter_)),
            "dataset_weighting": config.dataset_weighting,
            "nonzero_coefficients_before_pruning": nonzero_before,
            "max_nonzero_weights": config.max_nonzero_weights,
            "warnings": sorted({str(w.message) for w in caught}),
        },
        "weights": {},
        "thresholds": model.thresholds,
        "threshold_rules": {
            "chosen_on": "validation rows (held back from the train splits), unweighted",
            "publish": "score maximising F1; at or above it a comment is held",
            "reject": _reject_rule(config),
        },
        "training_data": [_dataset_summary(d, held_back, rows, index) for index, d in enumerate(with_train_rows)],
        "test_only_data": [_dataset_summary(d) for d in datasets if not len(d.train)],
        "validation": validation,
        "metrics": test_metrics,
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
