# ruff: noqa: RUF001 (Cyrillic text is this module's subject)
from pathlib import Path

import pytest

from ml.corpus import (
    ATTRIBUTES,
    CorpusError,
    CorpusRow,
    agreement,
    duplicates,
    parse_labels,
    read_corpus,
    read_corpus_file,
    relabel_sample,
    remove_rows,
    text_script,
)


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(text: str, source: str = "w:1", lang: str = "en") -> CorpusRow:
    return CorpusRow(text, lang, text_script(text), "politics", "civil", parse_labels("0"), source)


def test_it_implies_toxicity_from_any_toxic_label_but_not_from_spam() -> None:
    assert parse_labels("0") == dict.fromkeys(ATTRIBUTES, 0)
    assert parse_labels("HS")["TOXICITY"] == 1
    assert parse_labels("HS")["THREAT"] == parse_labels("HS")["SEVERE_TOXICITY"] == 1
    assert parse_labels("M") == dict.fromkeys(ATTRIBUTES, 0) | {"SPAM": 1}
    assert parse_labels("T")["INSULT"] == 0


@pytest.mark.parametrize("code", ["", "Q", "S", "i", "0I"])
def test_it_refuses_labels_outside_the_guide(code: str) -> None:
    with pytest.raises(CorpusError):
        parse_labels(code)


def test_it_reads_a_writers_file_with_script_and_source(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sr-9.tsv",
        "sr\t0\tkosovo\tcivil\tХвала на чланку.",
        "",
        "sr\tIA\tethnic\tidentity-slur\tHvala, šiptari.",
        "en\tM\tsport\tspam-casino\tFree spins at spin.example",
    )
    rows = list(read_corpus_file(path))
    assert [(r.lang, r.script, r.source) for r in rows] == [
        ("sr", "Cyrl", f"{tmp_path.name}/sr-9:1"),
        ("sr", "Latn", f"{tmp_path.name}/sr-9:3"),
        ("en", "Latn", f"{tmp_path.name}/sr-9:4"),
    ]
    assert rows[1].labels["IDENTITY_ATTACK"] == 1 and rows[2].labels["SPAM"] == 1
    assert rows[0].as_record()["TOXICITY"] == "0" and rows[0].as_record()["script"] == "Cyrl"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("en\t0\tsport\tcivil", "4 fields"),
        ("xx\t0\tsport\tcivil\thello", "unknown language"),
        ("en\tM\tsport\tcivil\thello", "disagree about spam"),
        ("en\t0\tsport\tspam-seo\thello", "disagree about spam"),
        ("en\t0\tsport\tcivil\t  ", "empty text"),
        ("en\t0\tfootball\tcivil\thello", "topic 'football'"),
        ("en\t0\tsport\trant\thello", "kind 'rant'"),
    ],
)
def test_it_names_the_line_of_a_malformed_row(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "w.tsv", "en\t0\tsport\tcivil\tfine", line)
    with pytest.raises(CorpusError, match=f"w.tsv line 2: .*{message}"):
        list(read_corpus_file(path))


def test_it_finds_copies_across_scripts_case_punctuation_and_word_order() -> None:
    rows = [
        row("Хвала на чланку, веома информативно.", "a:1"),
        row("hvala na članku veoma informativno!!", "a:2"),
        row("The bridge in Mitrovica opened again this morning after repairs", "a:3"),
        row("after repairs the bridge in Mitrovica opened again this morning", "a:4"),
        row("The bridge in Mitrovica opened again this evening after repairs", "a:5"),
        row("Completely different words about the weather in Sofia today", "a:6"),
    ]
    found = {r.source: source for r, source in duplicates(rows)}
    assert found == {"a:2": "a:1", "a:4": "a:3", "a:5": "a:3"}


def test_it_finds_training_rows_that_repeat_a_development_row() -> None:
    dev = [row("Ще те намеря и ще те смажа от бой", "dev:1")]
    train = [row("Shte te namerya i shte te smazha ot boy", "train:1"), row("Nothing like it at all here", "train:2")]
    assert [(r.source, source) for r, source in duplicates(train, against=dev)] == [("train:1", "dev:1")]


def test_it_removes_rows_from_their_files_only(tmp_path: Path) -> None:
    lines = ("en\t0\tsport\tcivil\tone", "en\t0\tsport\tcivil\ttwo", "en\tI\tsport\tinsult\tx3")
    write(tmp_path / "train" / "w.tsv", *lines)
    write(tmp_path / "dev" / "w.tsv", *lines)  # a development file of the same name is left alone
    rows = read_corpus("train", tmp_path)
    assert remove_rows([rows[1]], tmp_path) == 1
    assert [r.text for r in read_corpus("train", tmp_path)] == ["one", "x3"]
    assert [r.text for r in read_corpus("dev", tmp_path)] == ["one", "two", "x3"]


def test_it_samples_the_same_rows_for_the_same_seed() -> None:
    rows = [row(f"text number {index}", f"w:{index}") for index in range(100)]
    first = relabel_sample(rows, 0.1, seed=5)
    assert len(first) == 10 and first == relabel_sample(rows, 0.1, seed=5)
    assert first != relabel_sample(rows, 0.1, seed=6)


def test_it_measures_agreement_per_attribute() -> None:
    first = [parse_labels(code) for code in ["0", "I", "IA", "M", "H"]]
    second = [parse_labels(code) for code in ["0", "I", "I", "M", "0"]]
    found = agreement(first, second)
    assert found["SPAM"]["kappa"] == 1.0
    assert found["IDENTITY_ATTACK"]["agreement"] == 0.8 and found["IDENTITY_ATTACK"]["kappa"] == 0.0
    assert found["TOXICITY"]["first_positives"] == 3 and found["TOXICITY"]["second_positives"] == 2


def test_it_loads_the_corpus_as_a_data_set_with_attributes_and_groups(tmp_path: Path, monkeypatch) -> None:
    import ml.datasets
    from ml.datasets import load_dataset
    from ml.training_config import AttributeLabel, DataFile, DatasetSpec

    write(tmp_path / "train" / "a.tsv", "bg\tHS\tcrime\tthreat-explicit\tЩе те убия", "en\t0\tsport\tcivil\tGood game")
    write(tmp_path / "train" / "b.tsv", "sq\tM\tsport\tspam-casino\tBaste falas")
    monkeypatch.setattr(ml.datasets, "CORPUS_DIR", tmp_path)
    spec = DatasetSpec(
        name="corpus",
        folder="train",
        files=(DataFile(file="*.tsv", role="train"),),
        licence="own",
        training_allowed=True,
        corpus=True,
        label_column="TOXICITY",
        group_column="lang",
        attributes={"THREAT": AttributeLabel(columns=("THREAT",), values=frozenset({"1"}))},
    )
    loaded = load_dataset(Path("/nonexistent"), spec)
    assert loaded.train.texts == ["Ще те убия", "Good game", "Baste falas"]
    assert loaded.train.labels == [1, 0, 0]
    assert loaded.train.groups == ["bg", "en", "sq"]
    assert loaded.train.attributes["THREAT"] == [1, 0, 0]
    assert [f.path for f in loaded.files] == ["corpus/train/a.tsv", "corpus/train/b.tsv"]


def test_a_corpus_file_pattern_leaves_out_the_names_it_excludes(tmp_path: Path, monkeypatch) -> None:
    import ml.datasets
    from ml.datasets import load_dataset
    from ml.training_config import DataFile, DatasetSpec

    write(tmp_path / "train" / "a.tsv", "en\t0\tsport\tcivil\tGood game")
    write(tmp_path / "train" / "long-a.tsv", "en\tI\tsport\tinsult\tA long comment, and then: you idiot")
    monkeypatch.setattr(ml.datasets, "CORPUS_DIR", tmp_path)

    def loaded(data_file: DataFile) -> list[str]:
        spec = DatasetSpec(
            name="corpus",
            folder="train",
            files=(data_file,),
            licence="own",
            training_allowed=True,
            corpus=True,
            label_column="TOXICITY",
        )
        return load_dataset(Path("/nonexistent"), spec).train.texts

    assert loaded(DataFile(file="*.tsv", role="train")) == ["Good game", "A long comment, and then: you idiot"]
    assert loaded(DataFile(file="*.tsv", role="train", exclude=("long-*.tsv",))) == ["Good game"]
    assert loaded(DataFile(file="long-*.tsv", role="train")) == ["A long comment, and then: you idiot"]


def test_select_files_keeps_the_rows_of_the_files_asked_for(tmp_path: Path) -> None:
    from ml.corpus import select_files

    write(tmp_path / "dev" / "bg-1.tsv", "bg\t0\tsport\tcivil\tДобър мач")
    write(tmp_path / "dev" / "check-bg.tsv", "bg\t0\tweather\tcivil\tУтре ще вали")
    rows = read_corpus("dev", tmp_path)
    assert [row.file for row in rows] == ["bg-1", "check-bg"]
    assert [row.text for row in select_files(rows, exclude=["check-*"])] == ["Добър мач"]
    assert [row.text for row in select_files(rows, include=["check-*"])] == ["Утре ще вали"]
    assert select_files(rows, include=["bg-*"], exclude=["bg-1"]) == []
    assert len(select_files(rows)) == 2


def test_the_shipped_corpus_reads_and_never_repeats_a_development_row_in_training() -> None:
    train, dev = read_corpus("train"), read_corpus("dev")
    assert train and dev
    assert duplicates(train, against=dev) == []
