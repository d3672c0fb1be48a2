# ruff: noqa: RUF001 (look-alike letters are this module's subject)
from pathlib import Path

import numpy as np
import pytest

from ml.artifacts import load_model
from ml.explanations import character_weights
from ml.normalise import normalise_text
from ml.scoring import Scorer, load_scorer
from ml.train import train_model
from ml.training_config import parse_config
from tests.ml.conftest import CLEAN_TEMPLATES, INSULTS, TOPICS, labelled_rows, tiny_config_dict, write_csv


@pytest.fixture(scope="module")
def insult_scorer(tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    """A toxicity model where only insults are toxic (in the shared tiny model they fill clean rows too)."""
    root = tmp_path_factory.mktemp("insults")
    rows = labelled_rows(["you {}", "what a {}", "{}, that is what you are", "listen here, {}"], [], INSULTS)
    rows += labelled_rows([], CLEAN_TEMPLATES, TOPICS)
    write_csv(root / "tiny-toxic" / "tiny_toxic.csv", rows)
    write_csv(root / "tiny-news" / "tiny_news.csv", [{"text": "the vote is on tuesday", "label": "0"}])
    artifacts = root / "artifacts"
    train_model(parse_config(tiny_config_dict("toxicity")), root, artifacts, version="toxicity-2026.01.03")
    return Scorer({"toxicity": load_model(artifacts, "toxicity")})


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("you 1d10t", "1d10t"),
        ("the article about the bridge, you c.l.o.w.n", "c.l.o.w.n"),
        ("the museum story, you ｍｏｒｏｎ", "ｍｏｒｏｎ"),
        ("you i\u200bd\u200bi\u200bo\u200bt", "i\u200bd\u200bi\u200bo\u200bt"),
        ("what a lооооsеr", "lооооsеr"),
    ],
)
def test_it_points_at_the_obfuscated_word_in_the_original_text(insult_scorer: Scorer, text: str, word: str) -> None:
    spans = insult_scorer.explain(text)["TOXICITY"]
    assert spans, "expected at least one span pushing toxicity up"
    for span in spans:
        assert text[span["begin"] : span["end"]] == span["text"]
    assert word in [span["text"] for span in spans]


def test_it_explains_every_attribute_largest_weight_first(trained_artifacts: Path) -> None:
    explanation = load_scorer(trained_artifacts).explain(
        "click http://bit.ly/idiot for free crypto now, you idiot", top=3
    )
    assert set(explanation) == {"TOXICITY", "SPAM"}
    for spans in explanation.values():
        assert len(spans) <= 3
        weights = [span["weight"] for span in spans]
        assert weights == sorted(weights, reverse=True)
        assert all(weight > 0 for weight in weights)


def test_it_returns_nothing_for_an_empty_text(trained_artifacts: Path) -> None:
    assert load_scorer(trained_artifacts).explain("") == {"TOXICITY": [], "SPAM": []}


def test_it_shares_out_exactly_the_log_odds_above_the_intercept(trained_artifacts: Path) -> None:
    model = load_model(trained_artifacts, "toxicity")
    text = "Only a 1d10t would write this garbage!!!"
    weights = character_weights(model.features, model.coefficients, normalise_text(text))
    logit = np.log(model.score(text)["TOXICITY"] / (1 - model.score(text)["TOXICITY"]))
    assert weights.sum() + model.intercepts[0] == pytest.approx(logit, abs=1e-6)


def test_it_explains_only_the_first_part_of_a_hugely_expanding_text(insult_scorer: Scorer) -> None:
    from ml.explanations import EXPLAIN_MAX_CHARS

    # Each U+FDFA normalises to 18 characters: the insult sits past the explained part.
    text = "\ufdfa" * 400 + " you idiot"
    assert len(normalise_text(text)) > EXPLAIN_MAX_CHARS
    assert "idiot" not in [span["text"] for span in insult_scorer.explain(text)["TOXICITY"]]
    assert "idiot" in [span["text"] for span in insult_scorer.explain("you idiot " + "\ufdfa" * 400)["TOXICITY"]]
