"""A linear text classifier: hashed n-gram features and one logistic-regression head per attribute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ml.explanations import explain_text
from ml.features import ActiveFeatures, HashedTextFeatures
from ml.normalise import OffsetText


class LinearTextModel:
    """Score texts with ``sigmoid(features @ coefficients.T + intercepts)``, one column per attribute."""

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

    def __repr__(self) -> str:
        return f"<LinearTextModel {self.version} {list(self.attributes)}>"

    def decision_values(self, matrix: sp.csr_matrix) -> np.ndarray:
        """Return the log-odds of every attribute for every row of a feature matrix."""
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
