"""Learn from moderators' labels without forgetting: fine-tuning anchored on a shipped model, and gates.

A deployed instance has no public data sets, only a few hundred or thousand labels of its own.
``fine_tune`` fits one attribute's logistic-regression head to those labels with a Gaussian prior
centred on the shipped coefficients (maximum a posteriori), so every weight the labels do not
touch stays exactly as shipped and the ones they touch move only as far as the evidence pushes.
An anchor of the project's own corpus, scored by the shipped model, holds the n-grams the labels
share with everyday text (``you are``, ``comment``) where the shipped model had them: sixty labels
that teach one new insult then move that insult, not every sentence that shares a word with it.

``gates_compare`` decides whether a candidate may replace the active model: it must not be worse
on any gate (AUC on the held-out window, false-positive rate at the publish threshold, AUC with
the toxic rows obfuscated, the false-positive slice, and any extra test sets). ``head_gates_compare``
adds the gates of an extra head refitted on civil labels alone (``fine_tune_civil``), where no AUC
can be measured.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from ml.corpus import read_corpus
from ml.features import HashedTextFeatures
from ml.model import LinearTextModel
from ml.obfuscation import obfuscate_positives

FALSE_POSITIVE_SLICE = Path(__file__).resolve().parent / "eval" / "false_positives.jsonl"
POSITIVE_SLICE = FALSE_POSITIVE_SLICE.with_name("positives.jsonl")
# Metrics may tie to rounding; "not worse" allows this much.
TOLERANCE = 1e-6
# The rows of the corpus the anchor keeps (every k-th, in file order): enough to cover the common
# n-grams of every language in it, few enough to hash in a fraction of a second.
ANCHOR_ROWS = 2000


@dataclass(frozen=True)
class Anchor:
    """Texts the candidate should score as the shipped model does, weighing as ``weight`` labels."""

    texts: Sequence[str]
    weight: float
    # Their feature rows, per feature spec: every head of a model refitted in turn hashes them once.
    _rows: dict[Any, sp.csr_matrix] = field(default_factory=dict, compare=False, repr=False)

    def matrix(self, features: HashedTextFeatures) -> sp.csr_matrix:
        if features.spec not in self._rows:
            self._rows[features.spec] = features.matrix(list(self.texts)).tocsr()
        return self._rows[features.spec]


def corpus_anchor(rows: int = ANCHOR_ROWS) -> Anchor:
    """Every k-th row of the project's training corpus, weighing as much as the whole corpus.

    The shipped model learned from (at least) those rows; a few dozen labels should move it
    against them only as far as their number says.
    """
    corpus = [row.text for row in read_corpus("train")]
    if not corpus:
        return Anchor(texts=(), weight=0.0)
    step = max(1, len(corpus) // rows)
    return Anchor(texts=corpus[::step][:rows], weight=float(len(corpus)))


def fine_tune(
    base: LinearTextModel,
    *,
    attribute: str,
    texts: Sequence[str],
    labels: Sequence[int],
    version: str,
    prior_strength: float = 20.0,
    anchor: Anchor | None = None,
) -> LinearTextModel:
    """Return a copy of ``base`` whose ``attribute`` head is refitted to the labels (MAP, prior at ``base``).

    Every other head is copied unchanged. The weights are those of the calibrated log-odds (see
    ``ml.model``), so the refitted head stays calibrated the way the labels say; its recorded
    calibration is kept as shipped.

    ``prior_strength`` is the precision of the prior per coefficient, relative to the number of
    labels: larger keeps the candidate closer to the shipped model.

    ``anchor`` (by default ``corpus_anchor()``) adds texts whose targets are the shipped model's
    own probabilities ("learning without forgetting"): at the shipped weights they cost nothing
    and push nothing, but a move of a column they contain costs in proportion to how many of
    them it changes and to ``anchor.weight``. Only the columns the labels contain ever move.
    """
    if len(texts) != len(labels) or not texts:
        raise ValueError("fine-tuning needs texts and as many labels, at least one")
    y = np.asarray(labels, dtype=np.float64)
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise ValueError("labels must be 0 or 1")
    row = base.attributes.index(attribute)
    matrix = base.features.matrix(list(texts)).tocsr()
    touched = np.unique(matrix.indices)  # the columns (hashed n-grams) the labelled texts contain
    x = matrix[:, touched].tocsr()
    w0 = np.asarray(base.coefficients[row, touched], dtype=np.float64)
    b0 = float(base.intercepts[row])
    n = len(y)
    strength = prior_strength / n
    anchor = corpus_anchor() if anchor is None else anchor
    if anchor.texts:
        anchor_matrix = anchor.matrix(base.features)
        anchor_z0 = anchor_matrix @ base.coefficients[row].astype(np.float64) + b0
        anchor_targets = expit(anchor_z0)
        anchor_x = anchor_matrix[:, touched].tocsr()
        # Each anchor text weighs as weight / len(texts) labels; the labels' loss is a mean over n.
        anchor_scale = anchor.weight / len(anchor.texts) / n

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w + b0
        # log(1 + e^z) - y z, computed stably
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z)) + 0.5 * strength * float(np.sum((w - w0) ** 2))
        gradient = x.T @ ((expit(z) - y) / n) + strength * (w - w0)
        if anchor.texts:
            # Cross-entropy against the shipped model's probabilities: least, and flat, at the shipped weights.
            za = anchor_z0 + anchor_x @ (w - w0)
            loss += anchor_scale * float(np.sum(np.logaddexp(0.0, za) - anchor_targets * za))
            gradient = gradient + anchor_scale * (anchor_x.T @ (expit(za) - anchor_targets))
        return loss, gradient

    # The intercept stays as shipped: moderators label what reached the queue, so the share of
    # positives among the labels says nothing about how common toxic comments are.
    result = minimize(loss_and_gradient, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    coefficients = base.coefficients.copy()
    coefficients[row, touched] = result.x.astype(coefficients.dtype)
    intercepts = base.intercepts.copy()
    meta = dict(base.meta) | {"version": version, "based_on": base.version}
    return LinearTextModel(
        name=base.name,
        version=version,
        attributes=base.attributes,
        features=base.features,
        coefficients=coefficients,
        intercepts=intercepts,
        thresholds=base.thresholds,
        meta=meta,
        calibration=base.calibration,
    )


def fine_tune_civil(
    base: LinearTextModel,
    *,
    attributes: Sequence[str],
    texts: Sequence[str],
    anchor: Anchor | None = None,
) -> LinearTextModel:
    """Refit each of ``attributes`` (extra heads: INSULT, THREAT, ...) to civil texts, each labelled 0.

    A comment moderators call not toxic is, by the labelling guide, none of the heads either; a
    toxic one does not say which head it is, so it teaches them nothing. With only 0 labels the
    heads' weights on the civil texts' n-grams come down, as far as the prior and the anchor let
    them: what a head held in error it holds less. ``base`` keeps its version and meta.
    """
    if not texts:
        return base
    anchor = corpus_anchor() if anchor is None else anchor
    model = base
    for attribute in attributes:
        model = fine_tune(
            model, attribute=attribute, texts=texts, labels=[0] * len(texts), version=base.version, anchor=anchor
        )
    return LinearTextModel(
        name=base.name,
        version=base.version,
        attributes=base.attributes,
        features=base.features,
        coefficients=model.coefficients,
        intercepts=model.intercepts,
        thresholds=base.thresholds,
        meta=base.meta,
        calibration=base.calibration,
    )


def false_positive_slice(path: Path = FALSE_POSITIVE_SLICE) -> list[str]:
    """The shipped hard non-toxic sentences (identity mentions, news quotes, sharp civil criticism)."""
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def positive_slice(attribute: str, path: Path = POSITIVE_SLICE) -> list[str]:
    """The shipped clearly toxic or spam sentences for ``attribute`` (written for the project, several
    languages): a candidate must hold as many of them as the active model does."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["text"] for row in rows if row["attribute"] == attribute]


@dataclass(frozen=True)
class LabelledSet:
    name: str
    texts: Sequence[str]
    labels: Sequence[int]


@dataclass
class GateReport:
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check["passed"] for check in self.checks)

    def add(
        self,
        name: str,
        active: float | None,
        candidate: float | None,
        higher_is_better: bool,
        tolerance: float = TOLERANCE,
    ) -> None:
        if active is None or candidate is None:
            # A gate that cannot be measured (say, a held-out window of one class) proves nothing: fail.
            self.checks.append(
                {"gate": name, "active": active, "candidate": candidate, "passed": False, "note": "not measurable"}
            )
            return
        passed = candidate >= active - tolerance if higher_is_better else candidate <= active + tolerance
        self.checks.append(
            {"gate": name, "active": round(active, 6), "candidate": round(candidate, 6), "passed": bool(passed)}
        )

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": self.checks}


def _auc(labels: Sequence[int], scores: np.ndarray) -> float | None:
    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None


def _false_positive_rate(labels: Sequence[int], scores: np.ndarray, threshold: float) -> float | None:
    negatives = np.asarray(labels) == 0
    return float(np.mean(scores[negatives] >= threshold)) if negatives.any() else None


def _share_gate(
    report: GateReport,
    name: str,
    active: LinearTextModel,
    candidate: LinearTextModel,
    *,
    attribute: str,
    texts: Sequence[str],
    threshold: float,
    higher_is_better: bool,
    forgive_one: bool = True,
) -> None:
    """The share of ``texts`` each model holds at ``threshold`` on ``attribute``; with ``forgive_one``
    one borderline sentence either way is noise, not a worse model."""
    if not texts:
        return

    def held(model: LinearTextModel) -> float:
        scores = model.probabilities(list(texts))[:, model.attributes.index(attribute)]
        return float(np.mean(scores >= threshold))

    report.add(
        f"{name} ({len(texts)} sentences): share at or above {threshold:g}",
        held(active),
        held(candidate),
        higher_is_better,
        tolerance=TOLERANCE + (1 / len(texts) if forgive_one else 0.0),
    )


def gates_compare(
    active: LinearTextModel,
    candidate: LinearTextModel,
    *,
    attribute: str,
    window: LabelledSet,
    publish_threshold: float,
    extra_sets: Sequence[LabelledSet] = (),
    fp_slice: Sequence[str] | None = None,
    positives: Sequence[str] | None = None,
) -> GateReport:
    """Compare the candidate with the active model on every gate; the report says which passed."""
    row = active.attributes.index(attribute)
    report = GateReport()

    def scores(model: LinearTextModel, texts: Sequence[str]) -> np.ndarray:
        return model.probabilities(list(texts))[:, row] if texts else np.zeros(0)

    active_window, candidate_window = scores(active, window.texts), scores(candidate, window.texts)
    report.add(
        f"{window.name}: ROC AUC", _auc(window.labels, active_window), _auc(window.labels, candidate_window), True
    )
    report.add(
        f"{window.name}: false-positive rate at publish threshold {publish_threshold:g}",
        _false_positive_rate(window.labels, active_window, publish_threshold),
        _false_positive_rate(window.labels, candidate_window, publish_threshold),
        False,
    )
    obfuscated = obfuscate_positives(list(window.texts), list(window.labels))
    report.add(
        f"{window.name}, positives obfuscated: ROC AUC",
        _auc(window.labels, scores(active, obfuscated)),
        _auc(window.labels, scores(candidate, obfuscated)),
        True,
    )

    def slice_gate(name: str, texts: Sequence[str], higher_is_better: bool) -> None:
        _share_gate(
            report,
            name,
            active,
            candidate,
            attribute=attribute,
            texts=texts,
            threshold=publish_threshold,
            higher_is_better=higher_is_better,
        )

    slice_gate("false-positive slice", list(false_positive_slice() if fp_slice is None else fp_slice), False)
    # Labels sent to lower the scores of real abuse (an API client steering the shared model) show here.
    slice_gate(
        f"positive slice of {attribute}", list(positive_slice(attribute) if positives is None else positives), True
    )
    for labelled in extra_sets:
        report.add(
            f"{labelled.name}: ROC AUC",
            _auc(labelled.labels, scores(active, labelled.texts)),
            _auc(labelled.labels, scores(candidate, labelled.texts)),
            True,
        )
    return report


def head_gates_compare(
    active: LinearTextModel,
    candidate: LinearTextModel,
    *,
    attribute: str,
    civil_window: Sequence[str],
    publish_threshold: float,
    report: GateReport,
    fp_slice: Sequence[str] | None = None,
    positives: Sequence[str] | None = None,
) -> None:
    """Add an extra head's gates to ``report``: on the held-out civil labels (exactly) and the
    false-positive slice it may hold no more than the active model, and of the positive slice's toxic
    sentences no fewer."""
    gates = (
        ("recent civil labels", list(civil_window), False, False),
        ("false-positive slice", list(false_positive_slice() if fp_slice is None else fp_slice), False, True),
        (
            "positive slice of TOXICITY",
            list(positive_slice("TOXICITY") if positives is None else positives),
            True,
            True,
        ),
    )
    for name, texts, higher_is_better, forgive_one in gates:
        _share_gate(
            report,
            f"{attribute}, {name}",
            active,
            candidate,
            attribute=attribute,
            texts=texts,
            threshold=publish_threshold,
            higher_is_better=higher_is_better,
            forgive_one=forgive_one,
        )
