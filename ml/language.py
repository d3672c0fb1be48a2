"""The language and script of a comment, for the moderators' queue, the policy and the Perspective API.

The language comes from py3langid, whose model ships inside its package (an LZMA-compressed NumPy
archive, no pickle, nothing downloaded) and is loaded once per process on first use. It chooses
among ``LANGUAGES``: the readers' languages of the first publisher and the other large ones, so a
short Serbian comment is not read as Slovak. Serbian, Croatian and Bosnian are one language
written three ways; which one a Latin text is, is often a guess. Text with too few letters gets
no language. The scores never depend on it: the models read characters, whatever the language.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

# The first publisher's readers' languages, then the other languages that py3langid knows well.
LANGUAGES = (
    "en bg sr hr bs mk sq ro el tr de fr es it pl ru uk "
    "pt nl hu cs sk sl sv da no fi et lv lt ar he fa hi zh ja ko ka hy th vi id"
).split()
MIN_LETTERS = 3
_SCRIPTS = {"CYRILLIC": "Cyrl", "GREEK": "Grek", "LATIN": "Latn", "ARABIC": "Arab", "HEBREW": "Hebr"}
_identifier: Any = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, "" when the text has too few letters to tell
    script: str  # ISO 15924: Latn, Cyrl, Grek, Arab, Hebr, Hani, ..., or "" without letters
    confidence: float


def text_script(text: str) -> str:
    """Return the ISO 15924 code of the script most of the text's letters are in, "" when it has none."""
    counts = _letters_by_script(text)
    return counts.most_common(1)[0][0] if counts else ""


def _letters_by_script(text: str) -> Counter[str]:
    """The text's letters counted by script, the scripts in the order their first letters come.

    Each distinct letter's script is looked up once (its Unicode name), not each letter's: a comment
    has a few dozen distinct letters, and this ran for every comment decided.
    """
    counts: Counter[str] = Counter()
    for char, number in Counter(filter(str.isalpha, text)).items():
        first = unicodedata.name(char, "").split(" ", 1)[0]
        counts[_SCRIPTS.get(first, {"CJK": "Hani", "HANGUL": "Hang"}.get(first, "Zyyy"))] += number
    return counts


def _get_identifier() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            full.set_languages(LANGUAGES)
            # A fresh identifier over the restricted arrays only: the full model (all 97 languages)
            # would stay in memory behind set_languages otherwise, some 60 MB per worker.
            _identifier = LanguageIdentifier(
                np.ascontiguousarray(full.nb_ptc),
                full.nb_pc,
                full.nb_classes,
                full.tk_nextmove,
                full.tk_output,
                norm_probs=True,
                tk_row=full.tk_row,
            )
        return _identifier


def detect_language(text: str) -> Language:
    """Return the language and script of ``text`` (the first 2,000 characters are enough)."""
    sample = text[:2000]
    letters = _letters_by_script(sample)
    script = letters.most_common(1)[0][0] if letters else ""
    if letters.total() < MIN_LETTERS:
        return Language("", script, 0.0)
    code, confidence = _get_identifier().classify(sample)
    return Language(str(code), script, round(float(confidence), 3))
