"""The project's own labelled news-comment corpus: ``ml/corpus/train/`` and ``ml/corpus/dev/``.

Each writer's file is tab-separated ``lang, labels, topic, kind, text`` (``corpus/README.md``, the
labelling guide, is the contract); the labels are letter codes (``LABEL_CODES``) and ``0`` for none.
``read_corpus_file`` turns a file into rows with one 0/1 value per Perspective attribute and SPAM,
TOXICITY implied by any toxic code, and the script the text is written in. The training configs
read ``train/`` (``"corpus": true`` in a data set) and report ``dev/`` as test sets; nothing of
``dev/`` is ever trained on. ``python -m ml corpus stats`` reads (and so checks) every file;
``duplicates`` is what ``python -m ml corpus dedupe`` uses.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.language import text_script
from ml.normalise import normalise_text

CORPUS_DIR = Path(__file__).with_name("corpus")
LABEL_CODES = {
    "T": "TOXICITY",
    "I": "INSULT",
    "P": "PROFANITY",
    "A": "IDENTITY_ATTACK",
    "H": "THREAT",
    "S": "SEVERE_TOXICITY",
    "X": "SEXUALLY_EXPLICIT",
    "M": "SPAM",
}
ATTRIBUTES = tuple(LABEL_CODES.values())
TOXIC_CODES = frozenset("TIPAHSX")
LANGUAGES = ("en", "bg", "sr", "hr", "bs", "mk", "sq", "ro", "el", "tr", "de", "fr", "es", "it", "pl", "ru", "uk")
# The topics and kinds the guide lists (corpus/README.md, "The file format").
TOPICS = frozenset(
    "kosovo serbia bosnia croatia macedonia albania bulgaria greece turkey romania balkans war warcrimes"
    " ethnic religion migration roma lgbt women crime violence politics elections corruption eu nato"
    " russia ukraine economy energy sport weather culture health education transport local media"
    " commenters tourism tech science".split()
)
KINDS = frozenset(
    "civil civil-hard criticism sarcasm quote-condemn news-violence sources insult profanity identity-slur"
    " identity-dehumanise identity-goback identity-expel identity-generalise threat-explicit threat-veiled"
    " threat-wish harassment-sexual severe hostile spam-clickbait spam-miracle spam-dating spam-replica"
    " spam-seo spam-scam spam-crypto spam-contact spam-casino spam-loans spam-jobs spam-other".split()
)
COLUMNS = ("lang", "labels", "topic", "kind", "text")


class CorpusError(ValueError):
    """A corpus line does not follow ``corpus/README.md``."""


@dataclass(frozen=True)
class CorpusRow:
    text: str
    lang: str
    script: str
    topic: str
    kind: str
    labels: dict[str, int]
    source: str  # part, file stem and line, e.g. "train/bg-1:17" (train and dev have files of one name)

    @property
    def key(self) -> str:
        """A short name of the row that survives edits elsewhere in its file: a hash of its text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    @property
    def file(self) -> str:
        """The stem of the file the row is in, e.g. ``"bg-1"``."""
        return self.source.split("/", 1)[-1].rsplit(":", 1)[0]

    def as_record(self) -> dict[str, str]:
        """The row as a CSV-like record: text, lang, script, topic, kind, and one column per attribute."""
        record = {"text": self.text, "lang": self.lang, "script": self.script, "topic": self.topic, "kind": self.kind}
        record.update({name: str(value) for name, value in self.labels.items()})
        return record


def parse_labels(code: str) -> dict[str, int]:
    """Map a label code (``0``, ``IA``, ``HS``, ``M``, ...) to one 0/1 value per attribute."""
    if code != "0" and (not code or set(code) - set(LABEL_CODES)):
        raise CorpusError(f"labels {code!r} are not 0 or letters of {''.join(LABEL_CODES)}")
    letters = set() if code == "0" else set(code)
    if "S" in letters and not letters & set("IPAHX"):
        raise CorpusError(f"labels {code!r}: S needs one of I P A H X")
    labels = {name: int(letter in letters) for letter, name in LABEL_CODES.items()}
    labels["TOXICITY"] = int(bool(letters & TOXIC_CODES))
    return labels


def read_corpus_file(path: Path) -> Iterator[CorpusRow]:
    """Yield the rows of one writer's file; raise CorpusError naming the line of a malformed one."""
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            where = f"{path.name} line {number}"
            if len(parts) != len(COLUMNS):
                raise CorpusError(f"{where}: {len(parts)} fields, not {len(COLUMNS)}")
            lang, code, topic, kind, text = parts
            if lang not in LANGUAGES:
                raise CorpusError(f"{where}: unknown language {lang!r}")
            if topic not in TOPICS or kind not in KINDS:
                raise CorpusError(f"{where}: topic {topic!r} or kind {kind!r} is not one the guide lists")
            try:
                labels = parse_labels(code)
            except CorpusError as error:
                raise CorpusError(f"{where}: {error}") from error
            if kind.startswith("spam") != bool(labels["SPAM"]):
                raise CorpusError(f"{where}: kind {kind!r} and labels {code!r} disagree about spam")
            text = text.strip()
            if not text:
                raise CorpusError(f"{where}: empty text")
            yield CorpusRow(
                text, lang, text_script(text), topic, kind, labels, f"{path.parent.name}/{path.stem}:{number}"
            )


def corpus_files(part: str, root: Path = CORPUS_DIR) -> list[Path]:
    """The writers' files of ``train`` or ``dev``, in name order."""
    return sorted((root / part).glob("*.tsv"))


def read_corpus(part: str, root: Path = CORPUS_DIR) -> list[CorpusRow]:
    return [row for path in corpus_files(part, root) for row in read_corpus_file(path)]


def select_files(
    rows: Iterable[CorpusRow], include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> list[CorpusRow]:
    """The rows whose file stem matches one of ``include`` (all when empty) and none of ``exclude`` (globs)."""
    include, exclude = list(include), list(exclude)
    return [
        row
        for row in rows
        if (not include or any(fnmatch.fnmatchcase(row.file, pattern) for pattern in include))
        and not any(fnmatch.fnmatchcase(row.file, pattern) for pattern in exclude)
    ]


_NOT_LETTERS = re.compile(r"[\W\d_]+")


def near_duplicate_keys(text: str) -> tuple[str, str]:
    """Two keys under which near-duplicates meet: the letters of the normalised text, and its sorted words.

    The first catches copies that differ in case, script, diacritics, punctuation, digits or spacing;
    the second copies whose words were shuffled.
    """
    words = _NOT_LETTERS.sub(" ", normalise_text(text)).split()
    return "".join(words), " ".join(sorted(words))


_MASKS = tuple(int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=8).digest(), "big") for seed in range(32))
_BAND = 2  # minhash values per band: texts sharing a band are compared


def _word_set(text: str) -> frozenset[str]:
    return frozenset(_NOT_LETTERS.sub(" ", normalise_text(text)).split())


def _bands(words: frozenset[str]) -> list[tuple[int, ...]]:
    hashes = [int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big") for word in words]
    signature = [min(value ^ mask for value in hashes) for mask in _MASKS]
    return [(start, *signature[start : start + _BAND]) for start in range(0, len(signature), _BAND)]


def duplicates(
    rows: Iterable[CorpusRow], against: Iterable[CorpusRow] = (), min_jaccard: float = 0.7
) -> list[tuple[CorpusRow, str]]:
    """Return the rows that repeat an earlier row or a row of ``against``, each with the source it repeats.

    A repeat has a ``near_duplicate_keys`` key in common with it, or (texts of four words or more)
    shares at least ``min_jaccard`` of its words (Jaccard); candidates are found by minhash bands.
    """
    keys: dict[str, str] = {}
    bands: dict[tuple[int, ...], list[tuple[frozenset[str], str]]] = {}

    def match(row: CorpusRow, words: frozenset[str]) -> str | None:
        for key in near_duplicate_keys(row.text):
            if key in keys:
                return keys[key]
        if len(words) < 4:
            return None
        for band in _bands(words):
            for other, source in bands.get(band, ()):
                if len(words & other) >= min_jaccard * len(words | other):
                    return source
        return None

    def remember(row: CorpusRow, words: frozenset[str]) -> None:
        for key in near_duplicate_keys(row.text):
            keys.setdefault(key, row.source)
        if len(words) >= 4:
            for band in _bands(words):
                bands.setdefault(band, []).append((words, row.source))

    for row in against:
        remember(row, _word_set(row.text))
    found: list[tuple[CorpusRow, str]] = []
    for row in rows:
        words = _word_set(row.text)
        repeated = match(row, words)
        if repeated is not None:
            found.append((row, repeated))
        else:
            remember(row, words)
    return found


def remove_rows(rows: Iterable[CorpusRow], root: Path = CORPUS_DIR) -> int:
    """Delete the given rows' lines from their files (rows must come from files under ``root``); return how many."""
    by_file: dict[str, set[int]] = {}
    for row in rows:
        name, _, line = row.source.rpartition(":")
        by_file.setdefault(name, set()).add(int(line))
    removed = 0
    for part in ("train", "dev"):
        for path in corpus_files(part, root):
            lines = by_file.get(f"{part}/{path.stem}")
            if not lines:
                continue
            text_lines = path.read_text(encoding="utf-8").splitlines()
            kept = [text for number, text in enumerate(text_lines, 1) if number not in lines]
            removed += len(text_lines) - len(kept)
            path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return removed


def label_counts(rows: Iterable[CorpusRow]) -> dict[str, int]:
    counts = Counter({name: 0 for name in ATTRIBUTES})
    for row in rows:
        counts.update(name for name, value in row.labels.items() if value)
    return dict(counts)


def relabel_sample(rows: list[CorpusRow], fraction: float, seed: int) -> list[CorpusRow]:
    """A seeded random ``fraction`` of the rows, in their order: the sample a second writer labels again."""
    import random

    rng = random.Random(seed)  # noqa: S311 (a sample, not a secret)
    chosen = sorted(rng.sample(range(len(rows)), round(len(rows) * fraction)))
    return [rows[index] for index in chosen]


def agreement(first: list[dict[str, int]], second: list[dict[str, int]]) -> dict[str, dict[str, float]]:
    """Cohen's kappa, raw agreement and positives per attribute between two labellings of the same rows."""
    from sklearn.metrics import cohen_kappa_score

    found: dict[str, dict[str, float]] = {}
    for name in ATTRIBUTES:
        a = [labels[name] for labels in first]
        b = [labels[name] for labels in second]
        same = sum(x == y for x, y in zip(a, b, strict=True))
        kappa = float(cohen_kappa_score(a, b)) if len(set(a) | set(b)) > 1 else 1.0
        found[name] = {
            "kappa": round(kappa, 3),
            "agreement": round(same / len(a), 3) if a else 0.0,
            "first_positives": sum(a),
            "second_positives": sum(b),
        }
    return found


def corpus_stats(rows: list[CorpusRow]) -> dict[str, Any]:
    """Counts for the data card: rows per language, script, label, topic and kind, and civil/toxic/spam per language."""
    per_language: dict[str, Counter[str]] = {}
    for row in rows:
        label = "spam" if row.labels["SPAM"] else "toxic" if row.labels["TOXICITY"] else "civil"
        per_language.setdefault(row.lang, Counter())[label] += 1
    return {
        "rows": len(rows),
        "languages": dict(Counter(row.lang for row in rows).most_common()),
        "language_scripts": dict(sorted(Counter(f"{row.lang}-{row.script}" for row in rows).items())),
        "classes_per_language": {lang: dict(sorted(counts.items())) for lang, counts in sorted(per_language.items())},
        "labels": label_counts(rows),
        "topics": dict(Counter(row.topic for row in rows).most_common()),
        "kinds": dict(sorted(Counter(row.kind for row in rows).items())),
    }
