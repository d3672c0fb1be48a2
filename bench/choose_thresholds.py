"""Choose the default thresholds on the development corpus (how moderation.policy's defaults were set).

The development corpus (``ml/corpus/dev/``, never trained on) is scored once; then, over a grid, the
thresholds are chosen that hold the most toxic comments and the most spam while, with the policy's
own ``decide``: at most ``--civil`` of civil comments are held overall and at most ``--civil-group`` in
any language and script with 100 civil comments or more (in a smaller group one comment moves the share
by two points), at most ``--sources`` of legitimate comments that cite links and numbers are held, and
no legitimate comment is rejected (the reject threshold
sits above every legitimate comment's spam score, with a margin). The extra heads (THREAT,
IDENTITY_ATTACK, SEVERE_TOXICITY, INSULT, PROFANITY) hold at the score that one civil comment in
``1/--head-civil`` reaches, THREAT also at the scores twice and three times as many civil comments reach (the grid
picks among them). Usage::

    .venv/bin/python bench/choose_thresholds.py [--artifacts DIR] [--toxicity VERSION] [--spam VERSION]

``--heads THREAT IDENTITY_ATTACK SEVERE_TOXICITY`` chooses as the releases before INSULT and
PROFANITY held did (what the two heads add at the same share of civil comments held).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.decisions import group_of
from ml.corpus import read_corpus, select_files
from ml.scoring import load_scorer
from moderation.policy import Outcome, Threshold, decide

HEADS = ("THREAT", "IDENTITY_ATTACK", "SEVERE_TOXICITY", "INSULT", "PROFANITY")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path)
    parser.add_argument("--toxicity")
    parser.add_argument("--spam")
    parser.add_argument("--civil", type=float, default=0.035, help="most civil comments held overall")
    parser.add_argument("--civil-group", type=float, default=0.07, help="most held in a language and script")
    parser.add_argument("--sources", type=float, default=0.04, help="most legitimate comments with sources held")
    parser.add_argument("--head-civil", type=float, default=0.004, help="civil share at or above a head's threshold")
    parser.add_argument("--reject-margin", type=float, default=0.02, help="reject this far above any ham")
    parser.add_argument("--heads", nargs="+", default=list(HEADS), metavar="ATTRIBUTE", help="extra heads that hold")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="GLOB", help="leave out these dev files")
    args = parser.parse_args()
    rows = select_files(read_corpus("dev"), exclude=args.exclude)
    scorer = load_scorer(args.artifacts, toxicity_version=args.toxicity, spam_version=args.spam)
    scores = scorer.score_many([row.text for row in rows])
    spam = np.array([row.labels["SPAM"] for row in rows], dtype=bool)
    toxic = np.array([row.labels["TOXICITY"] for row in rows], dtype=bool) & ~spam
    civil = ~spam & ~toxic
    sources = civil & np.array([row.kind == "sources" for row in rows])
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if civil[index]:
            groups[group_of(row)].append(index)
    big_groups = {name: np.array(indices) for name, indices in groups.items() if len(indices) >= 100}

    heads = {}
    for head in args.heads:
        if head in scores[0]:
            values = np.array([s[head] for s in scores])
            heads[head] = round(float(np.quantile(values[civil], 1 - args.head_civil)), 3)
    ham_spam = max(s["SPAM"] for s, is_spam in zip(scores, spam, strict=True) if not is_spam)
    reject = round(min(0.999, ham_spam + args.reject_margin), 3)
    toxicity_values = np.array([s["TOXICITY"] for s in scores])
    spam_values = np.array([s["SPAM"] for s in scores])
    candidates_tox = sorted(
        {round(float(q), 3) for q in np.quantile(toxicity_values[civil], np.linspace(0.85, 0.999, 80))}
    )
    candidates_spam = sorted(
        {round(float(q), 3) for q in np.quantile(spam_values[~spam], np.linspace(0.85, 0.999, 40))}
    )
    best = None
    threat_values = np.array([s.get("THREAT", 0.0) for s in scores])
    candidates_threat = sorted(
        {
            round(float(np.quantile(threat_values[civil], 1 - share)), 3)
            for share in np.array([1, 2, 3]) * args.head_civil
        }
    )
    grid = [
        (t_tox, t_spam, t_threat)
        for t_tox in candidates_tox
        for t_spam in candidates_spam
        for t_threat in candidates_threat
    ]
    for t_tox, t_spam, t_threat in grid:
        thresholds = {"TOXICITY": Threshold(t_tox), "SPAM": Threshold(min(t_spam, reject), reject)}
        thresholds.update({head: Threshold(value) for head, value in heads.items()})
        if "THREAT" in heads:
            thresholds["THREAT"] = Threshold(t_threat)
        outcome = np.array([decide(scores=s, thresholds=thresholds).outcome for s in scores])
        held = outcome != Outcome.PUBLISHED
        if held[civil].mean() > args.civil or held[sources].mean() > args.sources:
            continue
        if any(held[indices].mean() > args.civil_group for indices in big_groups.values()):
            continue
        if (outcome[~spam] == Outcome.REJECTED).any():
            continue
        gain = held[toxic].mean() + held[spam].mean()
        if best is None or gain > best[0]:
            best = (gain, thresholds, held, outcome)
    if best is None:
        print("no thresholds meet the constraints")
        return
    _, thresholds, held, outcome = best
    print(f"Models {scorer.versions}; {len(rows)} development rows")
    for name, threshold in sorted(thresholds.items()):
        print(
            f"  {name}: hold at {threshold.publish}" + (f", reject at {threshold.reject}" if threshold.reject else "")
        )
    print(
        f"civil held {held[civil].mean():.3f}, sources held {held[sources].mean():.3f}, toxic held "
        f"{held[toxic].mean():.3f}, spam held {held[spam].mean():.3f}, spam rejected "
        f"{(outcome[spam] == Outcome.REJECTED).mean():.3f}, "
        f"legitimate rejected {(outcome[~spam] == Outcome.REJECTED).sum()}"
    )
    for name, indices in sorted(groups.items()):
        print(f"  civil held, {name}: {held[np.array(indices)].mean():.3f} of {len(indices)}")


if __name__ == "__main__":
    main()
