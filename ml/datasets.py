"""Read the labelled CSV / CSV.gz files of a training config into train and test rows, with fingerprints."""

from __future__ import annotations

import csv
import fnmatch
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ml.corpus import CORPUS_DIR, CorpusError, read_corpus_file
from ml.fingerprints import file_sha256
from ml.training_config import DataFile, DatasetSpec

# SpamAssassin bodies reach a few kB; the csv module's default limit is 128 kB per field.
csv.field_size_limit(16 * 1024 * 1024)


class DataError(ValueError):
    """A data file is missing, unreadable, or lacks the columns and labels its config names."""


@dataclass
class LabelledTexts:
    """Rows with their main label; ``attributes`` holds one label per row for each extra attribute the set labels."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    attributes: dict[str, list[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def positives(self) -> int:
        return sum(self.labels)

    def add(self, text: str, label: int, group: str = "", attributes: dict[str, int] | None = None) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.groups.append(group)
        for name, value in (attributes or {}).items():
            self.attributes.setdefault(name, []).append(value)

    def attribute(self, name: str) -> LabelledTexts:
        """The rows as labelled for one extra attribute (none when the set does not label it)."""
        return LabelledTexts(texts=self.texts, labels=self.attributes.get(name, []), groups=self.groups)


@dataclass(frozen=True)
class FileFingerprint:
    path: str
    sha256: str
    rows: int
    train_rows: int
    test_rows: int
    left_out_rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "rows": self.rows,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "left_out_rows": self.left_out_rows,
        }


@dataclass
class LoadedDataset:
    spec: DatasetSpec
    train: LabelledTexts
    test: LabelledTexts
    files: list[FileFingerprint]


def open_csv_text(path: Path) -> TextIO:
    """Open a UTF-8 CSV, gzip-compressed when the name ends in ``.gz``."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def read_csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with open_csv_text(path) as stream:
        yield from csv.DictReader(stream, restval="")


def load_dataset(
    data_dir: Path, spec: DatasetSpec, roles: frozenset[str] = frozenset({"train", "test"})
) -> LoadedDataset:
    """Read one data set's files, keeping the rows whose role is in ``roles``."""
    loaded = LoadedDataset(spec=spec, train=LabelledTexts(), test=LabelledTexts(), files=[])
    for data_file in spec.files:
        if spec.corpus:
            # The project's own corpus ships with the code; a file name may be a pattern ("*.tsv").
            paths = [
                path
                for path in sorted((CORPUS_DIR / spec.folder).glob(data_file.file))
                if not any(fnmatch.fnmatchcase(path.name, pattern) for pattern in data_file.exclude)
            ]
            if not paths:
                raise DataError(f"{spec.name}: no corpus file {CORPUS_DIR / spec.folder / data_file.file}")
        else:
            paths = [data_dir / spec.folder / data_file.file]
        for path in paths:
            if not path.is_file():
                raise DataError(f"{spec.name}: data file {path} does not exist")
            try:
                loaded.files.append(_read_file(path, data_file, spec, loaded, roles))
            except (OSError, UnicodeDecodeError, EOFError, csv.Error, CorpusError) as exc:
                raise DataError(f"{spec.name}: cannot read {path}: {exc}") from exc
    return loaded


def _read_file(
    path: Path, data_file: DataFile, spec: DatasetSpec, loaded: LoadedDataset, roles: frozenset[str]
) -> FileFingerprint:
    rows = train_rows = test_rows = 0
    records = (row.as_record() for row in read_corpus_file(path)) if spec.corpus else read_csv_rows(path)
    for row in records:
        rows += 1
        if rows == 1:
            _check_columns(path, row, data_file, spec)
        role = data_file.role if data_file.split is None else data_file.split.role_of(row[data_file.split.column])
        if role is None:
            continue
        label = _label(path, rows, row, spec)
        if spec.keep_label is not None and label != spec.keep_label:
            continue
        if spec.relabel is not None:
            label = spec.relabel
        if role == "test" and any(row[column] in values for column, values in spec.exclude_from_test.items()):
            continue
        if role not in roles:
            continue
        group = row[spec.group_column] if spec.group_column else ""
        attributes = _attribute_labels(path, rows, row, spec)
        if role == "train":
            loaded.train.add(row["text"], label, group, attributes)
            train_rows += 1
        else:
            loaded.test.add(row["text"], label, group, attributes)
            test_rows += 1
    return FileFingerprint(
        path=f"{'corpus/' if spec.corpus else ''}{spec.folder}/{path.name}",
        sha256=file_sha256(path),
        rows=rows,
        train_rows=train_rows,
        test_rows=test_rows,
        left_out_rows=rows - train_rows - test_rows,
    )


def _check_columns(path: Path, row: dict[str, str], data_file: DataFile, spec: DatasetSpec) -> None:
    needed = {"text", spec.label_column}
    if data_file.split is not None:
        needed.add(data_file.split.column)
    if spec.label_override is not None:
        needed.add(spec.label_override.column)
    if spec.group_column:
        needed.add(spec.group_column)
    needed.update(spec.exclude_from_test)
    needed.update(column for label in spec.attributes.values() for column in label.columns)
    missing = needed - set(row)
    if missing:
        raise DataError(f"{spec.name}: {path} has no column(s) {sorted(missing)}")


def _label(path: Path, line: int, row: dict[str, str], spec: DatasetSpec) -> int:
    if spec.label_override is not None:
        override = spec.label_override.labels.get(row[spec.label_override.column])
        if override is not None:
            return override
    value = row[spec.label_column]
    if value not in ("0", "1"):
        raise DataError(f"{spec.name}: {path} data row {line} has label {value!r}, expected 0 or 1")
    return int(value)


def _attribute_labels(path: Path, line: int, row: dict[str, str], spec: DatasetSpec) -> dict[str, int]:
    try:
        return {name: label.label_of(row) for name, label in spec.attributes.items()}
    except ValueError as exc:
        raise DataError(f"{spec.name}: {path} data row {line} has an attribute column that is not a number") from exc


def load_slice(path: Path) -> LabelledTexts:
    """Read a hand-written evaluation slice: JSON lines (``text``, ``label`` default 0, ``kind``) or plain lines."""
    rows = LabelledTexts()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read evaluation slice {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if path.suffix != ".jsonl":
            rows.add(line.strip(), 0)
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: {exc}") from exc
        text, label = row.get("text"), row.get("label", 0)
        if not isinstance(text, str) or label not in (0, 1):
            raise DataError(f"{path} line {number}: needs a text and a label of 0 or 1")
        rows.add(text, int(label), str(row.get("kind", "")))
    return rows
