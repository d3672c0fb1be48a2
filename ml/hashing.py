"""Hashed n-grams of a whole batch of texts at once, in NumPy: no Python loop per text or per n-gram.

The texts are laid end to end in one array of code points, separated by single spaces. A word
(``(?u)\\w+``, as Python's ``re``) and its n-grams, and the character n-grams inside each word padded
with one space on both sides (scikit-learn's ``char_wb``), are found with array operations. A
character n-gram's hash is a 64-bit polynomial over its code points; a word's is one over its code
points and length, and a word n-gram's one over its words' hashes. The column is the top bits of
``hash * K`` (multiplicative hashing; ``n_features`` is a power of two). Every occurrence is kept,
so a repeated n-gram counts as often as it occurs; ``Occurrences`` says which text each came
from, and where in that text (``[begin, end)``, for explanations). ``word_hashes`` and
``char_wb_hashes`` give the same hashes for one text in plain Python, where NumPy's cost per call
would dominate.

The scheme is this module's alone (``SCHEME``): a change to it changes every column, so it goes
with a new scheme name, and artifacts record the scheme they were trained with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCHEME = "poly64-multiplicative-v1"

_MULTIPLIER = np.uint64(0x100000001B3)
_PAIR_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_MAX_POWER = 4096
_POWERS = np.ones(_MAX_POWER, dtype=np.uint64)
_POWERS[1:] = np.cumprod(np.full(_MAX_POWER - 1, _MULTIPLIER, dtype=np.uint64), dtype=np.uint64)
_FINAL_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_EMPTY = np.zeros(0, np.int64)
_BMP = 0x10000


def _build_tables() -> tuple[np.ndarray, np.ndarray]:
    chars = [chr(code) for code in range(_BMP)]
    word = np.fromiter((char.isalnum() or char == "_" for char in chars), dtype=bool, count=_BMP)
    space = np.fromiter((char.isspace() for char in chars), dtype=bool, count=_BMP)
    return word, space


_WORD_BMP, _SPACE_BMP = _build_tables()


def _classify(codes: np.ndarray, table: np.ndarray, test: str) -> np.ndarray:
    result = np.zeros(codes.shape, dtype=bool)
    low = codes < _BMP
    result[low] = table[codes[low]]
    if not low.all():
        high = ~low
        unique, inverse = np.unique(codes[high], return_inverse=True)
        verdicts = np.fromiter(
            ((chr(code).isalnum() or chr(code) == "_") if test == "word" else chr(code).isspace() for code in unique),
            dtype=bool,
            count=len(unique),
        )
        result[high] = verdicts[inverse]
    return result


@dataclass
class Occurrences:
    """Parallel arrays, one entry per n-gram occurrence: its text, its hash and its ``[begin, end)`` there."""

    text: np.ndarray
    hashes: np.ndarray
    begin: np.ndarray
    end: np.ndarray

    def columns(self, n_features: int) -> np.ndarray:
        """Return each occurrence's column among ``n_features`` (a power of two): the top bits of ``hash * K``."""
        return columns(self.hashes, n_features)


def columns(hashes: np.ndarray, n_features: int) -> np.ndarray:
    """Return the top ``log2(n_features)`` bits of ``hashes * K`` (multiplicative hashing) as int64 columns."""
    bits = n_features.bit_length() - 1
    if n_features < 2 or 1 << bits != n_features:
        raise ValueError(f"n_features must be a power of two >= 2, not {n_features}")
    return ((hashes * _FINAL_MULTIPLIER) >> np.uint64(64 - bits)).astype(np.int64)


@dataclass
class Tokens:
    """The words of a batch: text, hash of the whole word, ``[begin, end)`` in that text."""

    text: np.ndarray
    hashes: np.ndarray
    begin: np.ndarray
    end: np.ndarray


class TextBatch:
    """Texts laid end to end as code points: ``" " + " ".join(texts) + " "``."""

    def __init__(self, texts: Sequence[str], positions: bool = False) -> None:
        self.size = len(texts)
        self.texts = texts
        self.positions = positions
        joined = " " + " ".join(texts) + " "
        self.codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=self.size)
        self.starts = np.concatenate(([1], 1 + np.cumsum(lengths + 1)[:-1])) if self.size else np.zeros(0, np.int64)
        # Each position's text; a separator counts as the next text's, so a window that starts on
        # the space padding a text's first word belongs to that text.
        self.text_of = np.append(np.repeat(np.arange(self.size), lengths + 1), max(self.size - 1, 0))
        self.is_space = _classify(self.codes, _SPACE_BMP, "space")
        self._tokens: Tokens | None = None
        self._parts: dict[tuple[str, int, int], list[tuple[int, Occurrences]]] = {}

    def tokens(self) -> Tokens:
        """Return the ``(?u)\\w+`` words, each with a hash of its code points."""
        if self._tokens is None:
            is_word = _classify(self.codes, _WORD_BMP, "word")
            edges = np.diff(np.concatenate(([0], is_word.view(np.int8), [0])))
            begins = np.flatnonzero(edges == 1)
            ends = np.flatnonzero(edges == -1)
            lengths = ends - begins
            positions = np.flatnonzero(is_word)
            token_of = np.repeat(np.arange(len(begins)), lengths)
            within = np.minimum(positions - begins[token_of], _MAX_POWER - 1)
            terms = (self.codes[positions] + np.uint64(1)) * _POWERS[within]
            offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(begins) else np.zeros(0, np.int64)
            hashes = np.add.reduceat(terms, offsets) if len(begins) else np.zeros(0, np.uint64)
            hashes = hashes.astype(np.uint64) * _PAIR_MULTIPLIER + lengths.astype(np.uint64)
            text = self.text_of[begins]
            start = self.starts[text] if len(begins) else np.zeros(0, np.int64)
            self._tokens = Tokens(text=text, hashes=hashes, begin=begins - start, end=ends - start)
        return self._tokens

    def word_runs(self, ngram_min: int, ngram_max: int) -> list[tuple[int, Occurrences]]:
        """Runs of ``n`` consecutive words of one text, per ``n``, text by text, with the hashes of ``term_hash``."""
        key = ("words", ngram_min, ngram_max)
        if key not in self._parts:
            tokens = self.tokens()
            found: list[tuple[int, Occurrences]] = []
            combined = tokens.hashes
            for n in range(1, ngram_max + 1):
                if n > 1:
                    combined = combined[:-1] * _PAIR_MULTIPLIER + tokens.hashes[n - 1 :]
                if n < ngram_min:
                    continue
                keep = np.flatnonzero(tokens.text[: len(combined)] == tokens.text[n - 1 :])
                run = Occurrences(
                    text=tokens.text[keep],
                    hashes=combined[keep],
                    begin=tokens.begin[keep],
                    end=tokens.end[keep + n - 1],
                )
                found.append((n, run))
            self._parts[key] = found
        return self._parts[key]

    def word_ngrams(self, ngram_min: int, ngram_max: int) -> Occurrences:
        """Word n-grams of each text, ``n`` in ``[ngram_min, ngram_max]`` (computed once per batch)."""
        return _concatenate([run for _, run in self.word_runs(ngram_min, ngram_max)])

    def char_wb_ngrams(self, ngram_min: int, ngram_max: int) -> Occurrences:
        """Character n-grams inside each space-padded run of non-space characters (computed once per batch)."""
        return _concatenate([run for _, run in self.char_wb_runs(ngram_min, ngram_max)])

    def char_wb_runs(self, ngram_min: int, ngram_max: int) -> list[tuple[int, Occurrences]]:
        """Character n-grams per ``n``, each list text by text."""
        key = ("chars", ngram_min, ngram_max)
        if key not in self._parts:
            self._parts[key] = self._char_wb_runs(ngram_min, ngram_max)
        return self._parts[key]

    def _char_wb_runs(self, ngram_min: int, ngram_max: int) -> list[tuple[int, Occurrences]]:
        codes = self.codes + np.uint64(1)
        length = len(codes)
        positions = np.arange(length)
        # For each position, how far the first space strictly after it lies: a window starting at
        # ``i`` keeps its inside (``i+1 .. i+n-2``) free of spaces when that distance is >= n - 1.
        marked = np.where(self.is_space, positions, length)
        next_space = np.minimum.accumulate(marked[::-1])[::-1]
        room = np.append(next_space[1:], length) - positions
        spaces = self.is_space.view(np.int8)
        found: list[tuple[int, Occurrences]] = []
        rolling = codes
        for n in range(1, ngram_max + 1):
            if n > 1:
                rolling = rolling[:-1] * _MULTIPLIER + codes[n - 1 :]
            if n < ngram_min:
                continue
            count = length - n + 1
            if count <= 0:
                break
            if n == 1:
                keep = np.flatnonzero(~self.is_space)
            elif n == 2:
                keep = np.flatnonzero(~(self.is_space[:count] & self.is_space[1 : count + 1]))
            else:
                keep = np.flatnonzero(room[:count] >= n - 1)
            text = self.text_of[keep]
            if self.positions:
                start = self.starts[text]
                begin = keep + spaces[keep] - start
                end = keep + n - spaces[keep + n - 1] - start
            else:
                begin = end = _EMPTY
            found.append((n, Occurrences(text=text, hashes=rolling[keep], begin=begin, end=end)))
        return found


def _concatenate(parts: list[Occurrences]) -> Occurrences:
    if not parts:
        empty = np.zeros(0, np.int64)
        return Occurrences(text=empty, hashes=np.zeros(0, np.uint64), begin=empty, end=empty)
    return Occurrences(
        text=np.concatenate([part.text for part in parts]),
        hashes=np.concatenate([part.hashes for part in parts]),
        begin=np.concatenate([part.begin for part in parts]),
        end=np.concatenate([part.end for part in parts]),
    )


def term_hash(term: str) -> int:
    """Return the hash ``word_runs`` gives ``term`` (one or more words joined by single spaces), unmixed."""
    words = word_hashes(term)
    if not words:
        raise ValueError(f"{term!r} has no word")
    combined = words[0][1]
    for _, value in words[1:]:
        combined = (combined * _PAIR_INT + value) & _MASK
    return combined


# The single-text path: the same hashes as ``TextBatch``, in plain Python, for one short text, where
# NumPy's per-call cost would dominate.
_MASK = (1 << 64) - 1
_MULTIPLIER_INT = int(_MULTIPLIER)
_PAIR_INT = int(_PAIR_MULTIPLIER)
_POWERS_INT = [int(power) for power in _POWERS]
_WORD = re.compile(r"\w+")


def word_hashes(text: str) -> list[tuple[str, int]]:
    """Return each ``(?u)\\w+`` word of ``text`` with its hash, as ``TextBatch.tokens`` computes it."""
    found = []
    for word in _WORD.findall(text):
        if len(word) <= _MAX_POWER:
            total = sum([(ord(char) + 1) * power for char, power in zip(word, _POWERS_INT, strict=False)])
        else:  # past the table, every position uses its last power
            total = sum((ord(char) + 1) * _POWERS_INT[min(index, _MAX_POWER - 1)] for index, char in enumerate(word))
        found.append((word, ((total & _MASK) * _PAIR_INT + len(word)) & _MASK))
    return found


def word_ngram_hashes(words: list[tuple[str, int]], ngram_min: int, ngram_max: int) -> list[int]:
    """Return the hashes of the word n-grams of one text, as ``TextBatch.word_ngrams``."""
    hashes = [value for _, value in words]
    found = []
    for first in range(len(hashes)):
        combined = 0
        for n in range(1, ngram_max + 1):
            if first + n > len(hashes):
                break
            combined = hashes[first] if n == 1 else (combined * _PAIR_INT + hashes[first + n - 1]) & _MASK
            if n >= ngram_min:
                found.append(combined)
    return found


def char_wb_hashes(text: str, ngram_min: int, ngram_max: int) -> np.ndarray:
    """Return the hashes of the character n-grams of one normalised text, as ``TextBatch.char_wb_ngrams``.

    Normalised text has single spaces between words and none at the ends, which keeps this short.
    """
    if not text:
        return np.zeros(0, dtype=np.uint64)
    codes = np.frombuffer(f" {text} ".encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    codes += np.uint64(1)
    spaces = np.concatenate(([0], np.cumsum(codes == ord(" ") + 1)))
    found = []
    rolling = codes
    for n in range(1, ngram_max + 1):
        if n > 1:
            rolling = rolling[:-1] * _MULTIPLIER + codes[n - 1 :]
        if n < ngram_min:
            continue
        if n == 1:
            found.append(rolling[codes != ord(" ") + 1])
        elif n == 2:
            found.append(rolling)
        else:
            # No space strictly inside the window: spaces at first + 1 .. first + n - 2.
            first = np.arange(len(rolling))
            found.append(rolling[spaces[first + n - 1] == spaces[first + 1]])
    return np.concatenate(found) if found else np.zeros(0, dtype=np.uint64)
