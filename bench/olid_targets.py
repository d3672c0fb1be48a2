"""ROC AUC on OLID by what the offence targets, Moderato against alt-profanity-check.

    .venv/bin/python bench/olid_targets.py --data ../shared/data [--split train] [--artifacts DIR]

OLID labels each offensive tweet as untargeted profanity (UNT) or a targeted insult or threat (TIN),
and each targeted one by its target: a person (IND), a group (GRP) or other (OTH). Each row of the
table is every non-offensive tweet against that slice's offensive ones. The training split (13,240
tweets; its licence is unclear, so no model trains on it) is read only to measure: it shows which
kind of offence a model misses, with ten times the test split's rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from by_length import peer_scores  # noqa: E402
from models import auc  # noqa: E402

from ml.datasets import read_csv_rows  # noqa: E402
from ml.scoring import DEFAULT_ARTIFACTS_DIR, load_scorer  # noqa: E402

SLICES = [("all offensive", "", ""), ("UNT", "subtask_b", "UNT"), ("TIN", "subtask_b", "TIN")]
SLICES += [(target, "subtask_c", target) for target in ("IND", "GRP", "OTH")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    args = parser.parse_args()
    rows = list(read_csv_rows(args.data / "olid" / f"olid_{args.split}.csv"))
    texts, labels = [row["text"] for row in rows], [int(row["label"]) for row in rows]
    scorer = load_scorer(args.artifacts)
    ours = [scores["TOXICITY"] for scores in scorer.score_many(texts)]
    peer = peer_scores(texts)
    print(f"olid {args.split}, {scorer.versions} vs alt-profanity-check\n")
    print("| offensive slice | offensive rows | Moderato AUC | alt-profanity-check AUC |\n|---|---:|---:|---:|")
    for name, column, value in SLICES:
        chosen = [i for i, row in enumerate(rows) if labels[i] == 0 or (not column or row[column] == value)]
        part = [labels[i] for i in chosen]
        ours_auc = auc(part, [ours[i] for i in chosen])
        peer_auc = auc(part, [peer[i] for i in chosen]) if peer is not None else None
        cells = [f"{v:.3f}" if v is not None else "-" for v in (ours_auc, peer_auc)]
        print(f"| {name} | {sum(part)} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
