"""ROC AUC by comment length, Moderato against alt-profanity-check, on one test set (default OLID).

    .venv/bin/python bench/by_length.py --data ../shared/data [--set olid] [--artifacts DIR]

Splits the set's rows by their number of words (under 12, 12-19, 20-29, 30 or more) and prints each
part's AUC for both models, the shipped artifacts against the peer in ``.venv-peer``
(``make bench-peer-venv``). It shows where a model falls behind: a block's n-grams count 1/sqrt of
their number, so one offensive word weighs less in a long comment.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from models import PEER_PYTHON, auc, test_sets  # noqa: E402

from ml.scoring import DEFAULT_ARTIFACTS_DIR, load_scorer  # noqa: E402

BUCKETS = [(0, 12), (12, 20), (20, 30), (30, None)]
PEER = (
    "import json, sys; from profanity_check import predict_prob; "
    "print(json.dumps(predict_prob(json.load(sys.stdin)).tolist()))"
)


def peer_scores(texts: list[str]) -> list[float] | None:
    """The peer's probabilities, from the interpreter of ``.venv-peer``; None (said on stderr) without it."""
    if not PEER_PYTHON.exists():
        print(f"{PEER_PYTHON} is missing: run `make bench-peer-venv`; reporting Moderato only", file=sys.stderr)
        return None
    done = subprocess.run(
        [str(PEER_PYTHON), "-c", PEER], input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--set", default="olid")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    args = parser.parse_args()
    texts, labels = test_sets(args.data, seed=0)[args.set]
    scorer = load_scorer(args.artifacts)
    ours = [scores["TOXICITY"] for scores in scorer.score_many(texts)]
    peer = peer_scores(texts)
    print(f"{args.set}, {scorer.versions} vs alt-profanity-check\n")
    print("| words | rows | toxic | Moderato AUC | alt-profanity-check AUC |\n|---|---:|---:|---:|---:|")
    words = [len(text.split()) for text in texts]
    for low, high in [(0, None), *BUCKETS]:
        rows = [i for i, n in enumerate(words) if n >= low and (high is None or n < high)]
        part = [labels[i] for i in rows]
        ours_auc = auc(part, [ours[i] for i in rows])
        peer_auc = auc(part, [peer[i] for i in rows]) if peer is not None else None
        name = "all" if (low, high) == (0, None) else (f"{low}-{high - 1}" if high else f"{low}+")
        cells = [f"{value:.3f}" if value is not None else "-" for value in (ours_auc, peer_auc)]
        print(f"| {name} | {len(rows)} | {sum(part)} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
