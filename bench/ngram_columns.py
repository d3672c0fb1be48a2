"""How crowded the hashed feature columns are: distinct n-grams of the training rows per column.

    .venv/bin/python bench/ngram_columns.py --data ../shared/data [--config ml/config/toxicity.json]

Reads the training rows of every data set the config may train on (as ``python -m ml train`` does,
without the obfuscated copies), normalises them with the config's normalisation version and counts
the distinct word and character n-grams of its blocks (by their 64-bit hashes). For each block it
prints that count against its ``n_features`` and a few larger sizes: n-grams per column, and the
share of n-grams that share their column with at least one other (``1 - exp(-n / columns)``).
This is why `toxicity-2026.12.01.25` has word blocks of 2^20 columns.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.datasets import load_dataset  # noqa: E402
from ml.features import NgramBlock  # noqa: E402
from ml.hashing import TextBatch  # noqa: E402
from ml.normalise import normalise_many  # noqa: E402
from ml.training_config import default_config_path, load_config  # noqa: E402

_CHUNK = 4096


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--config", type=Path, default=default_config_path("toxicity"))
    args = parser.parse_args()
    config = load_config(args.config)
    texts: list[str] = []
    for spec in config.datasets:
        if spec.training_allowed and spec.has_train_rows:
            texts += load_dataset(args.data, spec, roles=frozenset({"train"})).train.texts
    spec = config.features
    blocks = [block for block in spec.blocks if isinstance(block, NgramBlock)]
    seen: list[set[int]] = [set() for _ in blocks]
    for start in range(0, len(texts), _CHUNK):
        batch = TextBatch(normalise_many(texts[start : start + _CHUNK], spec.normalisation_version))
        for block, found in zip(blocks, seen, strict=True):
            if block.analyzer == "word":
                runs = batch.word_runs(block.ngram_min, block.ngram_max)
            else:
                runs = batch.char_wb_runs(block.ngram_min, block.ngram_max)
            for _, run in runs:
                found.update(run.hashes.tolist())
    print(f"{args.config}: {len(texts):,} training rows\n")
    print("| block | distinct n-grams | columns | n-grams per column | n-grams sharing a column |")
    print("|---|---:|---:|---:|---:|")
    for block, found in zip(blocks, seen, strict=True):
        name = f"{block.analyzer} {block.ngram_min}-{block.ngram_max}"
        for columns in sorted({block.n_features, 2**18, 2**19, 2**20, 2**21}):
            mark = " (the config's)" if columns == block.n_features else ""
            load, share = len(found) / columns, 1 - math.exp(-len(found) / columns)
            size = f"2^{columns.bit_length() - 1}{mark}"
            print(f"| {name} | {len(found):,} | {size} | {load:.1f} | {share:.1%} |")


if __name__ == "__main__":
    main()
