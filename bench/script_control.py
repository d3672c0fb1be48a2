"""No script prior: a Cyrillic comment and its Latin transliteration should score alike.

Every Cyrillic row of the development corpus (Serbian, Bulgarian, Macedonian, Russian, Ukrainian)
is transliterated by ``cyrtranslit`` (an independent package, not Moderato's own normalisation: its
Bulgarian writes ц as "ts" and ъ as "ă", its Russian щ as "shh") and by plain Latin typing without
diacritics (what readers type: č -> c), both versions are scored, and the table gives per language the
mean and largest difference in TOXICITY and SPAM and the share of pairs within 0.05 (the goal: all).
A second table compares the civil comments written in Cyrillic with those written in Latin letters.
Usage::

    .venv/bin/python bench/script_control.py [--artifacts DIR] [--toxicity VERSION] [--spam VERSION]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

import cyrtranslit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.corpus import read_corpus
from ml.scoring import load_scorer

LANGUAGES = {"sr": "sr", "bg": "bg", "mk": "mk", "ru": "ru", "uk": "ua"}  # ours -> cyrtranslit's code


def plain_latin(text: str) -> str:
    """Latin letters as typed on a keyboard without a national layout: diacritics dropped."""
    return "".join(char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path)
    parser.add_argument("--toxicity")
    parser.add_argument("--spam")
    args = parser.parse_args()
    scorer = load_scorer(args.artifacts, toxicity_version=args.toxicity, spam_version=args.spam)
    rows = [row for row in read_corpus("dev") if row.script == "Cyrl" and row.lang in LANGUAGES]
    print(f"Models {scorer.versions}; {len(rows)} Cyrillic development rows")
    print()
    columns = "| language | transliteration | pairs | TOXICITY mean diff | max | within 0.05 | SPAM mean diff | max"
    print(columns + " | within 0.05 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    cyrillic_scores = scorer.score_many([row.text for row in rows])
    for language, code in LANGUAGES.items():
        indices = [index for index, row in enumerate(rows) if row.lang == language]
        if not indices:
            continue
        latin = [cyrtranslit.to_latin(rows[index].text, code) for index in indices]
        for name, texts in (("cyrtranslit", latin), ("no diacritics", [plain_latin(text) for text in latin])):
            latin_scores = scorer.score_many(texts)
            cells = []
            for attribute in ("TOXICITY", "SPAM"):
                diffs = [
                    abs(cyrillic_scores[index][attribute] - scores[attribute])
                    for index, scores in zip(indices, latin_scores, strict=True)
                ]
                within = sum(diff <= 0.05 for diff in diffs) / len(diffs)
                cells += [f"{statistics.mean(diffs):.3f}", f"{max(diffs):.3f}", f"{100 * within:.1f} %"]
            print(f"| {language} | {name} | {len(indices)} | " + " | ".join(cells) + " |")
    print()
    civil = [row for row in read_corpus("dev") if not row.labels["TOXICITY"] and not row.labels["SPAM"]]
    by_script: dict[str, list[float]] = defaultdict(list)
    for row, scores in zip(civil, scorer.score_many([row.text for row in civil]), strict=True):
        if row.lang in LANGUAGES:
            by_script[f"{row.lang} {row.script}"].append(scores["TOXICITY"])
    print("| civil comments | rows | mean TOXICITY | median |")
    print("|---|---:|---:|---:|")
    for name, values in sorted(by_script.items()):
        print(f"| {name} | {len(values)} | {statistics.mean(values):.3f} | {statistics.median(values):.3f} |")


if __name__ == "__main__":
    main()
