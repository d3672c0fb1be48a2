"""Explain a linear model's score: the words of the original text that pushed it up, with weights.

Each feature occurrence's contribution to the log-odds (coefficient x its share of the feature
value) is spread evenly over its characters in the normalised text;
a word's weight is the sum over its characters; the word is then mapped back to its span in the
original text, so ``1d10t`` or ``s t u p i d`` are highlighted as written.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ml.features import HashedTextFeatures, ngram_occurrences
from ml.normalise import OffsetText, normalise_with_offsets

# Runs of word characters, or of punctuation and symbols (so ``!!!`` or ``$`` can count too).
_UNIT = re.compile(r"\w+|[^\w\s]+")


def character_weights(features: HashedTextFeatures, coefficients: np.ndarray, normalised: str) -> np.ndarray:
    """Return an array ``(attributes, len(normalised))``: each character's share of the log-odds."""
    occurrences = [item for item in ngram_occurrences(features, normalised) if item[2] > item[1]]
    # Each occurrence spreads its share evenly over [begin, end): add it where the span starts and
    # take it off where it ends, then one cumulative sum per attribute (linear in the occurrences).
    delta = np.zeros((coefficients.shape[0], len(normalised) + 1), dtype=np.float64)
    if occurrences:
        columns, begins, ends, values = (np.array(part) for part in zip(*occurrences, strict=True))
        shares = coefficients[:, columns].astype(np.float64) * (values / (ends - begins))
        for row in range(coefficients.shape[0]):
            np.add.at(delta[row], begins, shares[row])
            np.add.at(delta[row], ends, -shares[row])
    return np.cumsum(delta, axis=1)[:, :-1]


EXPLAIN_MAX_CHARS = 4000


def explain_text(
    features: HashedTextFeatures,
    coefficients: np.ndarray,
    attributes: tuple[str, ...],
    text: str,
    top: int = 5,
    normalised: OffsetText | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Map each attribute to the ``top`` spans of ``text`` with the largest positive weight, largest first.

    Only the first ``EXPLAIN_MAX_CHARS`` normalised characters are explained: the score reads the whole
    text, but the spans of a very long or hugely expanding text (5,000 ligatures that normalise to
    20,000 characters) would cost a worker half a second for highlights nobody reads that far.
    """
    normalised = normalised or normalise_with_offsets(text, features.spec.normalisation_version)
    normalised = normalised.prefix(EXPLAIN_MAX_CHARS)
    weights = character_weights(features, coefficients, normalised.text)
    spans: dict[tuple[int, int], np.ndarray] = {}
    for match in _UNIT.finditer(normalised.text):
        span = normalised.original_span(match.start(), match.end())
        total = weights[:, match.start() : match.end()].sum(axis=1)
        spans[span] = spans[span] + total if span in spans else total
    explanation: dict[str, list[dict[str, Any]]] = {}
    for row, attribute in enumerate(attributes):
        ranked = sorted(
            ((float(total[row]), span) for span, total in spans.items() if total[row] > 0),
            key=lambda item: (-item[0], item[1]),
        )
        explanation[attribute] = [
            {"begin": begin, "end": end, "text": text[begin:end], "weight": round(weight, 4)}
            for weight, (begin, end) in ranked[:top]
        ]
    return explanation
