"""What a publisher lives with: decisions at the default thresholds on the development corpus.

Scores every row of ``ml/corpus/dev/`` (written apart from the training corpus, never trained on)
with the shipped models, decides it with ``moderation.policy.decide`` and the default thresholds
(no site rules), and prints, per language and script and per category, the share of civil comments
held, of toxic ones held (threats and identity attacks apart), of spam held and rejected, and of
legitimate comments rejected. Usage::

    .venv/bin/python bench/decisions.py [--artifacts DIR] [--toxicity VERSION] [--spam VERSION] [--json FILE]
        [--thresholds JSON]

The models before 2026.11.30 at their defaults, for comparison::

    .venv/bin/python bench/decisions.py --toxicity toxicity-2026.11.28.3 --spam spam-2026.11.28.3 \
        --thresholds '{"TOXICITY": {"publish": 0.5}, "SPAM": {"publish": 0.5, "reject": 0.95}}'
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.corpus import CorpusRow, read_corpus, select_files
from ml.scoring import load_scorer
from moderation.policy import DEFAULT_THRESHOLDS, Outcome, decide, thresholds_from_json

THREATS = ("threat-explicit", "threat-veiled", "threat-wish")
IDENTITY = ("identity-slur", "identity-dehumanise", "identity-goback", "identity-expel", "identity-generalise")
SCRIPTED = ("sr", "bg", "mk", "ru", "uk", "el")


def group_of(row: CorpusRow) -> str:
    return f"{row.lang}-{row.script}" if row.lang in SCRIPTED else row.lang


def rate(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f} ({numerator}/{denominator})" if denominator else "-"


def tally(rows: list[CorpusRow], outcomes: list[Outcome]) -> dict[str, list[int]]:
    """Per measure: [count, held or rejected (or rejected for *_rejected)]."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, outcome in zip(rows, outcomes, strict=True):
        stopped = outcome != Outcome.PUBLISHED
        spam, toxic = row.labels["SPAM"], row.labels["TOXICITY"]
        measures = []
        if spam:
            measures += [("spam_held", stopped), ("spam_rejected", outcome == Outcome.REJECTED)]
        elif toxic:
            measures.append(("toxic_held", stopped))
            if row.kind in THREATS or row.labels["THREAT"]:
                measures.append(("threat_held", stopped))
            if row.kind in IDENTITY or row.labels["IDENTITY_ATTACK"]:
                measures.append(("identity_held", stopped))
        else:
            measures += [("civil_held", stopped), ("legit_rejected", outcome == Outcome.REJECTED)]
            if row.kind == "sources":
                measures.append(("sources_held", stopped))
        for name, hit in measures:
            found[name][0] += 1
            found[name][1] += int(hit)
    return found


COLUMNS = (
    "civil_held",
    "toxic_held",
    "threat_held",
    "identity_held",
    "spam_held",
    "spam_rejected",
    "sources_held",
    "legit_rejected",
)


def table(title: str, groups: dict[str, dict[str, list[int]]]) -> list[str]:
    lines = [f"### {title}", "", "| | " + " | ".join(c.replace("_", " ") + " %" for c in COLUMNS) + " |"]
    lines.append("|---" * (len(COLUMNS) + 1) + "|")
    for name, found in groups.items():
        cells = [rate(found[c][1], found[c][0]) if c in found else "-" for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toxicity", help="toxicity model version, default the newest")
    parser.add_argument("--spam", help="spam model version, default the newest")
    parser.add_argument("--artifacts", type=Path, help="artifacts directory, default ml/artifacts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--thresholds", type=json.loads, help="thresholds as a site stores them, default the policy's")
    parser.add_argument("--files", nargs="+", default=[], metavar="GLOB", help="only these files of ml/corpus/dev")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="GLOB", help="leave out these files")
    args = parser.parse_args()
    rows = select_files(read_corpus("dev"), args.files, args.exclude)
    if not rows:
        parser.error("no development row in the files chosen")
    scorer = load_scorer(args.artifacts, toxicity_version=args.toxicity, spam_version=args.spam)
    scores = scorer.score_many([row.text for row in rows])
    thresholds = DEFAULT_THRESHOLDS if args.thresholds is None else thresholds_from_json(args.thresholds)
    outcomes = [decide(scores=s, thresholds=thresholds).outcome for s in scores]
    by_group: dict[str, list[int]] = defaultdict(list)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_group[group_of(row)].append(index)
        by_kind[row.kind].append(index)

    def tallies(index_groups: dict[str, list[int]]) -> dict[str, dict[str, list[int]]]:
        return {
            name: tally([rows[i] for i in indices], [outcomes[i] for i in indices])
            for name, indices in sorted(index_groups.items())
        }

    overall = {"all": tally(rows, outcomes)}
    groups, kinds = tallies(by_group), tallies(by_kind)
    shown = {name: (t.publish, t.reject) for name, t in thresholds.items()}
    only = f"; files {', '.join(args.files)}" if args.files else ""
    only += f"; without files {', '.join(args.exclude)}" if args.exclude else ""
    print(f"Models {scorer.versions}; thresholds (hold, reject) {shown}; {len(rows)} dev rows{only}")
    print()
    tables = table("Overall", overall) + table("Per language and script", groups) + table("Per category", kinds)
    print("\n".join(tables))
    if args.json:
        report: dict[str, Any] = {"versions": scorer.versions, "overall": overall, "groups": groups, "kinds": kinds}
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
