import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ml.cli import main

ROWS = [
    {"id": "1", "author": "alice", "text": "thanks for the article about the museum"},
    {"id": "2", "author": "bob", "text": "shut up, you worthless clown"},
    {"id": "3", "author": "carol", "text": "earn $5000 a week from home, dm me on whatsapp"},
]


def write_input(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def assert_one_line_error(stderr: str, fragment: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert fragment in lines[0]


def test_it_adds_a_score_column_and_keeps_every_other_column(trained_artifacts: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", ROWS)
    target = tmp_path / "out.csv"
    args = ["score", "--model", "toxicity", "--input", str(source), "--output", str(target)]
    assert main([*args, "--artifacts", str(trained_artifacts)]) == 0
    rows = read_output(target)
    assert list(rows[0]) == ["id", "author", "text", "score"]
    assert [row["author"] for row in rows] == ["alice", "bob", "carol"]
    scores = [float(row["score"]) for row in rows]
    assert all(0 <= score <= 1 for score in scores)
    assert scores[1] > 0.5 > scores[0]


def test_it_scores_spam_with_the_spam_model(trained_artifacts: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", ROWS)
    target = tmp_path / "out.csv"
    args = ["score", "--model", "spam", "--input", str(source), "--output", str(target)]
    assert main([*args, "--artifacts", str(trained_artifacts), "--version", "spam-2026.01.02"]) == 0
    scores = [float(row["score"]) for row in read_output(target)]
    assert scores[2] > 0.5 > scores[0]


def test_it_exits_2_for_a_missing_input_file(
    trained_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["score", "--model", "spam", "--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o.csv")]
    assert main([*args, "--artifacts", str(trained_artifacts)]) == 2
    assert_one_line_error(capsys.readouterr().err, "does not exist")
    assert not (tmp_path / "o.csv").exists()


def test_it_exits_2_without_a_text_column(
    trained_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.csv", [{"id": "1", "body": "hello"}])
    args = ["score", "--model", "spam", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    assert main([*args, "--artifacts", str(trained_artifacts)]) == 2
    assert_one_line_error(capsys.readouterr().err, "no 'text' column")
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    "content",
    [b"text,id\n\xff\xfe\x00garbage,1\n", b"", b'text\n"unterminated', b"text,id\nhello,1,extra\n"],
    ids=["not-utf8", "empty", "unterminated-quote", "extra-field"],
)
def test_it_exits_2_for_an_unreadable_csv(
    trained_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    args = ["score", "--model", "toxicity", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    assert main([*args, "--artifacts", str(trained_artifacts)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    assert not (tmp_path / ".o.csv.partial").exists()


def test_it_exits_2_for_a_missing_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_input(tmp_path / "in.csv", ROWS)
    args = ["score", "--model", "toxicity", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    assert main([*args, "--artifacts", str(tmp_path / "empty")]) == 2
    assert_one_line_error(capsys.readouterr().err, "no 'toxicity' model")


def test_it_exits_2_for_a_tampered_artifact(
    artifacts_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (artifacts_copy / "spam" / "spam-2026.01.02" / "weights.npz").write_bytes(b"not weights")
    source = write_input(tmp_path / "in.csv", ROWS)
    args = ["score", "--model", "spam", "--input", str(source), "--output", str(tmp_path / "o.csv")]
    assert main([*args, "--artifacts", str(artifacts_copy)]) == 2
    assert_one_line_error(capsys.readouterr().err, "SHA-256")


def test_it_trains_and_evaluates_from_the_command_line(
    data_dir: Path, tmp_path: Path, config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(config_file("spam"))
    out = tmp_path / "artifacts"
    train = ["train", "--model", "spam", "--data", str(data_dir), "--out", str(out), "--version", "spam-2026.05.06"]
    assert main([*train, "--config", config]) == 0
    assert (out / "spam" / "spam-2026.05.06" / "weights.npz").is_file()
    report = tmp_path / "report.json"
    evaluate = ["evaluate", "--model", "spam", "--data", str(data_dir), "--artifacts", str(out), "--json", str(report)]
    assert main([*evaluate, "--config", config]) == 0
    printed = capsys.readouterr().out
    assert "ROC AUC" in printed and "tiny-spam" in printed and "tiny-news" in printed
    results = json.loads(report.read_text(encoding="utf-8"))
    assert results["version"] == "spam-2026.05.06"
    assert set(results["metrics"]) == {"tiny-spam", "tiny-news"}
    assert results["metrics"]["tiny-spam"]["roc_auc"] >= 0.9


def test_it_exits_2_when_training_data_is_missing(
    tmp_path: Path, config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--model", "toxicity", "--data", str(tmp_path), "--out", str(tmp_path / "a")]
    assert main([*args, "--config", str(config_file("toxicity"))]) == 2
    assert_one_line_error(capsys.readouterr().err, "does not exist")


def test_it_runs_as_python_dash_m(trained_artifacts: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", ROWS)
    target = tmp_path / "out.csv"
    command = [sys.executable, "-m", "ml", "score", "--model", "spam", "--input", str(source), "--output"]
    done = subprocess.run(
        [*command, str(target), "--artifacts", str(trained_artifacts)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert len(read_output(target)) == 3
    failed = subprocess.run(
        [*command, str(target), "--artifacts", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert_one_line_error(failed.stderr, "error:")


def test_it_evaluates_every_head_with_brier_and_ece(
    attribute_artifacts: Path, attribute_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.ml.conftest import attribute_config_dict

    config = tmp_path / "toxicity.json"
    config.write_text(json.dumps(attribute_config_dict()), encoding="utf-8")
    report = tmp_path / "report.json"
    evaluate = ["evaluate", "--model", "toxicity", "--data", str(attribute_data_dir), "--json", str(report)]
    assert main([*evaluate, "--artifacts", str(attribute_artifacts), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "Brier" in printed and "ECE" in printed and "(INSULT)" in printed
    results = json.loads(report.read_text(encoding="utf-8"))
    assert results["attributes"] == ["TOXICITY", "INSULT"]
    for metrics in [results["metrics"]["tiny-insults"], results["attribute_metrics"]["INSULT"]["tiny-insults"]]:
        assert 0 <= metrics["brier"] <= 1 and 0 <= metrics["ece"] <= 1
    assert set(results["calibration"]) == {"TOXICITY", "INSULT"}


def test_it_writes_a_score_column_per_head(attribute_artifacts: Path, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", ROWS)
    target = tmp_path / "out.csv"
    args = ["score", "--model", "toxicity", "--input", str(source), "--output", str(target)]
    assert main([*args, "--artifacts", str(attribute_artifacts)]) == 0
    assert list(read_output(target)[0]) == ["id", "author", "text", "score", "score_INSULT"]


def test_it_counts_the_corpus_and_measures_a_second_labelling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ml.cli import main
    from ml.corpus import read_corpus

    assert main(["corpus", "stats"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["train"]["rows"] == len(read_corpus("train")) and stats["dev"]["rows"] == len(read_corpus("dev"))
    rows = read_corpus("train")[:2]
    labels = tmp_path / "labels.tsv"
    labels.write_text(f"{rows[0].key}\t0\n{rows[1].key}\tIA\nnot-a-row\t0\n", encoding="utf-8")
    assert main(["corpus", "agreement", "--labels", str(labels)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 2 and report["rows_no_longer_in_the_corpus"] == 1
    labels.write_text(f"{rows[0].key}\tQQ\n", encoding="utf-8")
    assert main(["corpus", "agreement", "--labels", str(labels)]) == 2
    assert "line 1" in capsys.readouterr().err
