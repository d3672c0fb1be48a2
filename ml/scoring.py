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
from ml.features import Block, FeatureSpec, HashedTextFeatures
from ml.hashing import TextBatch
from ml.model import LinearTextModel
from ml.normalise import OffsetText, normalise_many, normalise_text, normalise_with_offsets

DEFAULT_ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
TOXICITY = "toxicity"
SPAM = "spam"
_BATCH = 4096  # texts per pass: bounds the memory of one batch's n-gram arrays


class Scorer:
    """All attributes of several models for one text; models that normalise alike share their common blocks."""

    def __init__(self, models: Mapping[str, LinearTextModel]) -> None:
        if not models:
            raise ValueError("a scorer needs at least one model")
        attributes = [attribute for model in models.values() for attribute in model.attributes]
        if len(set(attributes)) != len(attributes):
            raise ValueError(f"two models produce the same attribute: {attributes}")
        self.models = dict(models)
        # Models that normalise and hash alike share one pass: its spec has each distinct block once
        # (the n-gram blocks of both shipped models are the same; their lexicon blocks may differ), and
        # each model's weights sit at its blocks' places in it, zero elsewhere.
        by_reading: dict[tuple[int, str], list[LinearTextModel]] = {}
        for model in self.models.values():
            spec = model.features.spec
            by_reading.setdefault((spec.normalisation_version, spec.hashing), []).append(model)
        self._groups: list[tuple[HashedTextFeatures, list[LinearTextModel]]] = []
        self._places: dict[str, list[tuple[int, int, int]]] = {}  # version: (its offset, shared offset, width)
        self._width: dict[str, int] = {}  # version: columns of its group's shared spec
        for group in by_reading.values():
            # Each distinct block once, in the order the models name them (a spec never repeats a block).
            blocks: list[Block] = list(dict.fromkeys(block for model in group for block in model.features.spec.blocks))
            first = group[0].features.spec
            shared = FeatureSpec(tuple(blocks), first.normalisation_version, first.hashing)
            offsets = np.cumsum([0] + [block.n_features for block in blocks]).tolist()
            for model in group:
                if len(set(model.features.spec.blocks)) != len(model.features.spec.blocks):
                    raise ValueError(f"{model.version} names a feature block twice")
                own = np.cumsum([0] + [block.n_features for block in model.features.spec.blocks]).tolist()
                self._places[model.version] = [
                    (own[index], offsets[blocks.index(block)], block.n_features)
                    for index, block in enumerate(model.features.spec.blocks)
                ]
                self._width[model.version] = shared.n_features
            features = group[0].features if shared == first else HashedTextFeatures(shared)
            self._groups.append((features, group))
        self._transposed: dict[tuple[str, ...], np.ndarray] = {}

    def __repr__(self) -> str:
        return f"<Scorer {self.versions}>"

    def _columns_first(self, models: list[LinearTextModel]) -> np.ndarray:
        # The heads of every model of a feature group side by side, transposed: one gather per occurrence.
        key = tuple(model.version for model in models)
        found = self._transposed.get(key)
        if found is None:
            # Filled in place, block by block: no stacked or transposed copy of every weight on the way
            # (those made loading peak at twice the memory the weights keep).
            width = self._width[models[0].version]
            found = np.zeros((width, sum(len(model.attributes) for model in models)), dtype=np.float32)
            first = 0
            for model in models:
                heads = len(model.attributes)
                for own, shared, size in self._places[model.version]:
                    found[shared : shared + size, first : first + heads] = model.coefficients[:, own : own + size].T
                first += heads
            self._transposed[key] = found
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
