"""``python -m ml train | score | evaluate | corpus``: build an artifact, score a CSV, re-measure a model,
or check the project's own corpus.

Expected failures (bad input, a missing or altered artifact, unreadable data) end with exit code 2
and one line on stderr; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ml.artifacts import ArtifactError, load_model
from ml.corpus import (
    CorpusError,
    agreement,
    corpus_stats,
    duplicates,
    parse_labels,
    read_corpus,
    relabel_sample,
    remove_rows,
)
from ml.datasets import DataError, load_dataset, open_csv_text
from ml.evaluation import evaluate_attribute_heads, evaluate_model, metrics_table
from ml.model import LinearTextModel
from ml.scoring import DEFAULT_ARTIFACTS_DIR
from ml.train import train_model
from ml.training_config import ConfigError, default_config_path, load_config
from ml.vocabulary import MODEL_NAMES

EXIT_BAD_INPUT = 2
SCORE_BATCH = 1000


class InputError(Exception):
    """The user's input cannot be used; the message says why, in one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml", description="Train, apply and evaluate the moderation models."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and write a new artifact version")
    train.add_argument("--model", choices=MODEL_NAMES, required=True)
    train.add_argument("--data", type=Path, required=True, help="the shared data directory")
    train.add_argument("--out", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts directory")
    train.add_argument("--version", help="version name, default <model>-<YYYY.MM.DD> (UTC)")
    train.add_argument("--config", type=Path, help="training config, default ml/config/<model>.json")

    score = commands.add_parser("score", help="add a score column to a CSV with a text column")
    score.add_argument("--model", choices=MODEL_NAMES, required=True)
    score.add_argument("--input", type=Path, required=True)
    score.add_argument("--output", type=Path, required=True)
    score.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    score.add_argument("--version", help="model version, default the newest present")

    evaluate = commands.add_parser("evaluate", help="measure a model on the test sets of its config")
    evaluate.add_argument("--model", choices=MODEL_NAMES, required=True)
    evaluate.add_argument("--data", type=Path, required=True, help="the shared data directory")
    evaluate.add_argument("--json", type=Path, help="also write the metrics here")
    evaluate.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    evaluate.add_argument("--version", help="model version, default the newest present")
    evaluate.add_argument("--config", type=Path, help="training config, default ml/config/<model>.json")

    corpus = commands.add_parser("corpus", help="check, deduplicate and count ml/corpus, or sample it for relabelling")
    corpus.add_argument("action", choices=("stats", "dedupe", "sample", "agreement"))
    corpus.add_argument("--fraction", type=float, default=0.1, help="sample: share of the training rows")
    corpus.add_argument("--seed", type=int, default=20261130, help="sample: the seed")
    corpus.add_argument("--labels", type=Path, help="agreement: the second writer's 'key<TAB>labels' file")
    corpus.add_argument("--json", type=Path, help="stats, agreement: also write the figures here")
    return parser


def score_column_names(attributes: Sequence[str]) -> list[str]:
    """``score`` for the first attribute, ``score_<ATTR>`` for any further ones."""
    return ["score"] + [f"score_{attribute}" for attribute in attributes[1:]]


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_csv(model: LinearTextModel, input_path: Path, output_path: Path) -> int:
    """Copy ``input_path`` to ``output_path`` with score columns added; return the number of rows."""
    if not input_path.is_file():
        raise InputError(f"input file {input_path} does not exist")
    score_columns = score_column_names(model.attributes)
    staging = output_path.with_name(f".{output_path.name}.partial")
    count = 0
    try:
        with open_csv_text(input_path) as source:
            reader = csv.DictReader(source, strict=True)
            fieldnames = reader.fieldnames
            if not fieldnames or "text" not in fieldnames:
                raise InputError(
                    f"{input_path} has no 'text' column (columns: {', '.join(fieldnames or []) or 'none'})"
                )
            columns = list(fieldnames) + [name for name in score_columns if name not in fieldnames]
            with staging.open("w", encoding="utf-8", newline="") as target:
                writer = csv.DictWriter(target, fieldnames=columns)
                writer.writeheader()
                for batch in _batches(iter(reader), SCORE_BATCH):
                    for row in batch:
                        if None in row:
                            raise InputError(f"{input_path} line {reader.line_num}: more fields than the header has")
                    probabilities = model.probabilities([row["text"] or "" for row in batch])
                    for row, values in zip(batch, probabilities.tolist(), strict=True):
                        row.update({name: f"{value:.6f}" for name, value in zip(score_columns, values, strict=True)})
                        writer.writerow(row)
                    count += len(batch)
        os.replace(staging, output_path)
    except (UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise InputError(f"cannot read {input_path} as UTF-8 CSV: {exc}") from exc
    except OSError as exc:
        raise InputError(f"cannot score {input_path} into {output_path}: {exc}") from exc
    finally:
        staging.unlink(missing_ok=True)
    return count


def _train(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    config = load_config(args.config or default_config_path(args.model))
    if config.model != args.model:
        raise InputError(f"the config trains {config.model!r}, not {args.model!r}")
    path = train_model(config, args.data, args.out, version=args.version)
    print(path)
    return 0


def _score(args: argparse.Namespace) -> int:
    model = load_model(args.artifacts, args.model, args.version)
    count = score_csv(model, args.input, args.output)
    print(f"scored {count} rows with {model.version} into {args.output}", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    config = load_config(args.config or default_config_path(args.model))
    model = load_model(args.artifacts, args.model, args.version)
    datasets = [load_dataset(args.data, spec, roles=frozenset({"test"})) for spec in config.test_sets]
    trained_on = {
        fingerprint["path"]: fingerprint["sha256"]
        for summary in model.meta.get("training_data", []) + model.meta.get("test_only_data", [])
        for fingerprint in summary["files"]
    }
    for dataset in datasets:
        for fingerprint in dataset.files:
            known = trained_on.get(fingerprint.path)
            if known is not None and known != fingerprint.sha256:
                print(
                    f"warning: {fingerprint.path} differs from the file {model.version} was built with", file=sys.stderr
                )
    results = evaluate_model(model, datasets, config.attribute, config.evaluation)
    print(f"{model.version} ({config.attribute})")
    print(metrics_table(results))
    attribute_results = evaluate_attribute_heads(model, datasets)
    for attribute, metrics in attribute_results.items():
        print(f"\n{model.version} ({attribute})")
        print(metrics_table(metrics))
    if args.json:
        report = {
            "model": model.name,
            "version": model.version,
            "attribute": config.attribute,
            "attributes": list(model.attributes),
            "thresholds": model.thresholds,
            "calibration": model.calibration.to_json(model.attributes),
            "data": [fingerprint.to_json() for dataset in datasets for fingerprint in dataset.files],
            "metrics": results,
            "attribute_metrics": attribute_results,
        }
        try:
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {args.json}: {exc}") from exc
    return 0


def _corpus(args: argparse.Namespace) -> int:
    try:
        train, dev = read_corpus("train"), read_corpus("dev")
    except CorpusError as exc:
        raise InputError(str(exc)) from exc
    if args.action == "dedupe":
        # Development rows first: a training row that repeats one goes, never the development row.
        found = duplicates(dev) + duplicates(train, against=dev)
        for row, source in found:
            print(f"{row.source} repeats {source}: {row.text[:80]}", file=sys.stderr)
        print(f"removed {remove_rows(row for row, _ in found)} near-duplicate rows")
        return 0
    if args.action == "sample":
        for row in relabel_sample(train, args.fraction, args.seed):
            print(f"{row.key}\t{row.lang}\t{row.text}")
        return 0
    if args.action == "agreement":
        if args.labels is None:
            raise InputError("agreement needs --labels FILE (lines of 'key<TAB>labels')")
        by_key = {row.key: row for row in train + dev}
        first, second = [], []
        gone = 0
        try:
            lines = args.labels.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {args.labels}: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            key, _, code = line.partition("\t")
            if key not in by_key:
                gone += 1  # removed as a near-duplicate after the sample was drawn
                continue
            try:
                second.append(parse_labels(code.strip()))
            except CorpusError as exc:
                raise InputError(f"{args.labels} line {number}: {exc}") from exc
            first.append(by_key[key].labels)
        if not first:
            raise InputError(f"{args.labels} names no row of the corpus")
        report = {"rows": len(first), "rows_no_longer_in_the_corpus": gone, "attributes": agreement(first, second)}
    else:
        report = {"train": corpus_stats(train), "dev": corpus_stats(dev)}
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


COMMANDS = {"train": _train, "score": _score, "evaluate": _evaluate, "corpus": _corpus}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (InputError, ArtifactError, ConfigError, DataError) as exc:
        message = " ".join(str(exc).split())
        print(f"python -m ml {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
