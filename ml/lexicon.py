"""The multilingual abuse lexicon: known insults, profanity, slurs and threat phrases, by category.

What it is for: the toxicity model has little or no training data in most European languages, so
its n-gram weights learned on English do not carry over. The lexicon adds a feature block of a few
shared categories ("this token is a known insult / profanity / slur / threat"), so that weight the
model learns for the English terms of a category also applies to the German, Turkish, ... terms of
the same category.

How it was written: ``lexicon.json`` beside this module was written by hand from general knowledge
of the languages, not mined from any data set (and in particular not from the evaluation sets).
Terms that are ordinary words in one of the covered languages (German "dick", French "retard",
Scandinavian "slut", Italian "bimbo", ...) were left out on purpose: precision matters more than
recall in civil news comments. Slurs are only the derogatory words, never neutral identity words.

File shape: ``{"version": 1, "description": ..., "categories": [...], "languages": {"de":
{"insult": [...], "profanity": [...], "slur": [...], "threat": [...]}, ...}}``. ``version`` is the
version of this format; the content is identified by the file's SHA-256 (``Lexicon.sha256``),
which artifacts should record. Every term is stored as ``normalise_text`` (version 3) outputs it:
lower case, NFKC, without diacritics, Cyrillic and Greek in Latin letters ("идиот" and "idiot" are
one term, Serbian "šiptar" and "шиптар" too), and must be a fixed point of it; a term is one or two
tokens of ``ml.features.WORD_PATTERN`` joined by one space (so no apostrophes or hyphens: French
"t'es con" or Portuguese "foda-se" become two tokens, "foda se"). Two languages may share a term
after transliteration; it then keeps the category of ``PRECEDENCE``.

How to extend: add terms as they are written, in their own script and with their diacritics, to
the right language and category, pass the document through ``normalise_document`` (which writes
them in the stored form, drops forms with a neutral identity word, sorts and deduplicates), and
run ``tests/ml/test_lexicon.py``. ``load_lexicon`` rejects a term that is not a fixed point of
normalise_text (e.g. after a change of the normalisation steps), that has more than two tokens, or
that sits under an unknown category. Leave out terms of one or two letters and words that are
ordinary in any covered language (Spanish "curva" is why Romanian "curvă" is not listed; "цигани"
and "chetnik" are ordinary words too often, so only their plainly insulting forms are). Check the
stored form, not the written one: without diacritics and in Latin letters, a Russian obscenity is
English "her" and Turkish "göt" English "got", which put a profanity on every other English comment until
they were taken out; counting a new term's hits in the civil rows of the training sets shows such
collisions. A new category must be added to ``CATEGORIES`` and ``PRECEDENCE`` first.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.fingerprints import file_sha256
from ml.normalise import NORMALISATION_VERSION, identity_words, normalise_text

LEXICON_PATH = Path(__file__).with_name("lexicon.json")

CATEGORIES: tuple[str, ...] = ("insult", "profanity", "slur", "threat")
# A term listed under two categories (in one language or across languages) keeps the first of these.
PRECEDENCE: tuple[str, ...] = ("slur", "threat", "insult", "profanity")
MAX_TOKENS = 2
# The word blocks' pattern (ml.features.WORD_PATTERN), repeated here so that features can import this module.
WORD_PATTERN = r"(?u)\b\w+\b"
_TOKEN = re.compile(WORD_PATTERN)


@dataclass(frozen=True)
class Lexicon:
    """The terms of a lexicon file, each mapped to one category, and the file's SHA-256."""

    version: int
    categories: tuple[str, ...]
    terms: dict[str, str]
    sha256: str


def lexicon_sha256(path: Path = LEXICON_PATH) -> str:
    """The fingerprint of a lexicon file: the SHA-256 of its bytes."""
    return file_sha256(path)


def check_term(term: object, normalisation_version: int = NORMALISATION_VERSION) -> str | None:
    """Return why ``term`` cannot be a lexicon term (of that normalisation), or None when it can."""
    if not isinstance(term, str) or not term:
        return "is not a non-empty string"
    normalised = normalise_text(term, normalisation_version)
    if normalised != term:
        return f"is not a fixed point of normalise_text (it normalises to {normalised!r})"
    tokens = _TOKEN.findall(term)
    if " ".join(tokens) != term:
        return "is not tokens of the word pattern joined by single spaces"
    if len(tokens) > MAX_TOKENS:
        return f"has {len(tokens)} tokens, more than {MAX_TOKENS}"
    return None


def _categories(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise ValueError(f"{where}: 'categories' must be a non-empty list of strings, not {raw!r}")
    for name in raw:
        if name not in CATEGORIES:
            raise ValueError(f"{where}: unknown category {name!r} in 'categories' (known: {', '.join(CATEGORIES)})")
    if len(set(raw)) != len(raw):
        raise ValueError(f"{where}: 'categories' lists a category twice: {raw!r}")
    return tuple(raw)


def parse_lexicon(raw: Any, where: str = "lexicon") -> tuple[int, tuple[str, ...], dict[str, str]]:
    """Validate a decoded lexicon document; return its version, categories and term -> category map."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: the document must be a JSON object, not {type(raw).__name__}")
    unknown_keys = set(raw) - {"version", "description", "categories", "languages"}
    if unknown_keys:
        raise ValueError(f"{where}: unknown top-level keys {sorted(unknown_keys)}")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where}: 'version' must be a positive integer, not {version!r}")
    if not isinstance(raw.get("description", ""), str):
        raise ValueError(f"{where}: 'description' must be a string")
    categories = _categories(raw.get("categories"), where)
    languages = raw.get("languages")
    if not isinstance(languages, dict) or not languages:
        raise ValueError(f"{where}: 'languages' must be a non-empty object of language -> categories")
    rank = {name: index for index, name in enumerate(PRECEDENCE)}
    terms: dict[str, str] = {}
    for language, block in languages.items():
        if not isinstance(block, dict):
            raise ValueError(f"{where}: language {language!r} must map categories to lists of terms")
        for category, entries in block.items():
            if category not in categories:
                raise ValueError(
                    f"{where}: language {language!r} has unknown category {category!r} "
                    f"(declared: {', '.join(categories)})"
                )
            if not isinstance(entries, list):
                raise ValueError(f"{where}: language {language!r}, category {category!r} must be a list of terms")
            for term in entries:
                problem = check_term(term)
                if problem is not None:
                    raise ValueError(f"{where}: language {language!r}, category {category!r}: term {term!r} {problem}")
                known = terms.get(term)
                if known is None or rank[category] < rank[known]:
                    terms[term] = category
    return version, categories, terms


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read and validate a lexicon file; raise ValueError naming the language, category and term at fault."""
    data = path.read_bytes()
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
        raise ValueError(f"{path}: not a UTF-8 JSON document: {error}") from error
    version, categories, terms = parse_lexicon(raw, str(path))
    return Lexicon(version=version, categories=categories, terms=terms, sha256=hashlib.sha256(data).hexdigest())


def normalise_document(raw: dict[str, Any]) -> dict[str, Any]:
    """Return a lexicon document with every term in its normalised form, lists sorted and deduplicated.

    Terms may be written in any script and with diacritics ("идиот", "glupača"): this is how they
    become the fixed points ``load_lexicon`` requires. A term whose normalised form is not one or
    two plain tokens is dropped, and so is one with a neutral identity word or a word for people
    (normalisation drops those, ``ml.normalise.drop_identity_and_people_words``); so is a form already
    listed in the same category.
    """
    languages: dict[str, dict[str, list[str]]] = {}
    for language, block in raw["languages"].items():
        languages[language] = {}
        for category, entries in block.items():
            kept = [term.strip() for term in entries if not identity_words(term.strip())]
            forms = {normalise_text(term) for term in kept}
            languages[language][category] = sorted(form for form in forms if check_term(form) is None)
    return {**raw, "languages": languages}


def switch_terms(text: str, terms: Mapping[str, str], seed: int) -> str:
    """Return normalised ``text`` with each lexicon term in it swapped for another term of its category.

    Training copies made this way ("you are an idiot" -> "you are an gilipollas") teach the model the
    words and character n-grams of insults in the languages it has no data for, with the labels of
    the English rows. Two-word terms are matched before single words; the choices depend only on
    ``seed`` and the text. A text without a term comes back normalised and otherwise unchanged.
    """
    normalised = normalise_text(text)
    by_category: dict[str, list[str]] = {}
    for term, category in sorted(terms.items()):
        by_category.setdefault(category, []).append(term)
    tokens = list(_TOKEN.finditer(normalised))
    # Seeded from the text's UTF-8 bytes, as Random does with a str, but lone surrogates allowed.
    rng = random.Random(f"{seed}:{normalised}".encode("utf-8", "surrogatepass"))  # noqa: S311 (not secrecy)
    pieces: list[str] = []
    last = 0
    index = 0
    while index < len(tokens):
        found = None
        for width in range(MAX_TOKENS, 0, -1):
            window = tokens[index : index + width]
            if len(window) < width:
                continue
            candidate = " ".join(match.group() for match in window)
            # Only words joined by one space stand for a two-word term, as the features read them.
            if candidate in terms and normalised[window[0].start() : window[-1].end()] == candidate:
                found = (window[0].start(), window[-1].end(), candidate, width)
                break
        if found is None:
            index += 1
            continue
        begin, end, term, width = found
        choices = by_category[terms[term]]
        replacement = choices[rng.randrange(len(choices))]
        pieces += [normalised[last:begin], replacement]
        last = end
        index += width
    pieces.append(normalised[last:])
    return "".join(pieces)
