from collections.abc import Callable
from pathlib import Path

import pytest

from ml.datasets import DataError, load_dataset
from ml.fingerprints import file_sha256
from ml.training_config import DataFile, DatasetSpec, LabelOverride, SplitRule

CsvWriter = Callable[[Path, list[dict[str, str]]], None]

ROWS = [
    {"text": "alice says hello", "label": "0", "split": "train", "review": "", "synthetic": "0"},
    {"text": "buy cheap pills", "label": "1", "split": "train", "review": "", "synthetic": "0"},
    {"text": "bob agrees", "label": "0", "split": "test", "review": "", "synthetic": "0"},
    {"text": "free money", "label": "1", "split": "test", "review": "", "synthetic": "1"},
    {"text": "merci", "label": "1", "split": "test", "review": "policy", "synthetic": "0"},
    {"text": "unlabelled", "label": "0", "split": "", "review": "", "synthetic": "0"},
]


def spec(file: str = "rows.csv", **changes: object) -> DatasetSpec:
    fields: dict[str, object] = {
        "name": "rows",
        "folder": "rows",
        "files": (DataFile(file=file, split=SplitRule("split", frozenset({"train"}), frozenset({"test"}))),),
        "licence": "CC0-1.0",
        "training_allowed": True,
    }
    fields.update(changes)
    return DatasetSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("file", ["rows.csv", "rows.csv.gz"])
def test_it_splits_rows_by_the_split_column_and_fingerprints_the_file(
    tmp_path: Path, csv_writer: CsvWriter, file: str
) -> None:
    csv_writer(tmp_path / "rows" / file, ROWS)
    loaded = load_dataset(tmp_path, spec(file))
    assert loaded.train.texts == ["alice says hello", "buy cheap pills"]
    assert loaded.train.labels == [0, 1]
    assert loaded.test.texts == ["bob agrees", "free money", "merci"]
    [fingerprint] = loaded.files
    assert fingerprint.path == f"rows/{file}"
    assert fingerprint.sha256 == file_sha256(tmp_path / "rows" / file)
    assert (fingerprint.rows, fingerprint.train_rows, fingerprint.test_rows, fingerprint.left_out_rows) == (6, 2, 3, 1)


def test_it_keeps_only_test_rows_when_asked(tmp_path: Path, csv_writer: CsvWriter) -> None:
    csv_writer(tmp_path / "rows" / "rows.csv", ROWS)
    loaded = load_dataset(tmp_path, spec(), roles=frozenset({"test"}))
    assert len(loaded.train) == 0
    assert len(loaded.test) == 3


def test_it_keeps_one_label_and_relabels_it(tmp_path: Path, csv_writer: CsvWriter) -> None:
    csv_writer(tmp_path / "rows" / "rows.csv", ROWS)
    loaded = load_dataset(tmp_path, spec(keep_label=1, relabel=0))
    assert loaded.train.texts == ["buy cheap pills"]
    assert loaded.train.labels == [0]


def test_it_applies_label_overrides_and_test_exclusions(tmp_path: Path, csv_writer: CsvWriter) -> None:
    csv_writer(tmp_path / "rows" / "rows.csv", ROWS)
    loaded = load_dataset(
        tmp_path,
        spec(
            label_override=LabelOverride("review", {"policy": 0}),
            exclude_from_test={"synthetic": frozenset({"1"})},
        ),
    )
    assert loaded.test.texts == ["bob agrees", "merci"]
    assert loaded.test.labels == [0, 0]


def test_it_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path, spec())


def test_it_refuses_a_missing_column(tmp_path: Path, csv_writer: CsvWriter) -> None:
    csv_writer(tmp_path / "rows" / "rows.csv", [{"text": "hi", "label": "0"}])
    with pytest.raises(DataError, match="no column"):
        load_dataset(tmp_path, spec())


def test_it_refuses_a_label_other_than_0_or_1(tmp_path: Path, csv_writer: CsvWriter) -> None:
    csv_writer(tmp_path / "rows" / "rows.csv", [{"text": "hi", "label": "spam", "split": "train"}])
    with pytest.raises(DataError, match="expected 0 or 1"):
        load_dataset(tmp_path, spec())


def test_it_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "rows.csv").write_bytes(b"text,label,split\n\xff\xfe,1,train\n")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(tmp_path, spec())
