"""Text normalisation shared by training and scoring.

``normalise_text`` runs ``NORMALISATION_STEPS`` in order. A new step (homoglyph folding,
de-leeting, ...) goes into that tuple together with a bump of ``NORMALISATION_VERSION``:
artifacts record the version they were trained with and refuse to load under another one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

NORMALISATION_VERSION = 1


def remove_format_characters(text: str) -> str:
    """Drop characters of Unicode category Cf (zero-width spaces and joiners, bidi marks, soft hyphens)."""
    if text.isascii():
        return text
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def fold_compatibility(text: str) -> str:
    """Apply NFKC, which folds full-width, mathematical and other look-alike presentation forms."""
    return unicodedata.normalize("NFKC", text)


def fold_case(text: str) -> str:
    # Case folding can leave text that is no longer NFKC (e.g. U+0345), so fold compatibility again.
    return unicodedata.normalize("NFKC", text.casefold())


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


# Format characters go first: removing one can join characters that NFKC then composes.
NORMALISATION_STEPS: tuple[Callable[[str], str], ...] = (
    remove_format_characters,
    fold_compatibility,
    fold_case,
    collapse_whitespace,
)


def normalise_text(text: str) -> str:
    """Return the form of ``text`` that the models see."""
    for step in NORMALISATION_STEPS:
        text = step(text)
    return text
