"""The checked-in training configs (``ml/config/<model>.json``): data sets, splits and hyperparameters.

A data set names its folder under the shared data directory and, per file, which rows train and
which rows test: a whole file (``"role"``) or the values of a split column (``"split"``). Rows
whose split value is listed in neither are left out and counted. A set whose licence does not
allow shipping a trained model carries ``"training_allowed": false`` and may only test.

Besides the main attribute (its ``label`` column), a model may have further heads
(``"attribute_heads"``, e.g. INSULT): a data set gives such an attribute a label only through its
own ``"attributes"`` mapping (a column compared with ``min`` or ``values``, or one ``value`` for
every row of a set of non-toxic examples); a set without a mapping contributes no rows to that
head. A head ships only when its data meet the rules written in ``attribute_heads``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.features import FeatureSpec, LexiconBlock

CONFIG_DIR = Path(__file__).resolve().parent / "config"
EVAL_DIR = Path(__file__).resolve().parent / "eval"
WEIGHTINGS = ("sqrt", "rows")
ROLES = ("train", "test")
CALIBRATIONS = ("platt", "none")
_ATTRIBUTE_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


class ConfigError(ValueError):
    """A training config is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class SplitRule:
    column: str
    train: frozenset[str]
    test: frozenset[str]

    def role_of(self, value: str) -> str | None:
        if value in self.train:
            return "train"
        if value in self.test:
            return "test"
        return None


@dataclass(frozen=True)
class DataFile:
    file: str
    role: str | None = None
    split: SplitRule | None = None
    exclude: tuple[str, ...] = ()  # corpus sets: names matching ``file`` but one of these are left out


@dataclass(frozen=True)
class LabelOverride:
    column: str
    labels: Mapping[str, int]


@dataclass(frozen=True)
class AttributeLabel:
    """How one data set labels one extra attribute: 1 when any of ``columns`` reaches ``minimum`` (as a
    number) or is one of ``values``; or ``constant`` for every row (a set of non-toxic examples)."""

    columns: tuple[str, ...] = ()
    minimum: float | None = None
    values: frozenset[str] = frozenset()
    constant: int | None = None

    def label_of(self, row: Mapping[str, str]) -> int:
        if self.constant is not None:
            return self.constant
        if self.minimum is not None:
            return int(any(float(row[column] or 0) >= self.minimum for column in self.columns))
        return int(any(row[column] in self.values for column in self.columns))


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: str
    files: tuple[DataFile, ...]
    licence: str
    training_allowed: bool
    source: str = ""
    note: str = ""
    weight: float = 1.0
    keep_label: int | None = None
    relabel: int | None = None
    label_override: LabelOverride | None = None
    exclude_from_test: Mapping[str, frozenset[str]] = field(default_factory=dict)
    group_column: str | None = None
    attributes: Mapping[str, AttributeLabel] = field(default_factory=dict)
    attributes_only: bool = False
    # The project's own corpus (``ml/corpus/<folder>/``, ``ml.corpus``) instead of a CSV of the data directory.
    corpus: bool = False
    label_column: str = "label"

    @property
    def has_train_rows(self) -> bool:
        return any(f.role == "train" or (f.split is not None and f.split.train) for f in self.files)

    @property
    def has_test_rows(self) -> bool:
        return any(f.role == "test" or (f.split is not None and f.split.test) for f in self.files)


@dataclass(frozen=True)
class ThresholdRules:
    """``publish``: the F1-maximising threshold on validation; ``reject``: optional precision and FPR targets."""

    reject_min_precision: float | None = None
    reject_max_false_positive_rate: float | None = None

    @property
    def has_reject(self) -> bool:
        return self.reject_min_precision is not None


@dataclass(frozen=True)
class EvaluationRules:
    """Extra test rows: obfuscated copies of every test split, and hand-written slices in ``ml/eval/``."""

    obfuscated_copies: bool = False
    seed: int = 0
    slices: tuple[str, ...] = ()


@dataclass(frozen=True)
class AugmentationRules:
    """Train on obfuscated copies of the training rows too (both classes), weighted ``weight`` each.

    With ``keyboard_latin``, the copy of a row written in Cyrillic or with č, š, ž is spelt as
    readers type Latin without those letters ("ch", "sh", "zh" as "c", "s", "z"), so both spellings
    of Serbian, Bulgarian or Macedonian carry the row's label.
    With ``code_switch``, a copy first has its lexicon terms swapped for other terms of the same
    category, often from another language (``ml.lexicon.switch_terms``); it needs a lexicon block.
    """

    obfuscated_copies: bool = False
    seed: int = 0
    weight: float = 0.5
    code_switch: bool = False
    keyboard_latin: bool = False


@dataclass(frozen=True)
class AttributeHeadRules:
    """Extra heads to try (``attributes``) and when one ships: enough positives to learn from and to
    validate on, and a validation ROC AUC at or above ``min_validation_roc_auc``. Each head keeps at
    most ``max_nonzero_weights`` coefficients."""

    attributes: tuple[str, ...] = ()
    max_nonzero_weights: int | None = None
    min_train_positives: int = 100
    min_validation_positives: int = 10
    min_validation_roc_auc: float = 0.8


@dataclass(frozen=True)
class TrainingConfig:
    model: str
    attribute: str
    features: FeatureSpec
    regularisation: float
    max_iter: int
    dataset_weighting: str
    validation_fraction: float
    max_nonzero_weights: int | None
    thresholds: ThresholdRules
    datasets: tuple[DatasetSpec, ...]
    description: str
    raw: Mapping[str, Any]
    evaluation: EvaluationRules = EvaluationRules()
    augmentation: AugmentationRules = AugmentationRules()
    attribute_heads: AttributeHeadRules = AttributeHeadRules()
    calibration: str = "platt"
    # Share of positives in the traffic the probabilities should be calibrated for, per attribute:
    # the validation rows are about half toxic, a site's comments a few per cent.
    calibration_prior: Mapping[str, float] = field(default_factory=dict)

    @property
    def training_sets(self) -> tuple[DatasetSpec, ...]:
        return tuple(spec for spec in self.datasets if spec.has_train_rows)

    @property
    def test_sets(self) -> tuple[DatasetSpec, ...]:
        return tuple(spec for spec in self.datasets if spec.has_test_rows)


def default_config_path(model: str) -> Path:
    return CONFIG_DIR / f"{model}.json"


def load_config(path: Path) -> TrainingConfig:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read training config {path}: {exc}") from exc
    return parse_config(raw, where=str(path))


def parse_config(raw: object, where: str = "config") -> TrainingConfig:
    try:
        return _parse_config(_mapping(raw, "config"))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _parse_config(raw: Mapping[str, Any]) -> TrainingConfig:
    model = _string(raw.get("model"), "model")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", model):
        raise ConfigError(f"model must be a lower-case identifier, not {model!r}")
    attribute = _string(raw.get("attribute"), "attribute")
    if not _ATTRIBUTE_NAME.fullmatch(attribute):
        raise ConfigError(f"attribute must be a Perspective-style name in capitals, not {attribute!r}")
    classifier = _mapping(raw.get("classifier", {}), "classifier")
    regularisation = _number(classifier.get("C", 1.0), "classifier.C", minimum=0.0, exclusive=True)
    max_iter = _integer(classifier.get("max_iter", 1000), "classifier.max_iter", minimum=1)
    weighting = raw.get("dataset_weighting", "sqrt")
    if weighting not in WEIGHTINGS:
        raise ConfigError(f"dataset_weighting must be one of {WEIGHTINGS}, not {weighting!r}")
    validation_fraction = _number(raw.get("validation_fraction", 0.1), "validation_fraction", minimum=0.0)
    if not 0 < validation_fraction < 0.5:
        raise ConfigError(f"validation_fraction must be between 0 and 0.5, not {validation_fraction!r}")
    max_nonzero = raw.get("max_nonzero_weights")
    if max_nonzero is not None:
        max_nonzero = _integer(max_nonzero, "max_nonzero_weights", minimum=1)
    datasets = tuple(_parse_dataset(_mapping(item, "dataset")) for item in _list(raw.get("datasets"), "datasets"))
    names = [spec.name for spec in datasets]
    if len(set(names)) != len(names):
        raise ConfigError(f"dataset names must be unique: {names}")
    heads = _parse_attribute_heads(_mapping(raw.get("attribute_heads", {}), "attribute_heads"), attribute)
    for spec in datasets:
        unknown = set(spec.attributes) - set(heads.attributes)
        if unknown:
            raise ConfigError(
                f"dataset {spec.name!r}: attributes {sorted(unknown)} are not in attribute_heads.attributes"
            )
    calibration = raw.get("calibration", "platt")
    if calibration not in CALIBRATIONS:
        raise ConfigError(f"calibration must be one of {CALIBRATIONS}, not {calibration!r}")
    calibration_prior = {
        str(name): _number(value, f"calibration_prior.{name}", minimum=0.0, exclusive=True)
        for name, value in _mapping(raw.get("calibration_prior", {}), "calibration_prior").items()
    }
    if any(value >= 1 for value in calibration_prior.values()):
        raise ConfigError("calibration_prior values must be shares between 0 and 1")
    if calibration_prior and calibration == "none":
        raise ConfigError("calibration_prior needs calibration 'platt'")
    config = TrainingConfig(
        model=model,
        attribute=attribute,
        features=FeatureSpec.from_json(_mapping(raw.get("features"), "features")),
        regularisation=regularisation,
        max_iter=max_iter,
        dataset_weighting=weighting,
        validation_fraction=validation_fraction,
        max_nonzero_weights=max_nonzero,
        thresholds=_parse_thresholds(_mapping(raw.get("thresholds", {}), "thresholds")),
        datasets=datasets,
        description=str(raw.get("description", "")),
        raw=raw,
        evaluation=_parse_evaluation(_mapping(raw.get("evaluation", {}), "evaluation")),
        augmentation=_parse_augmentation(_mapping(raw.get("augmentation", {}), "augmentation")),
        attribute_heads=heads,
        calibration=calibration,
        calibration_prior=calibration_prior,
    )
    if config.augmentation.obfuscated_copies and config.augmentation.seed == config.evaluation.seed:
        raise ConfigError("augmentation.seed must differ from evaluation.seed, or the test copies leak into training")
    if config.augmentation.code_switch and not any(isinstance(b, LexiconBlock) for b in config.features.blocks):
        raise ConfigError("augmentation.code_switch swaps lexicon terms: add a lexicon feature block")
    if not config.training_sets:
        raise ConfigError("no data set has training rows")
    if not config.test_sets:
        raise ConfigError("no data set has test rows")
    return config


def _parse_attribute_heads(raw: Mapping[str, Any], main_attribute: str) -> AttributeHeadRules:
    attributes = tuple(_strings(raw.get("attributes", []), "attribute_heads.attributes"))
    for name in attributes:
        if not _ATTRIBUTE_NAME.fullmatch(name):
            raise ConfigError(f"attribute_heads: {name!r} is not a Perspective-style name in capitals")
    if main_attribute in attributes or len(set(attributes)) != len(attributes):
        raise ConfigError(f"attribute_heads.attributes must be unique and other than {main_attribute}")
    max_nonzero = raw.get("max_nonzero_weights")
    if max_nonzero is not None:
        max_nonzero = _integer(max_nonzero, "attribute_heads.max_nonzero_weights", minimum=1)
    auc = _number(raw.get("min_validation_roc_auc", 0.8), "attribute_heads.min_validation_roc_auc", minimum=0.5)
    if auc > 1:
        raise ConfigError(f"attribute_heads.min_validation_roc_auc must be at most 1, not {auc!r}")
    return AttributeHeadRules(
        attributes=attributes,
        max_nonzero_weights=max_nonzero,
        min_train_positives=_integer(
            raw.get("min_train_positives", 100), "attribute_heads.min_train_positives", minimum=1
        ),
        min_validation_positives=_integer(
            raw.get("min_validation_positives", 10), "attribute_heads.min_validation_positives", minimum=1
        ),
        min_validation_roc_auc=auc,
    )


def _parse_attribute_label(raw: Mapping[str, Any], where: str) -> AttributeLabel:
    keys = [key for key in ("min", "values", "value") if key in raw]
    if len(keys) != 1:
        raise ConfigError(f"{where} needs exactly one of 'min', 'values' or 'value'")
    unknown = set(raw) - {"column", "min", "values", "value"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    if keys == ["value"]:
        value = raw["value"]
        if value not in (0, 1) or isinstance(value, bool) or "column" in raw:
            raise ConfigError(f"{where}: 'value' must be 0 or 1, without a column")
        return AttributeLabel(constant=value)
    column = raw.get("column")
    if isinstance(column, list):
        columns = tuple(_strings(column, f"{where}: column"))
    else:
        columns = (_string(column, f"{where}: column"),)
    if not columns:
        raise ConfigError(f"{where}: column must name at least one column")
    if keys == ["min"]:
        return AttributeLabel(columns=columns, minimum=_number(raw["min"], f"{where}: min", minimum=0.0))
    values = frozenset(_strings(raw["values"], f"{where}: values"))
    if not values:
        raise ConfigError(f"{where}: values must not be empty")
    return AttributeLabel(columns=columns, values=values)


def _parse_augmentation(raw: Mapping[str, Any]) -> AugmentationRules:
    obfuscated = raw.get("obfuscated_copies", False)
    if not isinstance(obfuscated, bool):
        raise ConfigError(f"augmentation.obfuscated_copies must be true or false, not {obfuscated!r}")
    code_switch = raw.get("code_switch", False)
    if not isinstance(code_switch, bool):
        raise ConfigError(f"augmentation.code_switch must be true or false, not {code_switch!r}")
    if code_switch and not obfuscated:
        raise ConfigError("augmentation.code_switch changes the obfuscated copies: set obfuscated_copies too")
    keyboard_latin = raw.get("keyboard_latin", False)
    if not isinstance(keyboard_latin, bool) or (keyboard_latin and not obfuscated):
        raise ConfigError("augmentation.keyboard_latin must be true or false, and true only with obfuscated_copies")
    return AugmentationRules(
        obfuscated_copies=obfuscated,
        seed=_integer(raw.get("seed", 1), "augmentation.seed", minimum=0),
        weight=_number(raw.get("weight", 0.5), "augmentation.weight", minimum=0.0, exclusive=True),
        code_switch=code_switch,
        keyboard_latin=keyboard_latin,
    )


def _parse_evaluation(raw: Mapping[str, Any]) -> EvaluationRules:
    obfuscated = raw.get("obfuscated_copies", False)
    if not isinstance(obfuscated, bool):
        raise ConfigError(f"evaluation.obfuscated_copies must be true or false, not {obfuscated!r}")
    seed = _integer(raw.get("seed", 0), "evaluation.seed", minimum=0)
    slices = tuple(_strings(raw.get("slices", []), "evaluation.slices"))
    for name in slices:
        if Path(name).name != name or not name.endswith((".jsonl", ".txt")):
            raise ConfigError(f"evaluation.slices names .jsonl or .txt files in ml/eval/, not {name!r}")
    return EvaluationRules(obfuscated_copies=obfuscated, seed=seed, slices=slices)


def _parse_thresholds(raw: Mapping[str, Any]) -> ThresholdRules:
    publish = raw.get("publish", "max_f1")
    if publish != "max_f1":
        raise ConfigError(f"thresholds.publish supports only 'max_f1', not {publish!r}")
    reject = raw.get("reject")
    if reject is None:
        return ThresholdRules()
    reject = _mapping(reject, "thresholds.reject")
    precision = _number(reject.get("min_precision"), "thresholds.reject.min_precision", minimum=0.0)
    max_fpr = reject.get("max_false_positive_rate")
    if max_fpr is not None:
        max_fpr = _number(max_fpr, "thresholds.reject.max_false_positive_rate", minimum=0.0)
    return ThresholdRules(reject_min_precision=precision, reject_max_false_positive_rate=max_fpr)


def _parse_dataset(raw: Mapping[str, Any]) -> DatasetSpec:
    name = _string(raw.get("name"), "dataset name")
    where = f"dataset {name!r}"
    folder = _string(raw.get("folder"), f"{where}: folder")
    if Path(folder).is_absolute() or ".." in Path(folder).parts:
        raise ConfigError(f"{where}: folder must be relative to the data directory, not {folder!r}")
    files = tuple(_parse_file(_mapping(item, f"{where}: file"), where) for item in _list(raw.get("files"), where))
    training_allowed = raw.get("training_allowed")
    if not isinstance(training_allowed, bool):
        raise ConfigError(f"{where}: training_allowed must be true or false (the README's 'ship model?' column)")
    keep_label = raw.get("keep_label")
    relabel = raw.get("relabel")
    for key, value in (("keep_label", keep_label), ("relabel", relabel)):
        if value not in (None, 0, 1) or isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be 0 or 1, not {value!r}")
    override = raw.get("label_override")
    label_override = None
    if override is not None:
        override = _mapping(override, f"{where}: label_override")
        labels = _mapping(override.get("labels"), f"{where}: label_override.labels")
        if any(value not in (0, 1) or isinstance(value, bool) for value in labels.values()):
            raise ConfigError(f"{where}: label_override.labels must map values to 0 or 1")
        label_override = LabelOverride(
            column=_string(override.get("column"), f"{where}: label_override.column"), labels=dict(labels)
        )
    exclude = _mapping(raw.get("exclude_from_test", {}), f"{where}: exclude_from_test")
    attributes = {
        name: _parse_attribute_label(_mapping(value, f"{where}: attributes.{name}"), f"{where}: attributes.{name}")
        for name, value in _mapping(raw.get("attributes", {}), f"{where}: attributes").items()
    }
    corpus = raw.get("corpus", False)
    if not isinstance(corpus, bool):
        raise ConfigError(f"{where}: corpus must be true or false")
    attributes_only = raw.get("attributes_only", False)
    if not isinstance(attributes_only, bool) or (attributes_only and not attributes):
        raise ConfigError(f"{where}: attributes_only must be true or false, and true only with attributes")
    constant = [name for name, label in attributes.items() if label.constant is not None]
    if constant and 0 not in (keep_label, relabel):
        raise ConfigError(
            f"{where}: a constant attribute 'value' needs a set of non-toxic rows (keep_label 0 or relabel 0)"
        )
    spec = DatasetSpec(
        name=name,
        folder=folder,
        files=files,
        licence=_string(raw.get("licence"), f"{where}: licence"),
        training_allowed=training_allowed,
        source=str(raw.get("source", "")),
        note=str(raw.get("note", "")),
        weight=_number(raw.get("weight", 1.0), f"{where}: weight", minimum=0.0, exclusive=True),
        keep_label=keep_label,
        relabel=relabel,
        label_override=label_override,
        exclude_from_test={
            column: frozenset(_strings(values, f"{where}: exclude_from_test")) for column, values in exclude.items()
        },
        group_column=raw.get("group_column"),
        attributes=attributes,
        attributes_only=attributes_only,
        corpus=corpus,
        label_column=_string(raw.get("label_column", "label"), f"{where}: label_column"),
    )
    if not spec.corpus and any(data_file.exclude for data_file in spec.files):
        raise ConfigError(f"{where}: only a corpus set's file pattern may exclude names")
    if spec.has_train_rows and spec.attributes_only:
        raise ConfigError(f"{where}: a set with attributes_only may only test")
    if spec.has_train_rows and not spec.training_allowed:
        raise ConfigError(f"{where}: its licence does not allow shipping a trained model, so it may only test")
    return spec


def _parse_file(raw: Mapping[str, Any], where: str) -> DataFile:
    file = _string(raw.get("file"), f"{where}: file")
    if Path(file).name != file or file in (".", ".."):
        raise ConfigError(f"{where}: file must be a plain file name, not {file!r}")
    role = raw.get("role")
    split = raw.get("split")
    if (role is None) == (split is None):
        raise ConfigError(f"{where}: {file} needs exactly one of 'role' or 'split'")
    exclude = tuple(_strings(raw.get("exclude", []), f"{where}: {file} exclude"))
    if any(Path(pattern).name != pattern or pattern in (".", "..") for pattern in exclude):
        raise ConfigError(f"{where}: {file} exclude must list plain file names or patterns, not {list(exclude)!r}")
    if role is not None:
        if role not in ROLES:
            raise ConfigError(f"{where}: {file} role must be one of {ROLES}, not {role!r}")
        return DataFile(file=file, role=role, exclude=exclude)
    split = _mapping(split, f"{where}: {file} split")
    train = frozenset(_strings(split.get("train", []), f"{where}: split.train"))
    test = frozenset(_strings(split.get("test", []), f"{where}: split.test"))
    if train & test:
        raise ConfigError(f"{where}: {file} split values {sorted(train & test)} are both train and test")
    column = _string(split.get("column"), f"{where}: split.column")
    return DataFile(file=file, split=SplitRule(column=column, train=train, test=test), exclude=exclude)


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{what} must be a non-empty list")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty string")
    return value


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{what} must be a list of strings")
    return value


def _integer(value: object, what: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{what} must be an integer of at least {minimum}, not {value!r}")
    return value


def _number(value: object, what: str, minimum: float, exclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number, not {value!r}")
    if value < minimum or (exclusive and value == minimum):
        raise ConfigError(f"{what} must be {'above' if exclusive else 'at least'} {minimum}, not {value!r}")
    return float(value)
