"""Identity fairness of the toxicity model: the Jigsaw bias metrics, and what a group name alone does.

Two sets, neither trained on:

- the Wikipedia identity test set (Dixon et al. 2018, ``--data``), split into one subgroup per
  identity term it mentions (the terms of the paper), with the three Jigsaw bias metrics: subgroup
  AUC (toxic vs not within the subgroup), BPSN (background positive, subgroup negative: the
  subgroup's civil comments against the toxic ones without it) and BNSP (the reverse);
- ``ml/eval/identity_templates.json``, neutral and toxic frames in five languages filled with every
  group name and with the word for people: the same three metrics per group, and how far a group
  name moves a neutral sentence from the same sentence about "people" (the goal: at most 0.05).

Usage::

    .venv/bin/python bench/fairness.py --data ../shared/data [--artifacts DIR] [--toxicity VERSION]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.artifacts import load_model
from ml.scoring import DEFAULT_ARTIFACTS_DIR

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "ml" / "eval" / "identity_templates.json"
# The identity terms of Dixon et al. (2018), "Measuring and Mitigating Unintended Bias in Text Classification".
DIXON_TERMS = (
    "lesbian gay bisexual transgender trans queer lgbt lgbtq homosexual straight heterosexual male female "
    "african american black white european hispanic latino latina mexican canadian asian indian chinese "
    "japanese christian buddhist catholic protestant sikh jewish muslim taoist older old young younger "
    "teenage elderly blind deaf paralyzed"
).split()


def auc(labels: list[int], scores: list[float]) -> float | None:
    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None


def bias_metrics(labels: np.ndarray, scores: np.ndarray, in_group: np.ndarray) -> dict[str, float | None]:
    """Subgroup AUC, BPSN AUC and BNSP AUC (Borkan et al. 2019) of one subgroup."""
    subgroup = auc(labels[in_group].tolist(), scores[in_group].tolist())
    bpsn = (in_group & (labels == 0)) | (~in_group & (labels == 1))
    bnsp = (in_group & (labels == 1)) | (~in_group & (labels == 0))
    return {
        "subgroup_auc": subgroup,
        "bpsn_auc": auc(labels[bpsn].tolist(), scores[bpsn].tolist()),
        "bnsp_auc": auc(labels[bnsp].tolist(), scores[bnsp].tolist()),
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def wiki_identity(model, data: Path) -> list[str]:
    path = data / "wiki-toxicity-identity-testset" / "wiki_toxicity_identity_testset.csv"
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    texts = [row["text"] for row in rows]
    labels = np.array([int(row["label"]) for row in rows])
    scores = model.probabilities(texts)[:, 0]
    lines = [
        f"### Wikipedia identity test set ({len(rows)} rows, overall AUC {roc_auc_score(labels, scores):.3f})",
        "",
        "| term | rows | subgroup AUC | BPSN AUC | BNSP AUC |",
        "|---|---|---|---|---|",
    ]
    summary: dict[str, list[float]] = {"subgroup_auc": [], "bpsn_auc": [], "bnsp_auc": []}
    for term in DIXON_TERMS:
        pattern = re.compile(rf"\b{re.escape(term)}\b", re.IGNORECASE)
        in_group = np.array([bool(pattern.search(text)) for text in texts])
        if in_group.sum() < 20 or len(set(labels[in_group].tolist())) < 2:
            continue
        metrics = bias_metrics(labels, scores, in_group)
        for name, value in metrics.items():
            if value is not None:
                summary[name].append(value)
        cells = " | ".join(fmt(metrics[name]) for name in summary)
        lines.append(f"| {term} | {int(in_group.sum())} | {cells} |")
    means = " | ".join(fmt(statistics.mean(values)) if values else "-" for values in summary.values())
    mins = " | ".join(fmt(min(values)) if values else "-" for values in summary.values())
    lines += [f"| mean | | {means} |", f"| worst | | {mins} |", ""]
    return lines


def templates(model) -> list[str]:
    raw = json.loads(TEMPLATES.read_text(encoding="utf-8"))["languages"]
    lines = [
        "### Identity templates (ml/eval/identity_templates.json)",
        "",
        "| language | groups | neutral frames | mean score, people | mean shift | largest shift (group) | "
        "subgroup AUC worst | BPSN worst | BNSP worst |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for language, spec in raw.items():
        neutral, toxic, groups = spec["neutral"], spec["toxic"], spec["groups"]
        people = model.probabilities([frame.format(group=spec["people"]) for frame in neutral])[:, 0]
        texts, labels, owners = [], [], []
        for group in groups:
            for frame_list, label in ((neutral, 0), (toxic, 1)):
                for frame in frame_list:
                    texts.append(frame.format(group=group))
                    labels.append(label)
                    owners.append(group)
        scores = model.probabilities(texts)[:, 0]
        label_array, owner_array = np.array(labels), np.array(owners)
        shifts: dict[str, float] = {}
        worst = {"subgroup_auc": 1.0, "bpsn_auc": 1.0, "bnsp_auc": 1.0}
        for group in groups:
            mine = owner_array == group
            neutral_scores = scores[mine & (label_array == 0)]
            shifts[group] = float(np.max(np.abs(neutral_scores - people)))
            for name, value in bias_metrics(label_array, scores, mine).items():
                if value is not None:
                    worst[name] = min(worst[name], value)
        mean_shift = statistics.mean(
            float(np.mean(np.abs(scores[(owner_array == g) & (label_array == 0)] - people))) for g in groups
        )
        largest = max(shifts, key=shifts.__getitem__)
        lines.append(
            f"| {language} | {len(groups)} | {len(neutral)} | {float(np.mean(people)):.3f} | {mean_shift:.3f} | "
            f"{shifts[largest]:.3f} ({largest}) | {worst['subgroup_auc']:.3f} | {worst['bpsn_auc']:.3f} | "
            f"{worst['bnsp_auc']:.3f} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    parser.add_argument("--toxicity", help="toxicity model version, default the newest")
    args = parser.parse_args()
    model = load_model(args.artifacts, "toxicity", args.toxicity)
    print(f"Model {model.version}")
    print()
    print("\n".join(wiki_identity(model, args.data) + templates(model)))


if __name__ == "__main__":
    main()
