"""Hashed word and character n-gram features of normalised text.

Each block is a scikit-learn ``HashingVectorizer`` (binary counts, L2-normalised, no sign
flipping); the blocks sit side by side in one sparse row. Nothing is fitted, so the spec
alone rebuilds the features. ``active_features`` is the single-text fast path: the same
n-grams and the same murmurhash buckets as ``matrix``, without building a sparse matrix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from ml.normalise import NORMALISATION_VERSION, normalise_text

ANALYZERS = ("word", "char", "char_wb")
WORD_PATTERN = r"(?u)\b\w+\b"
HASHING = "sklearn HashingVectorizer: murmurhash3_32 seed 0, binary, l2 per block, alternate_sign false"

# The fast path reproduces these settings; they are fixed rather than configurable.
_VECTORISER_SETTINGS: dict[str, Any] = {
    "binary": True,
    "norm": "l2",
    "alternate_sign": False,
    "lowercase": False,
    "dtype": np.float64,
}
_INT32_MIN = -(2**31)


@dataclass(frozen=True)
class NgramBlock:
    analyzer: str
    ngram_min: int
    ngram_max: int
    n_features: int

    def to_json(self) -> dict[str, Any]:
        block: dict[str, Any] = {
            "analyzer": self.analyzer,
            "ngram_range": [self.ngram_min, self.ngram_max],
            "n_features": self.n_features,
        }
        if self.analyzer == "word":
            block["token_pattern"] = WORD_PATTERN
        return block

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> NgramBlock:
        analyzer = raw.get("analyzer")
        ngram_range = raw.get("ngram_range")
        n_features = raw.get("n_features")
        if analyzer not in ANALYZERS:
            raise ValueError(f"feature block analyzer must be one of {ANALYZERS}, not {analyzer!r}")
        if (
            not isinstance(ngram_range, list)
            or len(ngram_range) != 2
            or not all(isinstance(n, int) and n >= 1 for n in ngram_range)
            or ngram_range[0] > ngram_range[1]
        ):
            raise ValueError(f"feature block ngram_range must be [min, max] with 1 <= min <= max, not {ngram_range!r}")
        if not isinstance(n_features, int) or isinstance(n_features, bool) or not 1 <= n_features <= 2**31 - 1:
            raise ValueError(f"feature block n_features must be a positive int32, not {n_features!r}")
        token_pattern = raw.get("token_pattern", WORD_PATTERN)
        if analyzer == "word" and token_pattern != WORD_PATTERN:
            raise ValueError(f"word blocks use the token pattern {WORD_PATTERN!r}, not {token_pattern!r}")
        return cls(analyzer=analyzer, ngram_min=ngram_range[0], ngram_max=ngram_range[1], n_features=n_features)


@dataclass(frozen=True)
class FeatureSpec:
    blocks: tuple[NgramBlock, ...]
    normalisation_version: int = NORMALISATION_VERSION

    @property
    def n_features(self) -> int:
        return sum(block.n_features for block in self.blocks)

    def to_json(self) -> dict[str, Any]:
        return {
            "normalisation_version": self.normalisation_version,
            "hashing": HASHING,
            "blocks": [block.to_json() for block in self.blocks],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FeatureSpec:
        blocks = raw.get("blocks")
        if not isinstance(blocks, list) or not blocks:
            raise ValueError("features.blocks must be a non-empty list")
        version = raw.get("normalisation_version", NORMALISATION_VERSION)
        if not isinstance(version, int):
            raise ValueError(f"features.normalisation_version must be an int, not {version!r}")
        return cls(blocks=tuple(NgramBlock.from_json(block) for block in blocks), normalisation_version=version)


# Per block: the active column indices (offset into the full row) and the value each one has.
ActiveFeatures = list[tuple[np.ndarray, float]]


def _bucket(ngram: str, n_features: int) -> int:
    """Return the column ``HashingVectorizer`` gives ``ngram`` (sklearn's ``_hashing_fast.transform``)."""
    h = int(murmurhash3_32(ngram, seed=0))
    if h == _INT32_MIN:
        return (2**31 - 1 - (n_features - 1)) % n_features
    return abs(h) % n_features


def _vectoriser(block: NgramBlock) -> HashingVectorizer:
    settings = dict(_VECTORISER_SETTINGS)
    if block.analyzer == "word":
        settings["token_pattern"] = WORD_PATTERN
    return HashingVectorizer(
        analyzer=block.analyzer,
        ngram_range=(block.ngram_min, block.ngram_max),
        n_features=block.n_features,
        **settings,
    )


class HashedTextFeatures:
    """Turn raw texts into hashed n-gram rows; the text is normalised here, for training and scoring alike."""

    def __init__(self, spec: FeatureSpec) -> None:
        if spec.normalisation_version != NORMALISATION_VERSION:
            raise ValueError(
                f"features were built with normalisation version {spec.normalisation_version}, "
                f"this code has version {NORMALISATION_VERSION}"
            )
        self.spec = spec
        self._vectorisers = [_vectoriser(block) for block in spec.blocks]
        self._analysers = [vectoriser.build_analyzer() for vectoriser in self._vectorisers]
        self._offsets = np.cumsum([0] + [block.n_features for block in spec.blocks[:-1]]).tolist()

    @property
    def n_features(self) -> int:
        return self.spec.n_features

    def matrix(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the feature rows of ``texts`` as one CSR matrix."""
        normalised = [normalise_text(text) for text in texts]
        blocks = [vectoriser.transform(normalised) for vectoriser in self._vectorisers]
        return sp.csr_matrix(sp.hstack(blocks, format="csr"))

    def active_features(self, text: str) -> ActiveFeatures:
        """Return the non-zero columns of one text's row, block by block."""
        normalised = normalise_text(text)
        active: ActiveFeatures = []
        for block, analyser, offset in zip(self.spec.blocks, self._analysers, self._offsets, strict=True):
            buckets = {_bucket(ngram, block.n_features) for ngram in analyser(normalised)}
            if buckets:
                indices = np.fromiter(buckets, dtype=np.int64, count=len(buckets)) + offset
                active.append((indices, 1.0 / math.sqrt(len(buckets))))
        return active


# One n-gram occurrence: its block, its column in the full row, and its [begin, end) in the normalised text.
NgramOccurrence = tuple[int, int, int, int]


def _word_occurrences(text: str, block: NgramBlock) -> list[tuple[str, int, int]]:
    tokens = [(match.group(), match.start(), match.end()) for match in re.finditer(WORD_PATTERN, text)]
    found: list[tuple[str, int, int]] = []
    for n in range(block.ngram_min, block.ngram_max + 1):
        for first in range(len(tokens) - n + 1):
            window = tokens[first : first + n]
            found.append((" ".join(token for token, _, _ in window), window[0][1], window[-1][2]))
    return found


def _char_wb_occurrences(text: str, block: NgramBlock) -> list[tuple[str, int, int]]:
    # As sklearn's ``_char_wb_ngrams``: each word padded with one space on both sides.
    found: list[tuple[str, int, int]] = []
    for match in re.finditer(r"\S+", text):
        padded = f" {match.group()} "
        start = match.start() - 1
        for n in range(block.ngram_min, block.ngram_max + 1):
            if len(padded) < n:
                continue
            for offset in range(len(padded) - n + 1):
                begin = max(start + offset, match.start())
                end = min(start + offset + n, match.end())
                found.append((padded[offset : offset + n], begin, end))
    return found


def _char_occurrences(text: str, block: NgramBlock) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for n in range(block.ngram_min, block.ngram_max + 1):
        for offset in range(len(text) - n + 1):
            found.append((text[offset : offset + n], offset, offset + n))
    return found


_OCCURRENCES = {"word": _word_occurrences, "char_wb": _char_wb_occurrences, "char": _char_occurrences}


def ngram_occurrences(features: HashedTextFeatures, normalised: str) -> tuple[list[NgramOccurrence], list[float]]:
    """Return every n-gram occurrence of already normalised text, and each block's feature value."""
    occurrences: list[NgramOccurrence] = []
    values: list[float] = []
    for index, (block, offset) in enumerate(zip(features.spec.blocks, features._offsets, strict=True)):
        buckets: set[int] = set()
        for ngram, begin, end in _OCCURRENCES[block.analyzer](normalised, block):
            bucket = _bucket(ngram, block.n_features)
            buckets.add(bucket)
            occurrences.append((index, offset + bucket, begin, end))
        values.append(1.0 / math.sqrt(len(buckets)) if buckets else 0.0)
    return occurrences, values
