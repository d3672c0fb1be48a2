"""A tiny hand-written data directory and two tiny models trained from it, for every ``ml`` test.

Nothing here reads the shared data sets: the rows are written by the fixtures themselves.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ml.train import train_model
from ml.training_config import TrainingConfig, parse_config

INSULTS = ["idiot", "moron", "loser", "clown", "imbecile", "fool"]
TOPICS = ["bridge", "budget", "election", "museum", "recipe", "timetable"]
TOXIC_TEMPLATES = [
    "you are a worthless {}",
    "shut up, you {}",
    "only a {} would write this garbage",
    "what a pathetic {}, get lost",
]
CLEAN_TEMPLATES = [
    "thanks for the article about the {}",
    "i learned a lot about the new {}",
    "the {} story was well researched",
    "interesting point about the {}, i agree",
]
SPAM_TEMPLATES = [
    "earn $5000 a week from home with {}, dm me on whatsapp",
    "click http://bit.ly/{} for free crypto now!!!",
    "i invested $1000 and got $9500 thanks to @trader_{}",
    "subscribe to my channel {} and win a free iphone",
]

TINY_FEATURES = {
    "blocks": [
        {"analyzer": "word", "ngram_range": [1, 2], "n_features": 4096},
        {"analyzer": "char_wb", "ngram_range": [2, 4], "n_features": 8192},
    ]
}
TINY_VERSION = {"toxicity": "toxicity-2026.01.02", "spam": "spam-2026.01.02"}


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8")))
    else:
        path.write_text(buffer.getvalue(), encoding="utf-8")


def labelled_rows(
    positive_templates: list[str], negative_templates: list[str], fillers: list[str]
) -> list[dict[str, str]]:
    rows = []
    for label, templates in ((1, positive_templates), (0, negative_templates)):
        for template in templates:
            for filler in fillers:
                rows.append({"text": template.format(filler), "label": str(label)})
    for index, row in enumerate(rows):
        row["split"] = "test" if index % 4 == 0 else "train"
    return rows


def tiny_config_dict(model: str) -> dict[str, Any]:
    """A config over the tiny data directory, in the format of ``ml/config/<model>.json``."""
    features: dict[str, Any] = TINY_FEATURES
    augmentation: dict[str, Any] = {}
    if model == "toxicity":
        attribute, folder, file, reject = "TOXICITY", "tiny-toxic", "tiny_toxic.csv", None
        # The shipped lexicon as a feature block, and code-switched copies, as in ml/config/toxicity.json.
        features = {"blocks": [*TINY_FEATURES["blocks"], {"analyzer": "lexicon", "source": "lexicon.json"}]}
        augmentation = {"obfuscated_copies": True, "seed": 7, "code_switch": True}
    else:
        attribute, folder, file = "SPAM", "tiny-spam", "tiny_spam.csv.gz"
        reject = {"min_precision": 0.9, "max_false_positive_rate": 0.2}
    return {
        "model": model,
        "attribute": attribute,
        "description": f"Tiny {model} model for tests.",
        "features": features,
        "augmentation": augmentation,
        "classifier": {"C": 10.0, "max_iter": 200},
        "validation_fraction": 0.3,
        "max_nonzero_weights": 3000,
        "thresholds": {"publish": "max_f1", "reject": reject},
        "datasets": [
            {
                "name": folder,
                "folder": folder,
                "licence": "CC0-1.0",
                "training_allowed": True,
                "source": "written by the tests",
                "files": [{"file": file, "split": {"column": "split", "train": ["train"], "test": ["test"]}}],
            },
            {
                "name": "tiny-news",
                "folder": "tiny-news",
                "licence": "CC0-1.0",
                "training_allowed": False,
                "source": "written by the tests",
                "files": [{"file": "tiny_news.csv", "role": "test"}],
            },
        ],
    }


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny data sets: toxic vs clean comments, spam vs ham (gzip), and clean news comments."""
    root = tmp_path_factory.mktemp("data")
    write_csv(root / "tiny-toxic" / "tiny_toxic.csv", labelled_rows(TOXIC_TEMPLATES, CLEAN_TEMPLATES, INSULTS + TOPICS))
    write_csv(root / "tiny-spam" / "tiny_spam.csv.gz", labelled_rows(SPAM_TEMPLATES, CLEAN_TEMPLATES, TOPICS + INSULTS))
    news = [{"text": f"the {topic} vote is on tuesday", "label": "0"} for topic in TOPICS]
    news += [
        {"text": f"the {topic} is a scam run by a {insult}", "label": "1"}
        for topic, insult in zip(TOPICS, INSULTS, strict=True)
    ]
    write_csv(root / "tiny-news" / "tiny_news.csv", news)
    return root


@pytest.fixture
def toxicity_config() -> TrainingConfig:
    return parse_config(tiny_config_dict("toxicity"))


@pytest.fixture
def spam_config() -> TrainingConfig:
    return parse_config(tiny_config_dict("spam"))


@pytest.fixture(scope="session")
def trained_artifacts(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """An artifacts directory with one tiny toxicity and one tiny spam model; copy it before changing it."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    for model in ("toxicity", "spam"):
        train_model(parse_config(tiny_config_dict(model)), data_dir, artifacts, version=TINY_VERSION[model])
    return artifacts


@pytest.fixture
def artifacts_copy(trained_artifacts: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, copy)
    return copy


def _rewrite_meta(version_dir: Path, **changes: Any) -> None:
    meta_path = version_dir / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(changes)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")


@pytest.fixture
def rewrite_meta() -> Callable[..., None]:
    """``rewrite_meta(version_dir, key=value, ...)`` replaces top-level keys of an artifact's meta.json."""
    return _rewrite_meta


@pytest.fixture
def csv_writer() -> Callable[[Path, list[dict[str, str]]], None]:
    """``csv_writer(path, rows)`` writes a UTF-8 CSV, gzip-compressed when the name ends in ``.gz``."""
    return write_csv


@pytest.fixture
def raw_config() -> Callable[[str], dict[str, Any]]:
    """``raw_config(model)`` returns a fresh tiny config as parsed JSON, ready to be altered."""
    return tiny_config_dict


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    """``config_file(model)`` writes the tiny config of ``model`` as JSON and returns its path."""

    def write(model: str) -> Path:
        path = tmp_path / f"{model}.json"
        path.write_text(json.dumps(tiny_config_dict(model)), encoding="utf-8")
        return path

    return write


THREATS = ["i will find you and hurt you, {}", "you will regret this, {}"]
INSULT_VERSION = "toxicity-2026.01.04"


def insult_rows() -> list[dict[str, str]]:
    """Toxic and clean comments with per-rater fractions, like toxic-spans: insults are the toxic rows with an
    insult filler; only two rows are threats."""
    rows = labelled_rows(TOXIC_TEMPLATES, CLEAN_TEMPLATES, INSULTS + TOPICS)
    for row in rows:
        insult = row["label"] == "1" and any(word in row["text"] for word in INSULTS)
        row["frac_insult"] = "0.667" if insult else "0.0"
        row["frac_threat"] = "0.0"
    rows += [
        {"text": template.format(name), "label": "1", "split": "train", "frac_insult": "0.0", "frac_threat": "1.0"}
        for template, name in zip(THREATS, ["alice", "bob"], strict=True)
    ]
    return rows


def attribute_config_dict() -> dict[str, Any]:
    """The tiny toxicity config plus INSULT, THREAT and SEVERE_TOXICITY heads, labelled by ``tiny-insults`` only.

    ``tiny-slang`` is toxic by its own label but labels no extra attribute: its rows must stay out of every head.
    """
    raw = tiny_config_dict("toxicity")
    raw["attribute_heads"] = {
        "attributes": ["SEVERE_TOXICITY", "INSULT", "THREAT"],
        "max_nonzero_weights": 1000,
        "min_train_positives": 5,
        "min_validation_positives": 1,
        "min_validation_roc_auc": 0.6,
    }
    insults = raw["datasets"][0]
    insults.update(name="tiny-insults", folder="tiny-insults")
    insults["files"][0]["file"] = "tiny_insults.csv"
    insults["attributes"] = {
        "INSULT": {"column": "frac_insult", "min": 0.5},
        "THREAT": {"column": "frac_threat", "min": 0.5},
    }
    raw["datasets"].append(
        {
            "name": "tiny-slang",
            "folder": "tiny-slang",
            "licence": "CC0-1.0",
            "training_allowed": True,
            "source": "written by the tests",
            "files": [{"file": "tiny_slang.csv", "split": {"column": "split", "train": ["train"], "test": ["test"]}}],
        }
    )
    return raw


@pytest.fixture(scope="session")
def attribute_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attribute-data")
    write_csv(root / "tiny-insults" / "tiny_insults.csv", insult_rows())
    slang = [
        {"text": f"glorbnak {topic} glorbnak", "label": "1", "split": "test" if i % 4 == 0 else "train"}
        for i, topic in enumerate(TOPICS * 3)
    ]
    write_csv(root / "tiny-slang" / "tiny_slang.csv", slang)
    news = [{"text": f"the {topic} vote is on tuesday", "label": "0"} for topic in TOPICS]
    news += [
        {"text": f"the {topic} is run by a {insult}", "label": "1"}
        for topic, insult in zip(TOPICS, INSULTS, strict=True)
    ]
    write_csv(root / "tiny-news" / "tiny_news.csv", news)
    return root


@pytest.fixture(scope="session")
def attribute_artifacts(tmp_path_factory: pytest.TempPathFactory, attribute_data_dir: Path) -> Path:
    """An artifacts directory with one tiny toxicity model that has extra heads; copy it before changing it."""
    artifacts = tmp_path_factory.mktemp("attribute-artifacts")
    train_model(parse_config(attribute_config_dict()), attribute_data_dir, artifacts, version=INSULT_VERSION)
    return artifacts
