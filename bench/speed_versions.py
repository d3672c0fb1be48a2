"""Two model releases side by side: comments per second and one comment's time, alternating rounds.

    .venv/bin/python bench/speed_versions.py --old toxicity-2026.11.30.4 spam-2026.11.30 \\
        --new toxicity-2026.12.01.5 spam-2026.12.01

Both releases are loaded in one process and timed in turns (seven rounds of 1,000 comments each, the
timing comments of ``bench/models.py`` and 1,000 toxic-spans posts as news comments), so the
machine's other load moves both alike; it prints the medians. For a change of normalisation or
features that should not cost speed.
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
sys.path.insert(0, str(ROOT / "bench"))

from models import TIMING_COMMENTS  # noqa: E402

from ml.scoring import Scorer, load_scorer  # noqa: E402


def per_second(scorer: Scorer, texts: list[str]) -> float:
    start = time.perf_counter()
    scorer.score_many(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", nargs=2, required=True, metavar=("TOXICITY", "SPAM"))
    parser.add_argument("--new", nargs=2, required=True, metavar=("TOXICITY", "SPAM"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    scorers = {
        "old": load_scorer(toxicity_version=args.old[0], spam_version=args.old[1]),
        "new": load_scorer(toxicity_version=args.new[0], spam_version=args.new[1]),
    }
    path = Path(args.data) / "toxic-spans" / "toxic_spans_all_annotated_posts.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        news = [row["text"] for row in csv.DictReader(handle)][:1000]
    timing = (TIMING_COMMENTS * (1000 // len(TIMING_COMMENTS) + 1))[:1000]
    print(f"old {scorers['old'].versions}, new {scorers['new'].versions}")
    for name, texts in (("timing comments", timing), ("news comments", news)):
        rates: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            for which, scorer in scorers.items():
                rates[which].append(per_second(scorer, texts))
        print(f"{name}, comments/s: " + ", ".join(f"{k} {statistics.median(v):,.0f}" for k, v in rates.items()))
    single: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(3):
        for which, scorer in scorers.items():
            times = []
            for text in TIMING_COMMENTS * 50:
                start = time.perf_counter()
                scorer.score(text)
                times.append(time.perf_counter() - start)
            single[which].append(statistics.median(times) * 1000)
    print("one comment, median ms: " + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in single.items()))


if __name__ == "__main__":
    main()
