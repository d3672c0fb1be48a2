"""The quoted-term search, tried only at quotation marks against a search at every position.

    .venv/bin/python bench/quoted_spans.py --data ../shared/data

Scores 2,000 toxic-spans posts (news comments, nearly all with a lexicon hit, so the quotation search
runs on each) with the shipped models, seven rounds, alternating ``ml.features.quoted_spans`` with the
search it replaced (``_QUOTATION.finditer`` over the whole text), and prints the medians.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml import features  # noqa: E402
from ml.scoring import load_scorer  # noqa: E402


def full_search(text: str) -> list[tuple[int, int]]:
    """The search before: the pattern tried at every position of the text."""
    spans = []
    for match in features._QUOTATION.finditer(text):
        group = 1 if match.group(1) is not None else 2
        if len(features._WORD.findall(match.group(group))) <= features.MAX_QUOTED_WORDS:
            spans.append((match.start(group), match.end(group)))
    if spans:
        gaps = zip([(0, 0), *spans], [*spans, (len(text), 0)], strict=True)
        if not features._WORD.search("".join(text[end:begin] for (_, end), (begin, _) in gaps)):
            return []
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    path = args.data / "toxic-spans" / "toxic_spans_all_annotated_posts.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        texts = [row["text"] for _, row in zip(range(2000), csv.DictReader(stream), strict=False)]
    scorer = load_scorer()
    scorer.score_many(texts[:200])
    rates: dict[str, list[float]] = {"every position": [], "quotation marks only": []}
    searches = {"every position": full_search, "quotation marks only": features.quoted_spans}
    for _ in range(args.rounds):
        for name, search in searches.items():
            features.quoted_spans = search  # type: ignore[assignment]
            start = time.perf_counter()
            scorer.score_many(texts)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    features.quoted_spans = searches["quotation marks only"]  # type: ignore[assignment]
    print(f"{scorer.versions}; {len(texts)} toxic-spans posts, median of {args.rounds} rounds, comments/s:")
    for name, values in rates.items():
        print(f"  {name}: {statistics.median(values):,.0f}")


if __name__ == "__main__":
    main()
