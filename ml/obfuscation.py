# ruff: noqa: RUF001 (look-alike letters are this module's subject)
"""Obfuscated copies of test sets: the tricks trolls use, applied to one word in three of each toxic row.

The perturbations are fixed (``PERTURBATIONS``) and so is the seed: the random choices of a row
depend only on the seed and the row's text, so a copy is the same on every run and machine.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections.abc import Callable, Sequence

DEFAULT_SEED = 20261128
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1", "g": "9", "b": "8"}
LEET_SYMBOLS = {"a": "@", "s": "$", "i": "!"}
LOOK_ALIKES = {
    "a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "x": "х", "y": "у", "j": "ј", "s": "ѕ",
    "k": "κ", "v": "ν", "t": "τ", "u": "υ",
}  # fmt: skip
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_WORD = re.compile(r"[^\W\d_]{2,}")


def double_or_drop_letter(word: str, rng: random.Random) -> str:
    position = rng.randrange(len(word))
    if rng.random() < 0.5 or len(word) < 4:
        return word[: position + 1] + word[position:]
    return word[:position] + word[position + 1 :]


def space_or_dot_letters(word: str, rng: random.Random) -> str:
    return rng.choice((" ", ".")).join(word)


def leetspeak(word: str, rng: random.Random) -> str:
    chars = list(word)
    candidates = [index for index, char in enumerate(chars) if char.lower() in LEET]
    if not candidates:
        return zero_width_inside(word, rng)
    for index in candidates:
        lower = chars[index].lower()
        if lower in LEET_SYMBOLS and rng.random() < 0.3:
            chars[index] = LEET_SYMBOLS[lower]
        else:
            chars[index] = LEET[lower]
    return "".join(chars)


def look_alike_letters(word: str, rng: random.Random) -> str:
    chars = list(word)
    candidates = [index for index, char in enumerate(chars) if char in LOOK_ALIKES]
    if not candidates:
        return zero_width_inside(word, rng)
    chosen = [index for index in candidates if rng.random() < 0.6] or [rng.choice(candidates)]
    for index in chosen:
        chars[index] = LOOK_ALIKES[chars[index]]
    return "".join(chars)


def zero_width_inside(word: str, rng: random.Random) -> str:
    chars = list(word)
    for position in sorted(rng.sample(range(1, len(word)), k=min(2, len(word) - 1)), reverse=True):
        chars.insert(position, rng.choice(ZERO_WIDTH))
    return "".join(chars)


PERTURBATIONS: tuple[Callable[[str, random.Random], str], ...] = (
    double_or_drop_letter,
    space_or_dot_letters,
    leetspeak,
    look_alike_letters,
    zero_width_inside,
)


def obfuscate_text(text: str, seed: int = DEFAULT_SEED) -> str:
    """Apply one perturbation, chosen at random, to one word in three (at least one) of ``text``."""
    rng = random.Random(zlib.crc32(text.encode("utf-8")) ^ seed)  # noqa: S311 (reproducible test data, not secrets)
    words = list(_WORD.finditer(text))
    if not words:
        return text
    chosen = sorted(rng.sample(range(len(words)), k=math.ceil(len(words) / 3)))
    pieces: list[str] = []
    last = 0
    for index in chosen:
        match = words[index]
        pieces.append(text[last : match.start()])
        pieces.append(rng.choice(PERTURBATIONS)(match.group(), rng))
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def obfuscate_positives(texts: Sequence[str], labels: Sequence[int], seed: int = DEFAULT_SEED) -> list[str]:
    """Return ``texts`` with every row labelled 1 obfuscated and the others unchanged."""
    return [obfuscate_text(text, seed) if label == 1 else text for text, label in zip(texts, labels, strict=True)]
