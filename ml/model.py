"""A linear text classifier: hashed n-gram features and one logistic-regression head per attribute.

Each head's probability is Platt-scaled: ``sigmoid(a * z + b)`` of the classifier's log-odds ``z``,
with ``a`` and ``b`` fitted on held-back validation rows. The scaling is folded into the weights
(``coefficients = a * raw``, ``intercepts = a * raw_intercept + b``), so every score, batch or
single, and every explanation weight is on the calibrated log-odds scale; ``calibration`` records
``a`` and ``b`` (1 and 0 for an uncalibrated model), from which the raw weights can be recovered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ml.explanations import explain_text
from ml.features import ActiveFeatures, HashedTextFeatures
from ml.normalise import OffsetText


@dataclass(frozen=True)
class Calibration:
    """Per head, the Platt slope ``a`` (positive) and intercept ``b``: ``p = sigmoid(a * z + b)``."""

    slopes: np.ndarray
    intercepts: np.ndarray

    @classmethod
    def identity(cls, heads: int) -> Calibration:
        return cls(slopes=np.ones(heads), intercepts=np.zeros(heads))

    def __post_init__(self) -> None:
        slopes = np.asarray(self.slopes, dtype=np.float64)
        intercepts = np.asarray(self.intercepts, dtype=np.float64)
        if slopes.ndim != 1 or slopes.shape != intercepts.shape:
            raise ValueError(f"calibration slopes {slopes.shape} and intercepts {intercepts.shape} differ in shape")
        if not (np.isfinite(slopes).all() and np.isfinite(intercepts).all() and (slopes > 0).all()):
            raise ValueError("calibration slopes must be positive and every value finite")
        object.__setattr__(self, "slopes", slopes)
        object.__setattr__(self, "intercepts", intercepts)

    @property
    def is_identity(self) -> bool:
        return bool((self.slopes == 1).all() and (self.intercepts == 0).all())

    def to_json(self, attributes: Sequence[str]) -> dict[str, dict[str, float]]:
        return {
            attribute: {"slope": float(slope), "intercept": float(intercept)}
            for attribute, slope, intercept in zip(attributes, self.slopes, self.intercepts, strict=True)
        }


class LinearTextModel:
    """Score texts with ``sigmoid(features @ coefficients.T + intercepts)``, one column per attribute.

    ``coefficients`` and ``intercepts`` are the calibrated weights (see the module docstring);
    ``calibration`` only records the scaling already folded into them.
    """

    def __init__(
        self,
        *,
        name: str,
        version: str,
        attributes: Sequence[str],
        features: HashedTextFeatures,
        coefficients: np.ndarray,
        intercepts: np.ndarray,
        thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
        meta: Mapping[str, Any] | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        if not attributes:
            raise ValueError("a model needs at least one attribute")
        if coefficients.shape != (len(attributes), features.n_features):
            raise ValueError(
                f"coefficients have shape {coefficients.shape}, expected {(len(attributes), features.n_features)}"
            )
        if intercepts.shape != (len(attributes),):
            raise ValueError(f"intercepts have shape {intercepts.shape}, expected {(len(attributes),)}")
        self.name = name
        self.version = version
        self.attributes = tuple(attributes)
        self.features = features
        self.coefficients = coefficients
        self.intercepts = intercepts.astype(np.float64)
        self.thresholds = dict(thresholds or {})
        self.meta = dict(meta or {})
        self.calibration = calibration or Calibration.identity(len(self.attributes))
        if self.calibration.slopes.shape != (len(self.attributes),):
            raise ValueError(f"calibration has {self.calibration.slopes.size} heads, expected {len(self.attributes)}")

    def __repr__(self) -> str:
        return f"<LinearTextModel {self.version} {list(self.attributes)}>"

    def recalibrated(self, calibration: Calibration) -> LinearTextModel:
        """Return a copy whose heads are scaled by ``calibration`` instead of the current one.

        ``recalibrated(Calibration.identity(k))`` gives back the classifier's raw log-odds.
        """
        factor = calibration.slopes / self.calibration.slopes
        raw_intercepts = (self.intercepts - self.calibration.intercepts) / self.calibration.slopes
        # Multiplying by exactly 1 changes no bit, so heads whose scaling stays are copied as they were.
        coefficients = self.coefficients * factor.astype(self.coefficients.dtype)[:, None]
        return LinearTextModel(
            name=self.name,
            version=self.version,
            attributes=self.attributes,
            features=self.features,
            coefficients=coefficients,
            intercepts=calibration.slopes * raw_intercepts + calibration.intercepts,
            thresholds=self.thresholds,
            meta=self.meta,
            calibration=calibration,
        )

    def decision_values(self, matrix: sp.csr_matrix) -> np.ndarray:
        """Return the calibrated log-odds of every attribute for every row of a feature matrix."""
        return np.asarray(matrix @ self.coefficients.T, dtype=np.float64) + self.intercepts

    def probabilities_from_matrix(self, matrix: sp.csr_matrix) -> np.ndarray:
        return np.asarray(expit(self.decision_values(matrix)))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), len(attributes))``."""
        if not texts:
            return np.zeros((0, len(self.attributes)))
        return self.probabilities_from_matrix(self.features.matrix(texts))

    def probabilities_from_active(self, active: ActiveFeatures) -> np.ndarray:
        """Return one probability per attribute from the fast-path features of one text."""
        logits = self.intercepts.copy()
        for indices, value in active:
            logits += self.coefficients[:, indices].sum(axis=1, dtype=np.float64) * value
        return np.asarray(expit(logits))

    def score(self, text: str) -> dict[str, float]:
        probabilities = self.probabilities_from_active(self.features.active_features(text))
        return dict(zip(self.attributes, probabilities.tolist(), strict=True))

    def score_many(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [dict(zip(self.attributes, row, strict=True)) for row in self.probabilities(texts).tolist()]

    def explain(self, text: str, top: int = 5, normalised: OffsetText | None = None) -> dict[str, list[dict[str, Any]]]:
        """Map each attribute to the spans of ``text`` that pushed its score up most (see ``ml.explanations``)."""
        return explain_text(self.features, self.coefficients, self.attributes, text, top, normalised)
