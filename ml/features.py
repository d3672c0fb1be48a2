"""Hashed word and character n-gram features of normalised text, plus an abuse-lexicon block.

Blocks sit side by side in one sparse row; nothing is fitted, so the spec alone rebuilds the
features. The hashing is ``ml.hashing.SCHEME``: every n-gram of a whole batch hashed at once in
NumPy; a block's value for each occurrence is ``1 / sqrt(occurrences of the block in the text)``,
so a repeated n-gram counts as often as it occurs; a ``lexicon`` block adds one column per category
of ``ml/lexicon.json`` (insult, profanity, ...), 1 when a word or two-word phrase of the text is in it.
With ``"quoted": true`` a lexicon block has one column more, ``quoted``: a term inside a short
quotation (``quoted_spans``: at most four words between quotation marks, the text not being all
quotation) counts there instead of in its category, since a comment that quotes a slur to condemn or
report it ("he called her „kurva“ on air") mentions the word without using it.

``entries`` is the batch form (text, column, value per occurrence) both scorers and ``matrix`` use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ml import hashing
from ml.normalise import NORMALISATION_VERSION, NORMALISATION_VERSIONS, normalise_many, normalise_text

ANALYZERS = ("word", "char_wb", "lexicon")
WORD_PATTERN = r"(?u)\b\w+\b"
_CHUNK = 4096


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
class LexiconBlock:
    """One column per lexicon category; a text has 1 there when one of its words or phrases is a term of it."""

    categories: tuple[str, ...]
    terms: tuple[tuple[str, str], ...]  # (normalised term, category), sorted
    version: int = 1
    source: str = ""
    quoted: bool = False  # one column more, for terms inside a short quotation (see the module's docstring)

    analyzer = "lexicon"

    @property
    def n_features(self) -> int:
        return len(self.categories) + int(self.quoted)

    @property
    def max_words(self) -> int:
        return max((term.count(" ") + 1 for term, _ in self.terms), default=1)

    def to_json(self) -> dict[str, Any]:
        found = {
            "analyzer": "lexicon",
            "source": self.source,
            "version": self.version,
            "n_features": self.n_features,
            "categories": list(self.categories),
            "terms": {term: category for term, category in self.terms},
        }
        if self.quoted:  # written only when set, so that older artifacts read (and hash) as they were
            found["quoted"] = True
        return found

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], normalisation_version: int = NORMALISATION_VERSION) -> LexiconBlock:
        terms = raw.get("terms")
        source = raw.get("source", "")
        quoted = raw.get("quoted", False)
        if not isinstance(quoted, bool):
            raise ValueError(f"a lexicon block's quoted must be true or false, not {quoted!r}")
        if terms is None:
            # A training config names the lexicon file; the artifact then carries its terms.
            if not isinstance(source, str) or not source:
                raise ValueError("a lexicon block needs its terms or a source file")
            from ml.lexicon import LEXICON_PATH, load_lexicon

            path = LEXICON_PATH.parent / source
            lexicon = load_lexicon(path)
            return cls(
                categories=tuple(lexicon.categories),
                terms=tuple(sorted(lexicon.terms.items())),
                version=lexicon.version,
                source=source,
                quoted=quoted,
            )
        categories = raw.get("categories")
        version = raw.get("version", 1)
        if not isinstance(categories, list) or not categories or not all(isinstance(c, str) for c in categories):
            raise ValueError("a lexicon block's categories must be a non-empty list of names")
        if not isinstance(terms, dict) or not all(category in categories for category in terms.values()):
            raise ValueError("a lexicon block's terms must map terms to its categories")
        from ml.lexicon import check_term

        for term in terms:
            # The single-text path matches words joined by one space: only such terms score alike everywhere.
            problem = check_term(term, normalisation_version)
            if problem is not None:
                raise ValueError(f"lexicon term {term!r} {problem}")
        if not isinstance(version, int) or not isinstance(source, str):
            raise ValueError("a lexicon block's version must be an int and its source a string")
        return cls(
            categories=tuple(categories),
            terms=tuple(sorted(terms.items())),
            version=version,
            source=source,
            quoted=quoted,
        )


Block = NgramBlock | LexiconBlock


# A span between quotation marks, double ones and guillemets of any language or single ones, opened
# where no word ends and closed where none begins (so "don't" opens nothing, and in a quotation that
# holds another the inner one is found). Bounded, so the search is linear in the text.
_QUOTATION = re.compile(
    r'(?<!\w)["\u201c\u201d\u201e\u00ab\u00bb\u201f\uff02\u2039\u203a]'
    r'([^"\u201c\u201d\u201e\u00ab\u00bb\u201f\uff02\u2039\u203a\n]{1,80}?)'
    r'["\u201c\u201d\u201e\u00ab\u00bb\u201f\uff02\u2039\u203a](?!\w)'
    r"|(?<!\w)['\u2018\u201a]([^'\u2018\u2019\u201a\n]{1,80}?)['\u2019](?!\w)"
)
# Every character that may open a quotation. Each match of _QUOTATION begins with one, so trying it
# only there finds what its finditer would, without trying the look-behind at every position.
_OPENING = re.compile("[\"\u201c\u201d\u201e\u00ab\u00bb\u201f\uff02\u2039\u203a'\u2018\u201a]")
_WORD = re.compile(r"\w+")
MAX_QUOTED_WORDS = 4


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``[begin, end)`` of each short quotation of a normalised text: at most
    ``MAX_QUOTED_WORDS`` words between quotation marks (a longer one is a quoted sentence, a retweet,
    whose words are used as much as mentioned), and none when the quotations hold all the text's words."""
    spans: list[tuple[int, int]] = []
    resume = 0  # as finditer: the next match starts where the last one ended
    for opening in _OPENING.finditer(text):
        if opening.start() < resume or (match := _QUOTATION.match(text, opening.start())) is None:
            continue
        resume = match.end()
        group = 1 if match.group(1) is not None else 2
        if len(_WORD.findall(match.group(group))) <= MAX_QUOTED_WORDS:
            spans.append((match.start(group), match.end(group)))
    if spans:
        gaps = zip([(0, 0), *spans], [*spans, (len(text), 0)], strict=True)
        outside = "".join(text[end:begin] for (_, end), (begin, _) in gaps)
        if not _WORD.search(outside):
            return []
    return spans


def _inside(spans: list[tuple[int, int]], begin: int, end: int) -> bool:
    return any(first <= begin and end <= last for first, last in spans)


def _block_from_json(raw: Mapping[str, Any], normalisation_version: int) -> Block:
    if raw.get("analyzer") == "lexicon":
        return LexiconBlock.from_json(raw, normalisation_version)
    return NgramBlock.from_json(raw)


@dataclass(frozen=True)
class FeatureSpec:
    blocks: tuple[Block, ...]
    normalisation_version: int = NORMALISATION_VERSION
    hashing: str = hashing.SCHEME

    @property
    def n_features(self) -> int:
        return sum(block.n_features for block in self.blocks)

    def to_json(self) -> dict[str, Any]:
        return {
            "normalisation_version": self.normalisation_version,
            "hashing": self.hashing,
            "blocks": [block.to_json() for block in self.blocks],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FeatureSpec:
        blocks = raw.get("blocks")
        if not isinstance(blocks, list) or not blocks:
            raise ValueError("features.blocks must be a non-empty list")
        version = raw.get("normalisation_version", NORMALISATION_VERSION)
        if version not in NORMALISATION_VERSIONS:
            raise ValueError(f"features.normalisation_version must be one of {NORMALISATION_VERSIONS}, not {version!r}")
        # A training config may leave the scheme out: it trains with the current one. An artifact's
        # meta.json always names it (ml.artifacts checks that before it gets here).
        scheme = raw.get("hashing", hashing.SCHEME)
        if scheme != hashing.SCHEME:
            raise ValueError(f"features.hashing must be {hashing.SCHEME!r}, not {scheme!r}")
        parsed = tuple(_block_from_json(block, version) for block in blocks)
        for block in parsed:
            if isinstance(block, NgramBlock) and (block.n_features < 2 or block.n_features & (block.n_features - 1)):
                raise ValueError(f"the {hashing.SCHEME} scheme needs n_features a power of two, not {block.n_features}")
        return cls(blocks=parsed, normalisation_version=version, hashing=scheme)


# Per block: the active column indices (offset into the full row) and the value each one has.
ActiveFeatures = list[tuple[np.ndarray, float]]


@dataclass
class Entries:
    """The non-zero entries of a batch's rows, one per occurrence (a column may repeat: values add up).

    ``begin``/``end`` locate each occurrence in its normalised text when positions were asked for.
    """

    size: int
    text: np.ndarray
    column: np.ndarray
    value: np.ndarray
    begin: np.ndarray | None = None
    end: np.ndarray | None = None

    def matrix(self, n_features: int) -> sp.csr_matrix:
        coo = sp.coo_matrix((self.value, (self.text, self.column)), shape=(self.size, n_features))
        return sp.csr_matrix(coo)  # sums repeated columns


def _add_segments(sums: np.ndarray, text: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Add the rows of ``weights`` to ``sums[text]``, ``text`` sorted; return how many each text got."""
    counts = np.bincount(text, minlength=len(sums))
    if len(text):
        present = np.flatnonzero(counts)
        starts = (np.cumsum(counts) - counts)[present]
        sums[present] += np.add.reduceat(weights, starts, axis=0)
    return counts


def _concatenate(size: int, parts: list[Entries], positions: bool) -> Entries:
    if not parts:
        empty = np.zeros(0, np.int64)
        return Entries(size, empty, empty, np.zeros(0), empty if positions else None, empty if positions else None)
    return Entries(
        size=size,
        text=np.concatenate([part.text for part in parts]),
        column=np.concatenate([part.column for part in parts]),
        value=np.concatenate([part.value for part in parts]),
        begin=np.concatenate([part.begin for part in parts if part.begin is not None]) if positions else None,
        end=np.concatenate([part.end for part in parts if part.end is not None]) if positions else None,
    )


class _LexiconMatcher:
    def __init__(self, block: LexiconBlock) -> None:
        index = {category: position for position, category in enumerate(block.categories)}
        hashes = np.array([hashing.term_hash(term) for term, _ in block.terms], dtype=np.uint64)
        categories = np.array([index[category] for _, category in block.terms], dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.categories = categories[order]
        self.block = block
        self.max_words = block.max_words
        self._index = {term: index[category] for term, category in block.terms}
        self.quoted_column = len(block.categories) if block.quoted else None

    def single_columns(self, words: list[str], normalised: str = "") -> set[int]:
        """Return the categories (block columns) that one text's words and word pairs hit (``normalised``,
        the text of ``words``, is read for its quotations when the block has a ``quoted`` column)."""
        found = []
        for first in range(len(words)):
            for n in range(1, self.max_words + 1):
                category = self._index.get(" ".join(words[first : first + n])) if first + n <= len(words) else None
                if category is not None:
                    found.append((first, n, category))
        if found and self.quoted_column is not None:
            spans = quoted_spans(normalised)
            if spans:
                places = [(match.start(), match.end()) for match in _WORD.finditer(normalised)]
                quoted = self.quoted_column
                found = [
                    (first, n, quoted if _inside(spans, places[first][0], places[first + n - 1][1]) else category)
                    for first, n, category in found
                ]
        return {category for _, _, category in found}

    def _quoted_columns(self, batch: hashing.TextBatch, found: Entries) -> None:
        """Move the hits that sit inside a short quotation of their text to the ``quoted`` column."""
        assert found.begin is not None and found.end is not None
        spans = {
            text: found_spans
            for text in np.unique(found.text).tolist()
            if (found_spans := quoted_spans(batch.texts[text]))
        }
        if not spans:
            return
        for position in np.flatnonzero(np.isin(found.text, list(spans))).tolist():
            if _inside(spans[int(found.text[position])], int(found.begin[position]), int(found.end[position])):
                found.column[position] = self.quoted_column

    def entries(self, batch: hashing.TextBatch, offset: int, positions: bool) -> Entries:
        parts: list[Entries] = []
        if len(self.hashes):
            for _, run in batch.word_runs(1, self.max_words):
                found = np.minimum(np.searchsorted(self.hashes, run.hashes), len(self.hashes) - 1)
                hit = np.flatnonzero(self.hashes[found] == run.hashes)
                column = self.categories[found[hit]]
                parts.append(
                    Entries(batch.size, run.text[hit], column, np.ones(len(hit)), run.begin[hit], run.end[hit])
                )
        found_all = _concatenate(batch.size, parts, positions=True)
        if self.quoted_column is not None and len(found_all.text):
            self._quoted_columns(batch, found_all)
        width = max(self.block.n_features, 1)
        keys = found_all.text * width + found_all.column
        unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        if positions:
            # Each hit of a category carries its share of the category's single 1.
            found_all.column = found_all.column + offset
            found_all.value = 1.0 / counts[inverse]
            return found_all
        return Entries(batch.size, unique // width, unique % width + offset, np.ones(len(unique)))


class HashedTextFeatures:
    """Turn raw texts into hashed feature rows; the text is normalised here, for training and scoring alike."""

    def __init__(self, spec: FeatureSpec) -> None:
        if spec.normalisation_version not in NORMALISATION_VERSIONS:
            raise ValueError(
                f"features were built with normalisation version {spec.normalisation_version}, "
                f"this code runs versions {NORMALISATION_VERSIONS}"
            )
        self.spec = spec
        self._offsets: list[int] = np.cumsum([0] + [block.n_features for block in spec.blocks[:-1]]).tolist()
        self._lexicons = {
            index: _LexiconMatcher(block) for index, block in enumerate(spec.blocks) if isinstance(block, LexiconBlock)
        }

    @property
    def n_features(self) -> int:
        return self.spec.n_features

    def normalise(self, text: str) -> str:
        """Return the text as these features read it (with the normalisation they were built with)."""
        return normalise_text(text, self.spec.normalisation_version)

    def normalise_many(self, texts: Sequence[str]) -> list[str]:
        return normalise_many(texts, self.spec.normalisation_version)

    def _block_entries(self, batch: hashing.TextBatch) -> list[Entries]:
        positions = batch.positions
        found: list[Entries] = []
        for index, (block, offset) in enumerate(zip(self.spec.blocks, self._offsets, strict=True)):
            if isinstance(block, LexiconBlock):
                found.append(self._lexicons[index].entries(batch, offset, positions))
                continue
            if block.analyzer == "word":
                occurrences = batch.word_ngrams(block.ngram_min, block.ngram_max)
            else:
                occurrences = batch.char_wb_ngrams(block.ngram_min, block.ngram_max)
            counts = np.bincount(occurrences.text, minlength=batch.size)
            value = 1.0 / np.sqrt(counts[occurrences.text])
            found.append(
                Entries(
                    size=batch.size,
                    text=occurrences.text,
                    column=occurrences.columns(block.n_features) + offset,
                    value=value,
                    begin=occurrences.begin if positions else None,
                    end=occurrences.end if positions else None,
                )
            )
        return found

    def entries(self, texts: Sequence[str], *, normalised: bool = False, positions: bool = False) -> Entries:
        """Return the non-zero entries of the rows of ``texts`` (already normalised if ``normalised``)."""
        forms = list(texts) if normalised else self.normalise_many(texts)
        return self.batch_entries(hashing.TextBatch(forms, positions=positions))

    def linear_logits(self, batch: hashing.TextBatch, columns_first: np.ndarray) -> np.ndarray:
        """Return ``rows @ columns_first`` for a batch of normalised texts, without building the rows.

        ``columns_first`` is ``(n_features, heads)`` in C order (the heads of several models side by
        side), so each occurrence reads one cache line. Occurrences come text by text within each
        n-gram length, so a text's weights are one segment to sum; a block's value is the same for
        all of a text's occurrences, so it scales the text's sum once.
        """
        logits = np.zeros((batch.size, columns_first.shape[1]), dtype=np.float64)
        for index, (block, offset) in enumerate(zip(self.spec.blocks, self._offsets, strict=True)):
            if isinstance(block, LexiconBlock):
                hits = self._lexicons[index].entries(batch, offset, positions=False)
                _add_segments(logits, hits.text, columns_first[hits.column])
                continue
            if block.analyzer == "word":
                runs = batch.word_runs(block.ngram_min, block.ngram_max)
            else:
                runs = batch.char_wb_runs(block.ngram_min, block.ngram_max)
            sums = np.zeros_like(logits)
            counts = np.zeros(batch.size, dtype=np.int64)
            for _, run in runs:
                counts += _add_segments(
                    sums, run.text, columns_first[hashing.columns(run.hashes, block.n_features) + offset]
                )
            logits += sums / np.sqrt(np.maximum(counts, 1))[:, None]
        return logits

    def single_logits(self, normalised: str, columns_first: np.ndarray) -> np.ndarray:
        """Return ``linear_logits`` of one normalised text, hashed in plain Python (no per-call NumPy cost)."""
        logits = np.zeros(columns_first.shape[1], dtype=np.float64)
        words: list[tuple[str, int]] | None = None
        for index, (block, offset) in enumerate(zip(self.spec.blocks, self._offsets, strict=True)):
            if isinstance(block, LexiconBlock):
                words = hashing.word_hashes(normalised) if words is None else words
                hits = self._lexicons[index].single_columns([word for word, _ in words], normalised)
                if hits:
                    logits += columns_first[[column + offset for column in hits]].sum(axis=0, dtype=np.float64)
                continue
            if block.analyzer == "word":
                words = hashing.word_hashes(normalised) if words is None else words
                found = np.array(hashing.word_ngram_hashes(words, block.ngram_min, block.ngram_max), dtype=np.uint64)
            else:
                found = hashing.char_wb_hashes(normalised, block.ngram_min, block.ngram_max)
            if len(found):
                column = hashing.columns(found, block.n_features) + offset
                logits += columns_first[column].sum(axis=0, dtype=np.float64) / math.sqrt(len(found))
        return logits

    def batch_entries(self, batch: hashing.TextBatch) -> Entries:
        """Return the entries of a batch of normalised texts (several feature specs can share one batch)."""
        return _concatenate(batch.size, self._block_entries(batch), batch.positions)

    def matrix(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the feature rows of ``texts`` as one CSR matrix."""
        chunks = [
            self.entries(texts[start : start + _CHUNK]).matrix(self.n_features)
            for start in range(0, len(texts), _CHUNK)
        ]
        if not chunks:
            return sp.csr_matrix((0, self.n_features))
        return sp.csr_matrix(sp.vstack(chunks, format="csr"))

    def active_features(self, text: str) -> ActiveFeatures:
        """Return the non-zero columns of one text's row, block by block (a column may repeat)."""
        active: ActiveFeatures = []
        for part in self._block_entries(hashing.TextBatch([self.normalise(text)])):
            if len(part.column):
                active.append((part.column, float(part.value[0])))
        return active


# One feature occurrence: its column in the full row, its [begin, end) in the normalised text, and
# its share of the row's value there (the occurrences' shares add up to the row).
NgramOccurrence = tuple[int, int, int, float]


def ngram_occurrences(features: HashedTextFeatures, normalised: str) -> list[NgramOccurrence]:
    """Return every feature occurrence of already normalised text, with its share of the row's value."""
    found = features.entries([normalised], normalised=True, positions=True)
    assert found.begin is not None and found.end is not None
    return list(zip(found.column.tolist(), found.begin.tolist(), found.end.tolist(), found.value.tolist(), strict=True))
