"""Measure the committed models: import and load time, one-comment latency, batch throughput, memory.

Usage: ``.venv/bin/python bench/ml_scoring.py [--artifacts DIR] [--repeat N]``. Prints JSON.
Targets (PRODUCT.md): both models on one comment under 1 ms at the median on one core; load under 1 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.scoring import DEFAULT_ARTIFACTS_DIR, load_scorer

COMMENTS = [
    "Thanks for the article, I learned a lot about the new bridge.",
    "You are a worthless idiot, shut up",
    "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp",
    "I disagree with the council: the budget for the bridge doubled in two years and nobody explained why.",
    "great read",
    "Has anyone checked the figures in the third paragraph? They do not match the report linked at the end, "
    "which says the contract was signed in March, not May. Happy to be corrected if I misread it.",
    "Subscribe to my channel for daily crypto signals, 100% profit guaranteed",
    "What a pathetic excuse for journalism. The author should be ashamed.",
]


def import_seconds() -> float:
    """Time ``import ml.scoring`` in a fresh interpreter (includes numpy, scipy and scikit-learn)."""
    code = "import time; t = time.perf_counter(); import ml.scoring; print(time.perf_counter() - t)"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    parser.add_argument("--repeat", type=int, default=5000, help="single-comment scores to time")
    args = parser.parse_args()

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        scorer = load_scorer(args.artifacts)
        loads.append(time.perf_counter() - started)

    for text in COMMENTS:
        scorer.score(text)
    latencies = []
    for index in range(args.repeat):
        text = COMMENTS[index % len(COMMENTS)]
        started = time.perf_counter()
        scorer.score(text)
        latencies.append(time.perf_counter() - started)
    latencies.sort()

    batch = COMMENTS * 1250
    started = time.perf_counter()
    scorer.score_many(batch)
    batch_seconds = time.perf_counter() - started

    report = {
        "versions": scorer.versions,
        "import_seconds_fresh_process": round(import_seconds(), 3),
        "load_seconds_median": round(statistics.median(loads), 4),
        "score_one_ms_median": round(statistics.median(latencies) * 1000, 4),
        "score_one_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 4),
        "score_many_comments_per_second": round(len(batch) / batch_seconds),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "sample": {text[:40]: {k: round(v, 4) for k, v in scorer.score(text).items()} for text in COMMENTS[:3]},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
