"""Moderato's models side by side with alt-profanity-check: ROC AUC per test set, speed, load time, memory.

alt-profanity-check pins its own scikit-learn and joblib, so it runs in a virtualenv of its own
(``make bench-peer-venv`` creates ``.venv-peer``), in a subprocess that gets the same texts. Both
sides are timed on one core (``os.sched_setaffinity``). Usage::

    .venv/bin/python bench/models.py --data ../shared/data [--out bench/RESULTS-models.md]

The obfuscated copies are the ones ``python -m ml evaluate`` scores (toxic rows only, fixed seed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.artifacts import load_model  # noqa: E402
from ml.datasets import load_dataset  # noqa: E402
from ml.obfuscation import obfuscate_positives  # noqa: E402
from ml.scoring import DEFAULT_ARTIFACTS_DIR, load_scorer  # noqa: E402
from ml.training_config import default_config_path, load_config  # noqa: E402

PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"
# What alt-profanity-check was trained on (its README): Davidson et al. and Jigsaw Wikipedia talk
# comments, the source of wiki-toxicity-identity-testset too (the same comments may be in both).
PEER_TRAINED_ON = {"davidson-hate-offensive": "yes", "wiki-toxicity-identity-testset": "same source"}
TIMING_COMMENTS = [
    "Thanks for the article, I learned a lot about the new bridge.",
    "You are a worthless idiot and a disgusting piece of trash, shut up",
    "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now",
    "I disagree with the council: the budget for the bridge doubled in two years and nobody explained why.",
    "great read",
    "Has anyone checked the figures in the third paragraph? They do not match the report linked at the end, "
    "which says the contract was signed in March, not May. Happy to be corrected if I misread it.",
    "What a pathetic excuse for journalism. The author should be ashamed.",
    "Это просто позор, как можно так писать статьи",
]

PEER_SCRIPT = r"""
import json, os, resource, statistics, sys, time
os.sched_setaffinity(0, {0})
started = time.perf_counter()
import joblib, numpy, sklearn
imported = time.perf_counter()
from profanity_check import predict_prob
load_seconds = time.perf_counter() - started
models_load_seconds = time.perf_counter() - imported
request = json.load(open(sys.argv[1], encoding="utf-8"))
scores = {name: predict_prob(texts).tolist() for name, texts in request["sets"].items()}
comments = request["timing"]
for text in comments:
    predict_prob([text])
one = []
for index in range(request["repeat"]):
    text = comments[index % len(comments)]
    t = time.perf_counter()
    predict_prob([text])
    one.append(time.perf_counter() - t)
def per_second(batch):
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        predict_prob(batch)
        rounds.append(time.perf_counter() - t)
    return len(batch) / statistics.median(rounds)
json.dump({
    "scores": scores,
    "load_seconds": load_seconds,
    "models_load_seconds": models_load_seconds,
    "one_ms_median": statistics.median(one) * 1000,
    "batch_per_second": per_second((comments * (1000 // len(comments) + 1))[:1000]),
    "news_batch_per_second": per_second(request["news"]),
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}, sys.stdout)
"""

OURS_LOAD_SCRIPT = r"""
import os, resource, sys, time
os.sched_setaffinity(0, {0})
started = time.perf_counter()
from ml.scoring import load_scorer
imported = time.perf_counter()
scorer = load_scorer(sys.argv[1] if len(sys.argv) > 1 else None)
scorer.score("warm up")
done = time.perf_counter()
models_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# A worker also detects each comment's language: its identifier is loaded once per process too.
from ml.language import detect_language
detect_language("warm up the identifier")
resident = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(done - started, models_rss, done - imported, resident, peak)
"""


def news_batch(sets: dict[str, tuple[list[str], list[int]]]) -> list[str]:
    """The first 1,000 posts of the toxic-spans test split: news comments of ordinary length (mean ~180 characters)."""
    return sets["toxic-spans"][0][:1000]


def auc(labels: list[int], scores: list[float] | np.ndarray) -> float | None:
    return float(roc_auc_score(labels, scores)) if 0 < sum(labels) < len(labels) else None


def test_sets(data_dir: Path, seed: int) -> dict[str, tuple[list[str], list[int]]]:
    config = load_config(default_config_path("toxicity"))
    sets: dict[str, tuple[list[str], list[int]]] = {}
    for spec in config.test_sets:
        dataset = load_dataset(data_dir, spec, roles=frozenset({"test"}))
        texts, labels = dataset.test.texts, dataset.test.labels
        if not 0 < sum(labels) < len(labels):
            continue
        sets[spec.name] = (texts, labels)
        sets[f"{spec.name} (obfuscated)"] = (obfuscate_positives(texts, labels, seed), labels)
    return sets


def run_peer(sets: dict[str, tuple[list[str], list[int]]], repeat: int) -> dict[str, Any] | None:
    if not PEER_PYTHON.exists():
        print(f"{PEER_PYTHON} is missing: run `make bench-peer-venv`; reporting Moderato only", file=sys.stderr)
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as request:
        json.dump(
            {
                "sets": {name: texts for name, (texts, _) in sets.items()},
                "timing": TIMING_COMMENTS,
                "news": news_batch(sets),
                "repeat": repeat,
            },
            request,
        )
    try:
        done = subprocess.run(
            [str(PEER_PYTHON), "-c", PEER_SCRIPT, request.name], capture_output=True, text=True, check=True
        )
    finally:
        os.unlink(request.name)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_ours(sets: dict[str, tuple[list[str], list[int]]], artifacts: Path, repeat: int) -> dict[str, Any]:
    os.sched_setaffinity(0, {0})
    code = [sys.executable, "-c", OURS_LOAD_SCRIPT, str(artifacts)]
    loads = [
        subprocess.run(code, capture_output=True, text=True, check=True, cwd=ROOT).stdout.split() for _ in range(3)
    ]
    model = load_model(artifacts, "toxicity")
    scores = {name: model.probabilities(texts)[:, 0].tolist() for name, (texts, _) in sets.items()}
    scorer = load_scorer(artifacts)
    for text in TIMING_COMMENTS:
        scorer.score(text)
    one = []
    for index in range(repeat):
        text = TIMING_COMMENTS[index % len(TIMING_COMMENTS)]
        started = time.perf_counter()
        scorer.score(text)
        one.append(time.perf_counter() - started)

    def per_second(batch: list[str]) -> float:
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            scorer.score_many(batch)
            rounds.append(time.perf_counter() - started)
        return len(batch) / statistics.median(rounds)

    return {
        "versions": scorer.versions,
        "training_data": model.meta["training_data"],
        "scores": scores,
        "load_seconds": statistics.median(float(load[0]) for load in loads),
        "rss_mb": statistics.median(float(load[1]) for load in loads),
        "models_load_seconds": statistics.median(float(load[2]) for load in loads),
        "with_language_rss_mb": statistics.median(float(load[3]) for load in loads),
        "with_language_peak_mb": statistics.median(float(load[4]) for load in loads),
        "one_ms_median": statistics.median(one) * 1000,
        "batch_per_second": per_second((TIMING_COMMENTS * (1000 // len(TIMING_COMMENTS) + 1))[:1000]),
        "news_batch_per_second": per_second(news_batch(sets)),
        "bench_process_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(
    sets: dict[str, tuple[list[str], list[int]]], ours: dict[str, Any], peer: dict[str, Any] | None, command: str
) -> str:
    trained = {summary["name"] for summary in ours["training_data"]}
    lines = [
        f"Produced by `{command}` on one core; Moderato {ours['versions']['toxicity']} + "
        f"{ours['versions']['spam']} vs alt-profanity-check.",
        "",
        "ROC AUC on each toxicity test split; '(obfuscated)': its toxic rows perturbed as in "
        "`python -m ml evaluate` (one word in three, fixed seed).",
        "",
        "| test set | rows | toxic | trained on (ours / peer) | Moderato AUC | alt-profanity-check AUC |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for name, (texts, labels) in sets.items():
        base = name.removesuffix(" (obfuscated)")
        ours_auc = auc(labels, ours["scores"][name])
        peer_auc = auc(labels, peer["scores"][name]) if peer else None
        flags = f"{'yes' if base in trained else 'no'} / {PEER_TRAINED_ON.get(base, 'no')}"
        lines.append(f"| {name} | {len(texts)} | {sum(labels)} | {flags} | {_cell(ours_auc)} | {_cell(peer_auc)} |")
    peer_batch = f"{peer['batch_per_second']:,.0f}" if peer else "-"
    peer_rss = f"{peer['rss_mb']:.0f}" if peer else "-"
    peer_news = f"{peer['news_batch_per_second']:,.0f}" if peer else "-"
    lines += [
        "",
        "| speed and size (one core) | Moderato (toxicity + spam) | alt-profanity-check (one model) | target |",
        "|---|---:|---:|---|",
        f"| one comment, median ms | {_cell(ours['one_ms_median'])} | "
        f"{_cell(peer['one_ms_median'] if peer else None)} | < 1 ms |",
        f"| batches of 1,000 (the 8 timing comments, mean 80 characters), comments/s | "
        f"{ours['batch_per_second']:,.0f} | {peer_batch} | >= 25,000 |",
        f"| batches of 1,000 news comments (toxic-spans test, mean 180 characters), comments/s | "
        f"{ours['news_batch_per_second']:,.0f} | {peer_news} | - |",
        f"| load: models only (libraries already imported), s | {_cell(ours['models_load_seconds'], 2)} | "
        f"{_cell(peer['models_load_seconds'] if peer else None, 2)} | < 1 s |",
        f"| load: fresh process, imports + models, s | {_cell(ours['load_seconds'], 2)} | "
        f"{_cell(peer['load_seconds'] if peer else None, 2)} | - |",
        f"| resident memory after load, MB | {ours['rss_mb']:.0f} | {peer_rss} | < 300 MB |",
        f"| with the language identifier too (a worker), resident / peak while loading, MB | "
        f"{ours['with_language_rss_mb']:.0f} / {ours['with_language_peak_mb']:.0f} | - | < 300 MB |",
    ]
    lines += ["", _verdicts(sets, ours, peer)]
    return "\n".join(lines) + "\n"


def _verdicts(sets: dict[str, tuple[list[str], list[int]]], ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    """Say which targets this run met and which it missed, with the figures."""
    trained = {summary["name"] for summary in ours["training_data"]} | set(PEER_TRAINED_ON)
    unseen = [name for name in sets if name.removesuffix(" (obfuscated)") not in trained]
    notes = []
    if peer:
        pairs = {
            name: (auc(sets[name][1], ours["scores"][name]), auc(sets[name][1], peer["scores"][name]))
            for name in unseen
        }
        behind = [f"{name} ({_cell(a)} vs {_cell(b)})" for name, (a, b) in pairs.items() if (a or 0) <= (b or 0)]
        notes.append(
            "AUC above the peer on every set neither trained on: "
            + ("missed on " + ", ".join(behind) if behind else "met")
        )
    drops = [
        (name, (auc(labels, ours["scores"][name]) or 0) - (auc(labels, ours["scores"][f"{name} (obfuscated)"]) or 0))
        for name, (_, labels) in sets.items()
        if not name.endswith(" (obfuscated)")
    ]
    over = [f"{name} ({drop:.3f})" for name, drop in drops if drop > 0.02]
    notes.append("AUC drop plain to obfuscated <= 0.02: " + ("missed on " + ", ".join(over) if over else "met"))
    notes.append(f"one comment < 1 ms: {'met' if ours['one_ms_median'] < 1 else 'missed'}")
    notes.append(
        f"batches >= 25,000 comments/s: {'met' if ours['batch_per_second'] >= 25_000 else 'missed'} "
        f"({ours['batch_per_second']:,.0f}/s on the timing comments, "
        f"{ours['news_batch_per_second']:,.0f}/s on news comments)"
    )
    notes.append(f"model load < 1 s: {'met' if ours['models_load_seconds'] < 1 else 'missed'}")
    worker = ours["with_language_peak_mb"]
    notes.append(
        f"worker memory < 300 MB (models and language identifier, peak): {'met' if worker < 300 else 'missed'}"
    )
    return "\n".join(f"- {note}" for note in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    parser.add_argument("--repeat", type=int, default=3000, help="single comments to time")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    config = load_config(default_config_path("toxicity"))
    sets = test_sets(args.data, config.evaluation.seed)
    peer = run_peer(sets, args.repeat)
    ours = run_ours(sets, args.artifacts, args.repeat)
    command = "python bench/models.py --data ../shared/data"
    table = render(sets, ours, peer, command)
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
