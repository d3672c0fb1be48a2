"""Cheap rules over a comment's text: links, and site word lists matched on normalised words.

Word lists are matched on word boundaries over ``ml.normalise.normalise_text``, so "Scunthorpe"
does not match a blocked "cunt", while obfuscations that normalisation undoes still match.
"""

from __future__ import annotations

import functools
import re

from ml.normalise import normalise_text

# A bare domain starts only where a run of letters, digits and hyphens starts: trying every
# position inside "a-a-a-..." would make the search quadratic.
LINK = re.compile(
    r"https?://\S+|www\.\S+"
    r"|(?<![a-z0-9-])[a-z0-9][a-z0-9-]*\.(?:com|net|org|info|biz|ru|io|ly|xyz|top|click|shop)\b(?:/\S*)?",
    re.IGNORECASE,
)


def links_count(text: str) -> int:
    return len(LINK.findall(text))


def word_list_parse(raw: str) -> tuple[str, ...]:
    """One entry per line (commas also separate); blank lines and duplicates dropped."""
    entries = (entry.strip() for line in raw.splitlines() for entry in line.split(","))
    return tuple(dict.fromkeys(entry for entry in entries if entry))


@functools.lru_cache(maxsize=256)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    normalised = sorted({normalise_text(word) for word in words} - {""}, key=len, reverse=True)
    if not normalised:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in normalised) + r")(?!\w)")


def blocked_words_found(text: str, *, blocked: tuple[str, ...], allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Return the normalised blocked words or phrases in the text, outside allowed ones."""
    pattern = _word_pattern(blocked)
    if pattern is None:
        return ()
    normalised = normalise_text(text)
    allowed_pattern = _word_pattern(allowed)
    if allowed_pattern is not None:
        normalised = allowed_pattern.sub(" ", normalised)
    return tuple(dict.fromkeys(match.group(0) for match in pattern.finditer(normalised)))


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()
