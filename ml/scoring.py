"""Score comments with the toxicity and spam models.

``Scorer`` scores one text or a batch with several loaded models; ``load_scorer`` loads the two
models from an artifacts directory (a version of ``None`` is the newest present). Nothing here is
cached: a process that scores keeps its models in one place (``moderation.scoring`` for the service).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from ml.artifacts import load_model
from ml.features import FeatureSpec, HashedTextFeatures
from ml.hashing import TextBatch
from ml.model import LinearTextModel
from ml.normalise import OffsetText, normalise_many, normalise_text, normalise_with_offsets

DEFAULT_ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
TOXICITY = "toxicity"
SPAM = "spam"
_BATCH = 4096  # texts per pass: bounds the memory of one batch's n-gram arrays


class Scorer:
    """All attributes of several models for one text; models that share a feature spec share the features."""

    def __init__(self, models: Mapping[str, LinearTextModel]) -> None:
        if not models:
            raise ValueError("a scorer needs at least one model")
        attributes = [attribute for model in models.values() for attribute in model.attributes]
        if len(set(attributes)) != len(attributes):
            raise ValueError(f"two models produce the same attribute: {attributes}")
        self.models = dict(models)
        groups: dict[FeatureSpec, tuple[HashedTextFeatures, list[LinearTextModel]]] = {}
        for model in self.models.values():
            groups.setdefault(model.features.spec, (model.features, []))[1].append(model)
        self._groups = list(groups.values())
        self._transposed: dict[tuple[str, ...], np.ndarray] = {}

    def __repr__(self) -> str:
        return f"<Scorer {self.versions}>"

    def _columns_first(self, models: list[LinearTextModel]) -> np.ndarray:
        # The heads of every model of a feature group side by side, transposed: one gather per occurrence.
        key = tuple(model.version for model in models)
        found = self._transposed.get(key)
        if found is None:
            stacked = np.vstack([model.coefficients for model in models]).astype(np.float32)
            found = self._transposed[key] = np.ascontiguousarray(stacked.T)
        return found

    @property
    def versions(self) -> dict[str, str]:
        """Map model name to version, e.g. ``{"toxicity": "toxicity-2026.11.28"}``."""
        return {name: model.version for name, model in self.models.items()}

    @property
    def attributes(self) -> dict[str, tuple[str, ...]]:
        """Map model name to the attributes it produces, e.g. ``{"spam": ("SPAM",)}``."""
        return {name: model.attributes for name, model in self.models.items()}

    @property
    def suggested_thresholds(self) -> dict[str, dict[str, float | None]]:
        """Map attribute to the ``publish`` / ``reject`` thresholds suggested in the models' metadata."""
        return {
            attribute: dict(thresholds)
            for model in self.models.values()
            for attribute, thresholds in model.thresholds.items()
        }

    def score(self, text: str) -> dict[str, float]:
        """Return every attribute's probability for one text, e.g. ``{"TOXICITY": 0.03, "SPAM": 0.01}``."""
        normalised: dict[int, str] = {}
        scores: dict[str, float] = {}
        for features, models in self._groups:
            version = features.spec.normalisation_version
            if version not in normalised:
                normalised[version] = normalise_text(text, version)
            logits = features.single_logits(normalised[version], self._columns_first(models))
            start = 0
            for model in models:
                end = start + len(model.attributes)
                probabilities = expit(logits[start:end] + model.intercepts)
                scores.update(zip(model.attributes, probabilities.tolist(), strict=True))
                start = end
        return scores

    def explain(self, text: str, top: int = 5) -> dict[str, list[dict[str, Any]]]:
        """Map every attribute to up to ``top`` spans that pushed its score up, largest weight first.

        Each span is ``{"begin", "end", "text", "weight"}``: offsets into ``text`` as given (not the
        normalised form), the substring there, and its share of the log-odds.
        """
        normalised: dict[int, OffsetText] = {}
        explanation: dict[str, list[dict[str, Any]]] = {}
        for model in self.models.values():
            version = model.features.spec.normalisation_version
            if version not in normalised:
                normalised[version] = normalise_with_offsets(text, version)
            explanation.update(model.explain(text, top, normalised[version]))
        return explanation

    def score_many(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Return ``[self.score(text) for text in texts]``, computed a few thousand texts at a time."""
        if len(texts) > _BATCH:
            return [
                scores
                for start in range(0, len(texts), _BATCH)
                for scores in self.score_many(texts[start : start + _BATCH])
            ]
        scores: list[dict[str, float]] = [{} for _ in texts]
        if not texts:
            return scores
        batches: dict[int, TextBatch] = {}
        for features, models in self._groups:
            version = features.spec.normalisation_version
            if version not in batches:
                batches[version] = TextBatch(normalise_many(texts, version))
            logits = features.linear_logits(batches[version], self._columns_first(models))
            bounds = np.cumsum([0] + [len(model.attributes) for model in models])
            found = [
                expit(logits[:, begin:end] + model.intercepts)
                for model, begin, end in zip(models, bounds[:-1], bounds[1:], strict=True)
            ]
            for model, probabilities in zip(models, found, strict=True):
                for row, values in zip(scores, probabilities.tolist(), strict=True):
                    row.update(zip(model.attributes, values, strict=True))
        return scores


def load_scorer(
    artifacts_dir: Path | None = None,
    toxicity_version: str | None = None,
    spam_version: str | None = None,
) -> Scorer:
    """Load the toxicity and spam models (the newest present for a version of ``None``) into a new scorer."""
    directory = Path(artifacts_dir or DEFAULT_ARTIFACTS_DIR)
    return Scorer(
        {
            TOXICITY: load_model(directory, TOXICITY, toxicity_version),
            SPAM: load_model(directory, SPAM, spam_version),
        }
    )
