"""A small language guess and sentence splitter, stdlib only, for the Perspective-compatible API.

The guess never blocks scoring (the models read characters, not languages); it only fills
``detectedLanguages``. Letters of a non-Latin script name the language of that script; Latin
text is told apart by counting common function words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Unicode character name prefix -> language, for scripts that (mostly) mean one language.
SCRIPT_LANGUAGES = {
    "CYRILLIC": "ru",
    "GREEK": "el",
    "ARABIC": "ar",
    "HEBREW": "he",
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "CJK": "zh",
    "DEVANAGARI": "hi",
    "THAI": "th",
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
}
UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")

STOP_WORDS = {
    "en": "the and is are you to of it that this was for not with have be on your they what but",
    "de": "der die das und ist nicht ich du sie ein eine zu mit den auf sich es auch von wie",
    "fr": "le la les et est une des pas je vous il elle que qui du pour dans ce sont avec",
    "es": "el la los las y es que de no un una por para con se lo como pero más está",
    "pt": "o os as e é que de não um uma por para com se você mais mas está são isso",
    "it": "il lo gli e è che di non un una per con sono ma questo come più anche della",
    "nl": "de het een en is niet ik je dat van op te zijn met voor maar ook wat",
}
STOP_WORD_SETS = {language: frozenset(words.split()) for language, words in STOP_WORDS.items()}
WORD = re.compile(r"[^\W\d_]+")
# Sentence ends, with the ideographic full stop and the full-width "!" and "?".
ENDS = ".!?\u3002\uff01\uff1f"
SENTENCE = re.compile(f"[^{ENDS}\\n]*(?:[{ENDS}]+|\\n|$)")


def letter_script(character: str) -> str:
    """Return the first word of the character's Unicode name (LATIN, CYRILLIC, CJK...), or ""."""
    return unicodedata.name(character, "").split(" ", 1)[0]


def language_detect(text: str) -> list[str]:
    """Guess the language of a text: ``["de"]``, or ``[]`` when there is nothing to go on."""
    scripts = Counter(letter_script(character) for character in text if character.isalpha())
    if not scripts:
        return []
    script, _ = scripts.most_common(1)[0]
    if script in SCRIPT_LANGUAGES:
        if script == "CJK" and (scripts["HIRAGANA"] or scripts["KATAKANA"]):
            return ["ja"]
        if script == "CYRILLIC" and UKRAINIAN_LETTERS & set(text):
            return ["uk"]
        return [SCRIPT_LANGUAGES[script]]
    if script != "LATIN":
        return []
    words = [word.lower() for word in WORD.findall(text)]
    hits = Counter({language: sum(word in stop for word in words) for language, stop in STOP_WORD_SETS.items()})
    language, count = hits.most_common(1)[0]
    return [language] if count else []


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Return ``(begin, end)`` character offsets of the sentences of a text, without surrounding blanks."""
    spans = []
    for match in SENTENCE.finditer(text):
        chunk = match.group()
        stripped = chunk.strip()
        if not stripped:
            continue
        begin = match.start() + (len(chunk) - len(chunk.lstrip()))
        spans.append((begin, begin + len(stripped)))
    return spans
