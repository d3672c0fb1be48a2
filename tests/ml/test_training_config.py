from collections.abc import Callable
from typing import Any

import pytest

from ml.training_config import ConfigError, default_config_path, load_config, parse_config
from ml.vocabulary import MODEL_NAMES

RawConfig = Callable[[str], dict[str, Any]]


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_it_loads_the_checked_in_configs(model: str) -> None:
    config = load_config(default_config_path(model))
    assert config.model == model
    assert config.attribute == model.upper()
    assert config.training_sets and config.test_sets
    assert all(spec.training_allowed for spec in config.training_sets)


def test_it_parses_the_tiny_config(raw_config: RawConfig) -> None:
    config = parse_config(raw_config("spam"))
    assert [spec.name for spec in config.training_sets] == ["tiny-spam"]
    assert [spec.name for spec in config.test_sets] == ["tiny-spam", "tiny-news"]
    assert config.thresholds.reject_min_precision == 0.9


def test_it_refuses_training_on_a_set_whose_licence_forbids_it(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["datasets"][0]["training_allowed"] = False
    with pytest.raises(ConfigError, match="may only test"):
        parse_config(raw)


def test_it_requires_training_allowed_to_be_stated(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    del raw["datasets"][0]["training_allowed"]
    with pytest.raises(ConfigError, match="training_allowed"):
        parse_config(raw)


def test_it_refuses_a_file_with_both_a_role_and_a_split(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["datasets"][0]["files"] = [{"file": "x.csv", "role": "train", "split": {"column": "split", "train": ["a"]}}]
    with pytest.raises(ConfigError, match="exactly one"):
        parse_config(raw)


def test_it_refuses_a_split_value_in_both_train_and_test(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["datasets"][0]["files"] = [{"file": "x.csv", "split": {"column": "split", "train": ["a"], "test": ["a"]}}]
    with pytest.raises(ConfigError, match="both train and test"):
        parse_config(raw)


def test_it_refuses_a_folder_outside_the_data_directory(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["datasets"][0]["folder"] = "../elsewhere"
    with pytest.raises(ConfigError, match="relative"):
        parse_config(raw)


def test_it_refuses_an_attribute_not_in_capitals(raw_config: RawConfig) -> None:
    raw = raw_config("spam")
    raw["attribute"] = "spam"
    with pytest.raises(ConfigError, match="capitals"):
        parse_config(raw)


def test_it_needs_test_rows(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["datasets"] = raw["datasets"][:1]
    raw["datasets"][0]["files"][0]["split"]["test"] = []
    with pytest.raises(ConfigError, match="no data set has test rows"):
        parse_config(raw)


def test_it_refuses_augmentation_with_the_evaluation_seed(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["evaluation"] = {"obfuscated_copies": True, "seed": 5}
    raw["augmentation"] = {"obfuscated_copies": True, "seed": 5}
    with pytest.raises(ConfigError, match="seed"):
        parse_config(raw)


def test_it_refuses_an_evaluation_slice_outside_ml_eval(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["evaluation"] = {"slices": ["../secrets.jsonl"]}
    with pytest.raises(ConfigError, match="slices"):
        parse_config(raw)


def test_it_reads_which_sets_label_which_extra_attribute() -> None:
    from tests.ml.conftest import attribute_config_dict

    config = parse_config(attribute_config_dict())
    assert config.attribute_heads.attributes == ("SEVERE_TOXICITY", "INSULT", "THREAT")
    insults, _, slang = config.datasets
    assert set(insults.attributes) == {"INSULT", "THREAT"} and not slang.attributes
    assert insults.attributes["INSULT"].label_of({"frac_insult": "0.667"}) == 1
    assert insults.attributes["INSULT"].label_of({"frac_insult": "0.333"}) == 0


def test_it_labels_an_attribute_by_any_of_several_columns_or_by_values(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["attribute_heads"] = {"attributes": ["IDENTITY_ATTACK", "INSULT"]}
    raw["datasets"][0]["attributes"] = {
        "IDENTITY_ATTACK": {"column": ["race", "religion"], "values": ["1"]},
        "INSULT": {"column": "subtask_b", "values": ["TIN"]},
    }
    labels = parse_config(raw).datasets[0].attributes
    assert labels["IDENTITY_ATTACK"].label_of({"race": "0", "religion": "1"}) == 1
    assert labels["IDENTITY_ATTACK"].label_of({"race": "0", "religion": "0"}) == 0
    assert labels["INSULT"].label_of({"subtask_b": "UNT"}) == 0


@pytest.mark.parametrize(
    ("attributes", "heads", "message"),
    [
        ({"INSULT": {"column": "x", "min": 0.5}}, [], "not in attribute_heads"),
        ({"INSULT": {"column": "x"}}, ["INSULT"], "exactly one of"),
        ({"INSULT": {"column": "x", "min": 0.5, "values": ["1"]}}, ["INSULT"], "exactly one of"),
        ({"INSULT": {"value": 0}}, ["INSULT"], "non-toxic rows"),
        ({"INSULT": {"value": 2}}, ["INSULT"], "0 or 1"),
        ({}, ["TOXICITY"], "other than TOXICITY"),
        ({}, ["insult"], "capitals"),
    ],
)
def test_it_refuses_a_bad_attribute_mapping(
    raw_config: RawConfig, attributes: dict[str, Any], heads: list[str], message: str
) -> None:
    raw = raw_config("toxicity")
    raw["attribute_heads"] = {"attributes": heads}
    raw["datasets"][0]["attributes"] = attributes
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_it_refuses_an_unknown_calibration(raw_config: RawConfig) -> None:
    with pytest.raises(ConfigError, match="calibration"):
        parse_config(raw_config("toxicity") | {"calibration": "isotonic"})


def test_the_checked_in_toxicity_config_tries_the_perspective_attributes() -> None:
    config = load_config(default_config_path("toxicity"))
    assert set(config.attribute_heads.attributes) == {
        "SEVERE_TOXICITY",
        "INSULT",
        "PROFANITY",
        "THREAT",
        "IDENTITY_ATTACK",
        "SEXUALLY_EXPLICIT",
    }
    # Severity and sexual content are labelled only by the project's own corpus (ml/corpus/README.md).
    for attribute in ("SEVERE_TOXICITY", "SEXUALLY_EXPLICIT"):
        assert [spec.name for spec in config.datasets if attribute in spec.attributes and spec.has_train_rows] == [
            "moderato-corpus"
        ]
    assert all(spec.training_allowed for spec in config.datasets if spec.attributes and spec.has_train_rows)


def test_the_checked_in_configs_never_train_on_the_development_corpus() -> None:
    for model in ("toxicity", "spam"):
        config = load_config(default_config_path(model))
        dev = [spec for spec in config.datasets if spec.corpus and spec.folder == "dev"]
        assert len(dev) == 1 and not dev[0].has_train_rows and not dev[0].training_allowed
        assert [spec.folder for spec in config.training_sets if spec.corpus] == ["train"]


def test_it_refuses_code_switching_without_a_lexicon_or_obfuscated_copies(raw_config: RawConfig) -> None:
    raw = raw_config("spam")
    raw["augmentation"] = {"obfuscated_copies": True, "seed": 7, "code_switch": True}
    with pytest.raises(ConfigError, match="lexicon"):
        parse_config(raw)
    raw = raw_config("toxicity")
    raw["augmentation"] = {"obfuscated_copies": False, "code_switch": True}
    with pytest.raises(ConfigError, match="obfuscated_copies"):
        parse_config(raw)


def test_only_a_corpus_file_pattern_may_exclude_plain_names(raw_config: RawConfig) -> None:
    raw = raw_config("toxicity")
    raw["datasets"][0]["files"] = [{"file": "x.csv", "role": "train", "exclude": ["y.csv"]}]
    with pytest.raises(ConfigError, match="only a corpus set"):
        parse_config(raw)
    raw["datasets"][0]["corpus"] = True
    raw["datasets"][0]["files"] = [{"file": "*.tsv", "role": "train", "exclude": ["../long-*.tsv"]}]
    with pytest.raises(ConfigError, match="plain file names"):
        parse_config(raw)
    raw["datasets"][0]["files"] = [{"file": "*.tsv", "role": "train", "exclude": ["long-*.tsv"]}]
    assert parse_config(raw).datasets[0].files[0].exclude == ("long-*.tsv",)
