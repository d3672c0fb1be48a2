# ruff: noqa: RUF001, RUF002, RUF003 (look-alike letters and other scripts are this module's subject)
"""Text normalisation shared by training and scoring, with a map back to the original text.

``normalise_text`` runs the steps of its version (``STEPS_BY_VERSION``) in order: format
characters out, NFKC and case folding, (version 3) diacritics dropped and words spelt letter by
letter joined, de-leeting (``1d10t``, ``$hit``, ``f*ck``), "fancy" letters and Cyrillic/Greek
look-alikes to Latin, (version 3) Cyrillic and Greek transliterated to Latin, whitespace
collapsed, spaced or dotted letters joined (``s t u p i d``, ``i.d.i.o.t``), runs of a repeated
letter squeezed to two, (version 3) neutral identity words read as one placeholder. Every step is
idempotent and leaves the others' output alone, so the whole is idempotent.
``normalise_with_offsets`` returns the same text plus, per output character, the span of the
original it came from (for explanations).

Transliteration (version 3) is what keeps the script out of the scores: "Хвала на чланку" and
"Hvala na članku" become the same text, Bulgarian "човек" and "chovek" too. Version 4 writes a
Ukrainian or Russian text as its readers write it in Latin letters (Ukrainian г as "h" and и as "y",
щ as "shch"), and drops the neutral identity words and each language's word for people ("ljudi",
"хора") instead of reading them as a placeholder, so that naming a group, saying "people" or neither
weigh the same in every language.

Whatever the input, the work is bounded: only the first ``MAX_INPUT_CHARS`` characters are read
(NFKC can turn one character into 18), and the result is cut to ``MAX_NORMALISED_CHARS`` at a word
boundary; every pattern here runs in linear time.

A change to any step goes together with a bump of ``NORMALISATION_VERSION``. Artifacts record the
version they were trained with; every version in ``NORMALISATION_VERSIONS`` stays runnable, so older
artifacts (shipped or fine-tuned) keep loading and scoring exactly as they were trained.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np

NORMALISATION_VERSION = 4
# Versions whose steps this module still runs: an artifact normalises with the version it records.
NORMALISATION_VERSIONS = (2, 3, 4)
# Longest normalised text; the API takes 5,000 characters and the compatibility APIs 20 KB.
MAX_NORMALISED_CHARS = 20_000
# Characters of the input that are read at all (format characters may be dropped, NFKC may expand).
MAX_INPUT_CHARS = 2 * MAX_NORMALISED_CHARS


@dataclass
class OffsetText:
    """A text and, per character, the ``[begin, end)`` span of the original text it stands for."""

    text: str
    begins: list[int] | None
    ends: list[int] | None

    def prefix(self, length: int) -> OffsetText:
        """The first ``length`` characters, with their offsets."""
        if len(self.text) <= length:
            return self
        begins = self.begins[:length] if self.begins is not None else None
        ends = self.ends[:length] if self.ends is not None else None
        return OffsetText(self.text[:length], begins, ends)

    def original_span(self, begin: int, end: int) -> tuple[int, int]:
        """Map ``text[begin:end]`` (non-empty) back to a span of the original text."""
        if self.begins is None or self.ends is None:
            raise ValueError("offsets were not tracked")
        return self.begins[begin], max(self.ends[begin:end])


Replacement = Callable[[re.Match[str]], str]


def _sub(pattern: re.Pattern[str], replace: Replacement, state: OffsetText) -> OffsetText:
    """``pattern.sub`` that carries offsets: 1:1 when a replacement keeps the length, else the match's span."""
    if state.begins is None or state.ends is None:
        return OffsetText(pattern.sub(replace, state.text), None, None)
    pieces: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    last = 0
    for match in pattern.finditer(state.text):
        start, stop = match.span()
        pieces.append(state.text[last:start])
        begins += state.begins[last:start]
        ends += state.ends[last:start]
        replacement = replace(match)
        pieces.append(replacement)
        if len(replacement) == stop - start:
            begins += state.begins[start:stop]
            ends += state.ends[start:stop]
        elif replacement:
            span_begin, span_end = state.begins[start], max(state.ends[start:stop])
            begins += [span_begin] * len(replacement)
            ends += [span_end] * len(replacement)
        last = stop
    pieces.append(state.text[last:])
    begins += state.begins[last:]
    ends += state.ends[last:]
    return OffsetText("".join(pieces), begins, ends)


# Category Cf (Unicode 15), plus invisible characters of other categories: Hangul fillers, braille blank.
_FORMAT_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\u115f\u1160\u3164\uffa0\u2800"
)
_FORMAT = re.compile(f"[{_FORMAT_RANGES}]+")


def remove_format_characters(state: OffsetText) -> OffsetText:
    """Drop zero-width spaces and joiners, bidi marks, soft hyphens and other invisible characters."""
    if state.text.isascii():
        return state
    return _sub(_FORMAT, lambda m: "", state)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _is_jamo(char: str) -> bool:
    code = ord(char)
    return 0x1100 <= code <= 0x11FF or 0x3131 <= code <= 0x318E or 0xA960 <= code <= 0xA97F or 0xD7B0 <= code <= 0xD7FF


def _fold_cluster(cluster: str) -> str:
    folded = unicodedata.normalize("NFKC", cluster)
    for _ in range(4):
        # Case folding can leave text that is no longer NFKC (e.g. U+0345), so fold to a fixed point.
        again = unicodedata.normalize("NFKC", folded.casefold())
        if again == folded:
            break
        folded = again
    return folded


def fold_compatibility_and_case(state: OffsetText) -> OffsetText:
    """Apply NFKC and case folding; with offsets, cluster by cluster (a letter with its marks, Hangul jamo)."""
    text = state.text
    if text.isascii():
        lowered = text.lower()
        return state if lowered == text else OffsetText(lowered, state.begins, state.ends)
    if unicodedata.is_normalized("NFKC", text) and text.casefold() == text:
        return state
    whole = _fold_cluster(text)
    if state.begins is None or state.ends is None:
        return OffsetText(whole, None, None)
    clusters: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        if clusters and (_is_mark(char) or (_is_jamo(char) and _is_jamo(text[index - 1]))):
            clusters[-1] = (clusters[-1][0], index + 1)
        else:
            clusters.append((index, index + 1))
    pieces: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    for start, stop in clusters:
        folded = _fold_cluster(text[start:stop])
        pieces.append(folded)
        if len(folded) == stop - start:
            begins += state.begins[start:stop]
            ends += state.ends[start:stop]
        else:
            begins += [state.begins[start]] * len(folded)
            ends += [max(state.ends[start:stop])] * len(folded)
    if "".join(pieces) != whole:
        # Composition across clusters: keep the whole-text result and give up fine offsets.
        begins, ends = [state.begins[0]] * len(whole), [max(state.ends)] * len(whole)
    return OffsetText(whole, begins, ends)


def _letter_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for offset in range(26):
        letter = chr(ord("a") + offset)
        for start in (0x1F130, 0x1F150, 0x1F170, 0x1F1E6):  # squared, negative circled / squared, regional
            table[start + offset] = letter
    small_capitals = "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡxʏᴢ"
    for offset, char in enumerate(small_capitals):
        if char != "x":
            table[ord(char)] = chr(ord("a") + offset)
    # Lower-case Cyrillic and Greek letters that pass for Latin ones (after case folding).
    look_alikes = {
        "а": "a", "в": "b", "г": "r", "е": "e", "з": "z", "к": "k", "м": "m", "н": "h", "о": "o",
        "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ь": "b", "і": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l",
        "α": "a", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j",
    }  # fmt: skip
    for source, target in look_alikes.items():
        table[ord(source)] = target
    return table


_LETTERS = _letter_table()
_HOMOGLYPHS = frozenset(char for char in map(chr, _LETTERS) if 0x0370 <= ord(char) <= 0x052F)
_HOMOGLYPH_CLASS = "".join(sorted(_HOMOGLYPHS))


def _class_ranges(codes: list[int]) -> str:
    """Return the inside of a regex character class matching ``codes``, runs of code points as ranges.

    ``re`` tests a long list of astral characters one by one; ranges keep the classes below fast.
    """
    runs: list[list[int]] = []
    for code in sorted(codes):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(
        re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"
        for first, last in runs
    )


_FANCY_CLASS = _class_ranges([code for code in _LETTERS if chr(code) not in _HOMOGLYPHS])
_FANCY_OR_HOMOGLYPH = re.compile(f"[{_FANCY_CLASS}{_HOMOGLYPH_CLASS}]")
_LATIN_LIKE = re.compile(f"[a-zA-Z{_FANCY_CLASS}]")
_FANCY = re.compile(f"[{_FANCY_CLASS}]")
# Latin letters, fancy letters (they count as Latin already) and look-alikes: folding moves letters
# inside this set, and it leaves the foreign letters (Cyrillic and Greek without a Latin twin) alone.
# Sets, to count a text's letters of each without building lists of matches.
_FOREIGN_SET = frozenset(
    chr(code) for code in range(0x0370, 0x0530) if chr(code).isalpha() and chr(code) not in _HOMOGLYPHS
)
_TWIN_SET = frozenset(string.ascii_letters) | frozenset(map(chr, _LETTERS))
_TOKEN = re.compile(r"\S+")


def fold_look_alikes(state: OffsetText, *, latin_letters_required: bool = True) -> OffsetText:
    """Map fancy letters (squared, small capitals, ...) and Cyrillic/Greek look-alikes to Latin.

    Look-alikes are folded in a word that also has Latin letters, or anywhere when the text has
    some Latin letters and hardly any Cyrillic or Greek letters without a Latin twin; so real
    Russian or Greek stays (and a Cyrillic text made only of letters with Latin twins, "Срам",
    is transliterated, not read as "cpam"). The tests count quantities that folding does not
    change, which keeps the step idempotent. Version 2 did not ask for a Latin letter.
    """
    text = state.text
    if text.isascii() or not _FANCY_OR_HOMOGLYPH.search(text):
        return state
    latin_text = sum(map(_FOREIGN_SET.__contains__, text)) * 20 <= sum(map(_TWIN_SET.__contains__, text))
    if latin_text and latin_letters_required:
        latin_text = _LATIN_LIKE.search(text) is not None
    if not latin_text and not _LATIN_LIKE.search(text):
        return state  # real Cyrillic or Greek: no token has a reason to fold (nor fancy letters)

    def fold_token(match: re.Match[str]) -> str:
        token = match.group()
        if not _FANCY_OR_HOMOGLYPH.search(token):
            return token
        fold_homoglyphs = latin_text or _LATIN_LIKE.search(token) is not None
        if not fold_homoglyphs and not _FANCY.search(token):
            return token
        chars = list(token)
        for index, char in enumerate(chars):
            target = _LETTERS.get(ord(char))
            if target is None or (char in _HOMOGLYPHS and not fold_homoglyphs):
                continue
            if index + 1 < len(chars) and _is_mark(chars[index + 1]):
                continue  # the mark would compose with the new letter
            chars[index] = target
        return "".join(chars)

    return _sub(_TOKEN, fold_token, state)


def _fold_look_alikes_v2(state: OffsetText) -> OffsetText:
    return fold_look_alikes(state, latin_letters_required=False)


def _letter_tables() -> tuple[dict[int, str], dict[int, str]]:
    # After case folding, so lower case only. Serbian Latin is the model for the South Slavic
    # letters (ц c, ћ ć, ђ đ, џ dž, љ lj, њ nj, ј j), and č š ž of Latin text become the same
    # digraphs as ч ш ж, so the scripts meet: "ch", "sh", "zh", as Bulgarian, Macedonian and
    # Russian are usually written in Latin letters.
    latin = {
        "č": "ch", "š": "sh", "ž": "zh", "ć": "c", "đ": "dj", "ł": "l", "ø": "o", "æ": "ae",
        "œ": "oe", "ı": "i", "þ": "th", "ð": "d", "ŋ": "n", "ħ": "h", "ŧ": "t", "ß": "ss",
    }  # fmt: skip
    foreign = {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e", "ж": "zh", "з": "z",
        "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
        "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "c", "у": "u", "ф": "f", "х": "h", "ц": "c",
        "ч": "ch", "џ": "dzh", "ш": "sh",
        "щ": "sht", "ъ": "a", "ь": "", "ю": "yu", "я": "ya", "й": "y", "ѝ": "i",  # Bulgarian
        "ѓ": "gj", "ќ": "kj", "ѕ": "dz",  # Macedonian
        "ы": "y", "э": "e", "ё": "yo",  # Russian
        "є": "ye", "і": "i", "ї": "yi", "ґ": "g",  # Ukrainian
        "ў": "u", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ѣ": "e", "ѫ": "a",
        "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i",
        "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s",
        "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o", "ϲ": "s", "ϳ": "j",
    }  # fmt: skip
    latin_table = {ord(source): target for source, target in latin.items()}
    foreign_table = {ord(source): target for source, target in foreign.items()}
    # Letters with diacritics lose them: Latin and Greek ones here (ë e, ç c, ş s, ă a, ά α),
    # Cyrillic ones when transliterated (ќ, й and ё have entries of their own).
    for code in [*range(0x00C0, 0x0250), *range(0x0370, 0x0530), *range(0x1E00, 0x2000)]:
        char = chr(code)
        if code in latin_table or code in foreign_table or not char.isalpha() or char.casefold() != char:
            continue
        base = unicodedata.normalize("NFD", char)[0]
        if base == char or not base.isalpha():
            continue
        if 0x0400 <= code < 0x0530:
            foreign_table[code] = foreign_table.get(ord(base), base)
        else:
            latin_table[code] = latin_table.get(ord(base), base)
    return latin_table, foreign_table


_DIACRITICS, _TRANSLITERATION = _letter_tables()
_DIACRITICS_CLASS = _class_ranges(list(_DIACRITICS))
# Combining diacritical marks go too, but only after a Latin, Greek or Cyrillic letter: taken from
# elsewhere (between two Hangul jamo) they could let NFKC compose what they kept apart.
_MARKS = "\u0300-\u036f"
_DIACRITIC = re.compile(
    f"[{_DIACRITICS_CLASS}]|(?<=[a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u052f\u1e00-\u1fff])[{_MARKS}]+"
)
_MARK = re.compile(f"[{_MARKS}]")
_TRANSLITERATED = re.compile(f"[{_class_ranges(list(_TRANSLITERATION))}]")


def _diacritic_match(match: re.Match[str]) -> str:
    return _DIACRITICS.get(ord(match.group()[0]), "")


def drop_diacritics(state: OffsetText) -> OffsetText:
    """Drop diacritics (``ë`` e, ``ş`` s, ``ά`` α) and write ``č š ž`` as ``ch sh zh``, as readers often type."""
    text = state.text
    if text.isascii() or not _DIACRITIC.search(text):
        return state
    if state.begins is None and not _MARK.search(text):
        return OffsetText(text.translate(_DIACRITICS), None, None)
    return _sub(_DIACRITIC, _diacritic_match, state)


def transliterate(state: OffsetText, table: dict[int, str] = _TRANSLITERATION) -> OffsetText:
    """Write Cyrillic and Greek in Latin letters: "Хвала на чланку" and "Hvala na članku" meet."""
    text = state.text
    if text.isascii() or not _TRANSLITERATED.search(text):
        return state
    if state.begins is None:
        return OffsetText(text.translate(table), None, None)
    return _sub(_TRANSLITERATED, lambda m: table[ord(m.group())], state)


# Version 4: a Ukrainian or Russian text is written as its readers write it in Latin letters. Ukrainian
# г is "h" and и is "y" in every Latin spelling of Ukrainian ("hovoryty", not "govoriti"), and щ is
# "shch" in both languages (Bulgarian's "sht" stays the default); the Russian hard sign is dropped
# (Bulgarian's ъ is a vowel, "a"). A text is Ukrainian when it has a letter only Ukrainian uses
# (і ї є ґ), else Russian when it has ы э or ё; any other Cyrillic text keeps the common table.
_UKRAINIAN_LETTERS = re.compile("[іїєґ]")
_RUSSIAN_LETTERS = re.compile("[ыэё]")
_UKRAINIAN_TRANSLITERATION = {**_TRANSLITERATION, ord("г"): "h", ord("и"): "y", ord("щ"): "shch"}
_RUSSIAN_TRANSLITERATION = {**_TRANSLITERATION, ord("щ"): "shch", ord("ъ"): ""}
TRANSLITERATION_TABLES = (_TRANSLITERATION, _UKRAINIAN_TRANSLITERATION, _RUSSIAN_TRANSLITERATION)


def transliteration_table(text: str) -> dict[int, str]:
    """The table version 4 transliterates ``text`` with: Ukrainian, Russian or the common one."""
    if _UKRAINIAN_LETTERS.search(text):
        return _UKRAINIAN_TRANSLITERATION
    if _RUSSIAN_LETTERS.search(text):
        return _RUSSIAN_TRANSLITERATION
    return _TRANSLITERATION


def transliterate_by_language(state: OffsetText) -> OffsetText:
    """Transliterate as ``transliterate``, Ukrainian and Russian texts by their own tables (version 4)."""
    text = state.text
    if text.isascii() or not _TRANSLITERATED.search(text):
        return state
    return transliterate(state, transliteration_table(text))


_SPACED_GROUP = re.compile(r"(?<!\S)[^\W\d_](?: [^\W\d_])+(?!\S)")
_WIDE_GAP = re.compile(r"[^\W\d_]\s{2,}[^\W\d_]")


def join_spaced_words(state: OffsetText) -> OffsetText:
    """Join words spelt letter by letter with wider gaps between them: ``Y O U  A R E`` -> ``YOU  ARE``.

    Runs before white space is collapsed, since the wider gaps are all that tells the words apart;
    it acts only on texts with two such words or more (after it, no wide gap parts single letters).
    """
    text = state.text
    if not _WIDE_GAP.search(text):
        return state
    groups = _SPACED_GROUP.findall(text)
    if len(groups) < 2:
        return state
    return _sub(_SPACED_GROUP, lambda m: m.group().replace(" ", ""), state)


_WHITESPACE = re.compile(r"\s+")


def collapse_whitespace(state: OffsetText) -> OffsetText:
    """Turn every run of white space into one space, and drop it at both ends."""
    text = state.text
    if state.begins is None:
        return OffsetText(" ".join(text.split()), None, None)
    last = len(text)
    return _sub(_WHITESPACE, lambda m: "" if m.start() == 0 or m.end() == last else " ", state)


_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"}
_LEET_INSIDE = {"!": "i", "|": "l", "€": "e", "¡": "i"}
_MASKS = "*#%"
_FANCY_OR_HOMOGLYPH_CLASS = _FANCY_CLASS + _HOMOGLYPH_CLASS
_LEET_CHAR = re.compile("[0-9@$!|€¡*#%]")
_LEET_TOKEN = re.compile(
    rf"(?<![\w@$!|€¡*#%{_FANCY_OR_HOMOGLYPH_CLASS}])[\w@$!|€¡*#%{_FANCY_OR_HOMOGLYPH_CLASS}]*[0-9@$!|€¡*#%][\w@$!|€¡*#%{_FANCY_OR_HOMOGLYPH_CLASS}]*"
)
# Numbers with units, ordinals and names like ``covid19`` or ``g7`` are not leetspeak.
_UNIT = re.compile(r"[$€£]?\d+(?:[a-z]{1,2}|min|hrs?|yrs?|mins?|usd|eur)?|[a-z]+\d{2,}|[a-z]\d|\d{2,}[a-z]+")
_MASKED_WORDS = (
    "asshole",
    "bastard",
    "bitch",
    "bullshit",
    "cock",
    "crap",
    "cunt",
    "damn",
    "dick",
    "dumb",
    "fuck",
    "fucker",
    "fucking",
    "hell",
    "idiot",
    "moron",
    "nigger",
    "piss",
    "pussy",
    "retard",
    "retarded",
    "shit",
    "slut",
    "stupid",
    "twat",
    "whore",
)


def _unmask(token: str) -> str:
    """Fill ``*``, ``#``, ``%`` in ``f*ck`` or ``st*pid`` from a list of words people mask; else keep them."""
    parts: list[str] = []
    previous = ""
    for char in token:
        if char in _MASKS:
            parts.append("([a-z])")
            previous = ""
        else:
            # Read look-alikes as the Latin letters they become, and let a run of one letter match
            # any run length: the answer must not change once folded and squeezed.
            char = _LETTERS.get(ord(char), char)
            if char != previous:
                parts.append(re.escape(char) + "+")
                previous = char
    pattern = re.compile("".join(parts))
    for word in _MASKED_WORDS:
        match = pattern.fullmatch(word)
        if match is not None:
            fills = iter(match.groups())
            return "".join(next(fills) if char in _MASKS else char for char in token)
    return token


def _wordish(char: str) -> bool:
    # Letters, digits and the symbols that always become letters: a set that de-leeting keeps.
    return char.isalnum() or char in _LEET or ord(char) in _LETTERS


def _deleet_token(match: re.Match[str]) -> str:
    token = match.group()
    if not any(char.isalpha() or ord(char) in _LETTERS for char in token) or _UNIT.fullmatch(token):
        return token
    chars = list(token)
    last = len(chars) - 1
    after = match.string[match.end() : match.end() + 1]
    for index, char in enumerate(chars):
        following = chars[index + 1] if index < last else after
        if following and _is_mark(following):
            continue  # the mark would compose with the new letter
        if char in _LEET:
            if (char == "@" and index == 0) or (char in "@$" and index == last):
                continue
            chars[index] = _LEET[char]
        elif char in _LEET_INSIDE and 0 < index < last and _wordish(token[index - 1]) and _wordish(token[index + 1]):
            chars[index] = _LEET_INSIDE[char]
    word = "".join(chars)
    if any(char in _MASKS for char in word) and word.strip(_MASKS) == word:
        word = _unmask(word)
    return word


def deleet(state: OffsetText) -> OffsetText:
    """Read digits and symbols inside words as letters: ``1d10t`` -> ``idiot``, ``$hit`` -> ``shit``."""
    if not _LEET_CHAR.search(state.text):
        return state
    return _sub(_LEET_TOKEN, _deleet_token, state)


_SINGLE = "(?:" + "|".join(f"{letter}+" for letter in "abcdefghijklmnopqrstuvwxyz") + ")"
_SPACED = re.compile(rf"(?<![^\W_]|[*#%]){_SINGLE}(?:[ ._\-*·/]{_SINGLE}){{2,}}(?![^\W_]|[*#%])")
_SEPARATORS = re.compile(r"[ ._\-*·/]")
_SPACED_HINT = re.compile(r"(?<![^\W_])([a-z])\1*[ ._\-*·/]([a-z])\2*[ ._\-*·/]([a-z])\3*(?![^\W_])")
# The hint's tail, anchored on a separator: much cheaper to search, and found wherever the hint is.
_SPACED_TAIL = re.compile(r"[ ._\-*·/]([a-z])\1*[ ._\-*·/]([a-z])\2*(?![^\W_])")


def join_spaced_letters(state: OffsetText) -> OffsetText:
    """Join three or more single letters split by one space, dot, dash, underscore or star: ``s t u p i d``."""
    if not _SPACED_TAIL.search(state.text) or not _SPACED_HINT.search(state.text):
        return state
    return _sub(_SPACED, _join_letters, state)


_REPEATS = re.compile(r"([a-z])\1\1+")


def squeeze_repeats(state: OffsetText) -> OffsetText:
    """Squeeze runs of three or more of one Latin letter to two: ``stuuupid`` -> ``stuupid``; ``ass`` stays."""
    return _sub(_REPEATS, _squeeze, state)


IDENTITY_TERMS_PATH = Path(__file__).with_name("identity_terms.json")
IDENTITY_PLACEHOLDER = "people"
# The list is part of versions 3 and 4: tests/ml/test_normalise.py pins it, so it cannot change
# silently. Version 3 reads its "languages" (pinned by the SHA-256 of their sorted JSON); version 4
# reads its "people" too (each language's own word for people, dropped like a group's name, so that
# "Muslimani ..." and "Ljudi ..." meet), and the file's SHA-256 pins both.
IDENTITY_TERMS_SHA256 = "4a46f8cf0d8ae85203d5043e170a3bf813ae14a44862ca5e75171448cf7c6f24"
IDENTITY_LANGUAGES_V3_SHA256 = "fc6181e5fc5082b28188f8be2e2784a1cbf4a9f4b04305d5296876320de122c4"
_WORD_RUN = re.compile(r"\w+")


@cache
def _identity_terms(version: int) -> frozenset[str]:
    """The neutral identity words of ``identity_terms.json``, in the form the steps before blinding give them.

    Read on first use: a process whose models use one version never builds the other's. In version
    4 a Cyrillic word is taken in the form of every transliteration table, as the language of the
    text around it decides which one it gets.
    """
    raw = json.loads(IDENTITY_TERMS_PATH.read_text(encoding="utf-8"))
    parts = ("languages",) if version == 3 else ("languages", "people")
    steps = STEPS_BY_VERSION[version][:-1]
    variants: list[tuple[Step, ...]] = [steps]
    if version >= 4:
        variants = [
            tuple(partial(transliterate, table=table) if step is transliterate_by_language else step for step in steps)
            for table in TRANSLITERATION_TABLES
        ]
    forms: set[str] = set()
    for part in parts:
        for terms in raw.get(part, {}).values():
            for term in terms:
                for chosen in variants:
                    state = OffsetText(term, None, None)
                    for step in chosen:
                        state = step(state)
                    forms.update(state.text.split())
    # Version 3 reads the words as the placeholder, itself a word that stays; version 4 drops them all.
    return frozenset(forms - {IDENTITY_PLACEHOLDER}) if version == 3 else frozenset(forms)


def blind_identity_terms(state: OffsetText) -> OffsetText:
    """Read every neutral identity word ("muslims", "albanci", "gay", "refugees") as ``IDENTITY_PLACEHOLDER``.

    Which group a sentence names must not move its score: the models learn hate from what is said
    about people, and slurs (never in the list) stay as they are. The list is part of version 3.
    """
    terms = _identity_terms(3)
    if not any(word in terms for word in _WORD_RUN.findall(state.text)):
        return state
    return _sub(_WORD_RUN, lambda m: IDENTITY_PLACEHOLDER if m.group() in terms else m.group(), state)


# A word with the space after it: a dropped word takes its space along.
_DROPPED_WORD = re.compile(r"\w+ ?")


def drop_identity_and_people_words(state: OffsetText) -> OffsetText:
    """Drop every neutral identity word and each language's word for people (version 4).

    Version 3 read them as one placeholder, the English word "people"; but a placeholder that stands
    for every group a comment names learns the weight of the attacks on groups, and "Ljudi su ovde
    jako dobri" read as "people ..." was held. Dropped, a group's name, "ljudi" and "people" all
    weigh nothing: "Muslimani su se okupili" and "Ljudi su se okupili" both read "su se okupili".
    Slurs (never in the list) stay. A text made only of such words becomes empty.
    """
    terms = _identity_terms(4)
    if not any(word in terms for word in _WORD_RUN.findall(state.text)):
        return state

    def drop(match: re.Match[str]) -> str:
        word = match.group()
        return "" if word.strip(" ") in terms else word

    state = _sub(_DROPPED_WORD, drop, state)
    text = state.text
    if text.endswith(" ") or text.startswith(" ") or "  " in text:
        state = collapse_whitespace(state)
    return state


def identity_words(text: str, version: int = NORMALISATION_VERSION) -> set[str]:
    """The neutral identity words (and, in version 4, words for people) of a text, as normalised."""
    if version < 3:
        _steps(version)
        return set()
    state = OffsetText(text, None, None)
    for step in _steps(version)[:-1]:
        state = step(state)
    return set(_WORD_RUN.findall(state.text)) & _identity_terms(version)


# Format characters go first: removing one can join characters that NFKC then composes. Look-alikes
# are folded after de-leeting, whose new Latin letters they count.
# Diacritics go before de-leeting, whose words they would split; transliteration follows look-alike
# folding, which must see the Cyrillic and Greek letters, and precedes the white space collapse, as
# a dropped soft sign can leave two spaces side by side.
Step = Callable[[OffsetText], OffsetText]
STEPS_BY_VERSION: dict[int, tuple[Step, ...]] = {
    2: (
        remove_format_characters,
        fold_compatibility_and_case,
        collapse_whitespace,
        deleet,
        _fold_look_alikes_v2,
        join_spaced_letters,
        squeeze_repeats,
    ),
    3: (
        remove_format_characters,
        fold_compatibility_and_case,
        drop_diacritics,
        join_spaced_words,
        deleet,
        fold_look_alikes,
        transliterate,
        collapse_whitespace,
        join_spaced_letters,
        squeeze_repeats,
        blind_identity_terms,
    ),
    4: (
        remove_format_characters,
        fold_compatibility_and_case,
        drop_diacritics,
        join_spaced_words,
        deleet,
        fold_look_alikes,
        transliterate_by_language,
        collapse_whitespace,
        join_spaced_letters,
        squeeze_repeats,
        drop_identity_and_people_words,
    ),
}
NORMALISATION_STEPS = STEPS_BY_VERSION[NORMALISATION_VERSION]


def _steps(version: int) -> tuple[Step, ...]:
    steps = STEPS_BY_VERSION.get(version)
    if steps is None:
        raise ValueError(f"unknown normalisation version {version!r}; this code runs {NORMALISATION_VERSIONS}")
    return steps


def _cut(state: OffsetText, limit: int) -> OffsetText:
    """Keep at most ``limit`` characters, ending at the last space when there is one (no word is split)."""
    if len(state.text) <= limit:
        return state
    end = state.text.rfind(" ", 0, limit + 1)
    if end <= 0:
        end = limit
    text = state.text[:end].rstrip(" ")
    if state.begins is None or state.ends is None:
        return OffsetText(text, None, None)
    return OffsetText(text, state.begins[: len(text)], state.ends[: len(text)])


def _run(text: str, track: bool, version: int = NORMALISATION_VERSION) -> OffsetText:
    steps = _steps(version)
    text = text[:MAX_INPUT_CHARS]
    state = (
        OffsetText(text, list(range(len(text))), list(range(1, len(text) + 1)))
        if track
        else OffsetText(text, None, None)
    )
    for step in steps:
        state = step(state)
        if step is fold_compatibility_and_case and len(state.text) > MAX_INPUT_CHARS:
            # NFKC can expand a character to 18: bound the work of every later step.
            state = OffsetText(
                state.text[:MAX_INPUT_CHARS],
                None if state.begins is None else state.begins[:MAX_INPUT_CHARS],
                None if state.ends is None else state.ends[:MAX_INPUT_CHARS],
            )
    return _cut(state, MAX_NORMALISED_CHARS)


def _normalise_ascii(text: str, squeeze: bool, version: int) -> str:
    # The steps as they act on ASCII text (the same in every version): no format characters, no
    # look-alikes or letters to transliterate, nothing for NFKC, and de-leeting only writes ASCII
    # letters; the same patterns and replacements as the steps.
    text = text[:MAX_INPUT_CHARS].lower()
    if version >= 3:
        text = join_spaced_words(OffsetText(text, None, None)).text
    text = " ".join(text.split())
    if _LEET_CHAR.search(text):
        text = _LEET_TOKEN.sub(_deleet_token, text)
    if _SPACED_TAIL.search(text) and _SPACED_HINT.search(text):
        text = _SPACED.sub(_join_letters, text)
    if not squeeze:
        return text
    state = OffsetText(_REPEATS.sub(_squeeze, text), None, None)
    if version >= 3:
        state = STEPS_BY_VERSION[version][-1](state)
    return _cut(state, MAX_NORMALISED_CHARS).text


def _join_letters(match: re.Match[str]) -> str:
    return _SEPARATORS.sub("", match.group())


def _squeeze(match: re.Match[str]) -> str:
    return match.group(1) * 2


def normalise_text(text: str, version: int = NORMALISATION_VERSION) -> str:
    """Return the form of ``text`` that the models (of normalisation ``version``) see."""
    if text.isascii():
        _steps(version)
        return _normalise_ascii(text, squeeze=True, version=version)
    return _run(text, track=False, version=version).text


def normalise_many(texts: Sequence[str], version: int = NORMALISATION_VERSION) -> list[str]:
    """Return ``[normalise_text(text, version) for text in texts]``, looking for long repeats in one pass."""
    _steps(version)
    results: list[str] = []
    plain: list[int] = []
    for index, text in enumerate(texts):
        if text.isascii():
            results.append(_normalise_ascii(text, squeeze=False, version=version))
            plain.append(index)
        else:
            results.append(_run(text, track=False, version=version).text)
    if plain:
        joined = "\n".join(results[index] for index in plain)
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        lower = (codes >= ord("a")) & (codes <= ord("z"))
        triples = np.flatnonzero(lower[:-2] & (codes[:-2] == codes[1:-1]) & (codes[1:-1] == codes[2:]))
        if len(triples):
            ends = np.cumsum([len(results[index]) + 1 for index in plain])
            for which in np.unique(np.searchsorted(ends, triples, side="right")).tolist():
                index = plain[which]
                results[index] = _REPEATS.sub(_squeeze, results[index])
        for index in plain:
            if version >= 3:
                results[index] = STEPS_BY_VERSION[version][-1](OffsetText(results[index], None, None)).text
            if len(results[index]) > MAX_NORMALISED_CHARS:
                results[index] = _cut(OffsetText(results[index], None, None), MAX_NORMALISED_CHARS).text
    return results


def normalise_with_offsets(text: str, version: int = NORMALISATION_VERSION) -> OffsetText:
    """Return the normalised text and, per character, the span of ``text`` it comes from."""
    return _run(text, track=True, version=version)
