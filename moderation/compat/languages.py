"""Languages and sentences for the Perspective-compatible API.

``language_detect`` is ``ml.language.detect_language`` as Perspective reports it: a list of one
code, or none when the text has too few letters. The guess never blocks scoring (the models read
characters, not languages); it only fills ``detectedLanguages``.
"""

from __future__ import annotations

import re

from ml.language import detect_language

# Sentence ends, with the ideographic full stop and the full-width "!" and "?".
ENDS = ".!?\u3002\uff01\uff1f"
SENTENCE = re.compile(f"[^{ENDS}\\n]*(?:[{ENDS}]+|\\n|$)")


def language_detect(text: str) -> list[str]:
    """Guess the language of a text: ``["de"]``, or ``[]`` when there is nothing to go on."""
    code = detect_language(text).code
    return [code] if code else []


MAX_SPANS = 100  # a 20 KB text of one-word "sentences" answered 4.9 MB of span scores


def sentence_spans(text: str, limit: int = MAX_SPANS) -> list[tuple[int, int]]:
    """Return ``(begin, end)`` character offsets of the sentences of a text, without surrounding blanks.

    At most ``limit`` spans: the last one runs to the end of the text.
    """
    spans: list[tuple[int, int]] = []
    for match in SENTENCE.finditer(text):
        if len(spans) == limit:
            tail = text[spans[-1][0] :].rstrip()
            spans[-1] = (spans[-1][0], spans[-1][0] + len(tail))
            break
        chunk = match.group()
        stripped = chunk.strip()
        if not stripped:
            continue
        begin = match.start() + (len(chunk) - len(chunk.lstrip()))
        spans.append((begin, begin + len(stripped)))
    return spans
