from pathlib import Path

import numpy as np
import pytest

from ml.artifacts import ArtifactError, load_model, newest_version
from ml.model import LinearTextModel
from ml.scoring import DEFAULT_ARTIFACTS_DIR, Scorer, load_scorer

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
INSULT = "You are a worthless idiot, shut up"
SPAM = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp"


def test_it_scores_every_attribute_of_both_models(trained_artifacts: Path) -> None:
    scores = load_scorer(trained_artifacts).score("shut up, you worthless clown")
    assert set(scores) == {"TOXICITY", "SPAM"}
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    assert scores["TOXICITY"] > 0.5


def test_it_reports_versions_attributes_and_suggested_thresholds(trained_artifacts: Path) -> None:
    scorer = load_scorer(trained_artifacts)
    assert scorer.versions == {"toxicity": "toxicity-2026.01.02", "spam": "spam-2026.01.02"}
    assert scorer.attributes == {"toxicity": ("TOXICITY",), "spam": ("SPAM",)}
    assert set(scorer.suggested_thresholds) == {"TOXICITY", "SPAM"}
    assert set(scorer.suggested_thresholds["SPAM"]) == {"publish", "reject"}


def test_it_scores_many_texts_like_one_at_a_time(trained_artifacts: Path) -> None:
    scorer = load_scorer(trained_artifacts)
    texts = ["earn $5000 a week from home", "the museum story was well researched", "", "ＩＤＩＯＴ"]  # noqa: RUF001 (look-alike letters on purpose)
    for text, scores in zip(texts, scorer.score_many(texts), strict=True):
        assert scores == pytest.approx(scorer.score(text))
    assert scorer.score_many([]) == []


def test_it_raises_an_artifact_error_for_a_missing_version(trained_artifacts: Path) -> None:
    with pytest.raises(ArtifactError):
        load_scorer(trained_artifacts, spam_version="spam-2030.01.01")


def test_it_uses_the_newest_committed_artifacts_by_default() -> None:
    assert (
        load_scorer().versions
        == load_scorer(DEFAULT_ARTIFACTS_DIR).versions
        == {
            "toxicity": newest_version(DEFAULT_ARTIFACTS_DIR, "toxicity"),
            "spam": newest_version(DEFAULT_ARTIFACTS_DIR, "spam"),
        }
    )


def test_it_scores_the_sanity_sentences_in_the_right_direction() -> None:
    scorer = load_scorer()
    clean, insult, spam = (scorer.score(text) for text in (CLEAN, INSULT, SPAM))
    assert clean["TOXICITY"] < 0.3 and clean["SPAM"] < 0.3
    # Calibrated for traffic with a few per cent of toxic comments: a plain insult is well above the
    # thresholds, not necessarily above one half.
    assert insult["TOXICITY"] > max(0.3, scorer.suggested_thresholds["TOXICITY"]["publish"] or 0)
    assert insult["TOXICITY"] - clean["TOXICITY"] > 0.3
    assert insult["INSULT"] > 0.5 > clean["INSULT"]
    assert spam["SPAM"] > 0.9
    assert insult["TOXICITY"] > spam["TOXICITY"] and spam["SPAM"] > insult["SPAM"]


TEXTS = ["earn $5000 a week from home", "you idiot, I will kill you", "", "ＩＤＩＯＴ", "the museum story"]  # noqa: RUF001


def test_it_scores_batches_as_the_models_own_matrix_arithmetic(trained_artifacts: Path) -> None:
    scorer = load_scorer(trained_artifacts)
    batch = scorer.score_many(TEXTS)
    for model in scorer.models.values():
        expected = model.probabilities(TEXTS)
        actual = [[scores[attribute] for attribute in model.attributes] for scores in batch]
        assert np.allclose(actual, expected)


def test_it_shares_one_pass_over_the_features_among_models_of_one_spec(trained_artifacts: Path) -> None:
    toxicity = load_model(trained_artifacts, "toxicity", "toxicity-2026.01.02")
    mirror = LinearTextModel(
        name="mirror",
        version="mirror-1",
        attributes=("MIRROR",),
        features=toxicity.features,
        coefficients=-toxicity.coefficients,
        intercepts=-toxicity.intercepts,
    )
    scorer = Scorer({"toxicity": toxicity, "mirror": mirror})
    assert len(scorer._groups) == 1
    for text, scores in zip(TEXTS, scorer.score_many(TEXTS), strict=True):
        assert scores["MIRROR"] == pytest.approx(1 - scores["TOXICITY"])
        assert scores["TOXICITY"] == pytest.approx(toxicity.score(text)["TOXICITY"])


@pytest.mark.parametrize(
    ("toxicity_version", "spam_version"),
    [("toxicity-2026.12.01.23", "spam-2026.12.01"), ("toxicity-2026.12.01.25", "spam-2026.12.01.2")],
)
def test_models_whose_lexicon_blocks_differ_still_share_one_pass_and_score_as_alone(
    toxicity_version: str, spam_version: str
) -> None:
    """The toxicity models from 2026.12.01.23 have a quoted-term column that the spam models have not
    (and from 2026.12.01.25 word blocks of 2^20 columns, as spam-2026.12.01.2): the scorer reads their
    shared n-gram blocks once and each model's own lexicon block, and scores as each model alone."""
    toxicity = load_model(DEFAULT_ARTIFACTS_DIR, "toxicity", toxicity_version)
    spam = load_model(DEFAULT_ARTIFACTS_DIR, "spam", spam_version)
    assert toxicity.features.spec != spam.features.spec
    assert toxicity.features.spec.blocks[:2] == spam.features.spec.blocks[:2]
    scorer = Scorer({"toxicity": toxicity, "spam": spam})
    features, _ = scorer._groups[0]
    assert len(scorer._groups) == 1 and len(features.spec.blocks) == 4  # word, char_wb, two lexicon blocks
    texts = [*TEXTS, 'He called her "idiot" on air.', "Nje deputet e quajti gazetaren „kurve“ ne studio.", ""]
    together = scorer.score_many(texts)
    for text, scores in zip(texts, together, strict=True):
        alone = toxicity.score(text) | spam.score(text)
        assert scores == pytest.approx(alone, abs=1e-6)
        assert scorer.score(text) == pytest.approx(alone, abs=1e-6)


def test_it_scores_a_long_batch_in_parts_like_one_text_at_a_time(
    trained_artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml import scoring

    scorer = load_scorer(trained_artifacts)
    texts = [f"comment {index}: you idiot" if index % 3 else f"comment {index} on the bridge" for index in range(10)]
    monkeypatch.setattr(scoring, "_BATCH", 4)
    parts = scorer.score_many(texts)
    assert len(parts) == len(texts)
    for text, scores in zip(texts, parts, strict=True):
        assert scores == pytest.approx(scorer.score(text), abs=1e-6)


def test_it_still_scores_with_the_models_of_normalisation_version_2() -> None:
    # Artifacts record the normalisation they were trained with: an upgrade never leaves a site with
    # an active model (shipped or fine-tuned from one) that cannot load, nor one read another way.
    scorer = load_scorer(toxicity_version="toxicity-2026.11.28.3", spam_version="spam-2026.11.28.3")
    for model in scorer.models.values():
        assert model.features.spec.normalisation_version == 2
        assert model.features.normalise("Срам") == "cpam"
    text = "You are a pathetic 1d10t, shut up"
    single, batch = scorer.score(text), scorer.score_many([text])[0]
    assert all(abs(single[name] - value) < 1e-5 for name, value in batch.items())
    assert single["TOXICITY"] > 0.9


@pytest.mark.parametrize(
    ("toxicity", "spam"),
    [
        ("toxicity-2026.12.01.5", "spam-2026.12.01"),
        ("toxicity-2026.12.01.21", "spam-2026.12.01"),
        ("toxicity-2026.12.01.23", "spam-2026.12.01"),
        ("toxicity-2026.12.01.25", "spam-2026.12.01.2"),
    ],
)
def test_the_shipped_models_of_normalisation_version_4_score_a_group_and_people_alike(toxicity: str, spam: str) -> None:
    scorer = load_scorer(toxicity_version=toxicity, spam_version=spam)
    for model in scorer.models.values():
        assert model.features.spec.normalisation_version == 4
    # Naming a group, saying "people" or neither weighs the same (the words are dropped).
    for sentence in ("{} su se okupili na trgu.", "{} are tired of this government."):
        texts = [sentence.format(word) for word in ("Muslimani", "Ljudi", "Albanci", "Muslims", "People")]
        scores = {text: scorer.score(text)["TOXICITY"] for text in texts}
        assert max(scores.values()) - min(scores.values()) < 0.05, scores


def test_the_shipped_model_reads_a_slur_quoted_to_condemn_it_apart_from_one_used() -> None:
    """From toxicity-2026.12.01.23 a lexicon term inside a short quotation counts in a column of its own."""
    scorer = load_scorer(toxicity_version="toxicity-2026.12.01.23", spam_version="spam-2026.12.01")
    quoted = 'Nje deputet e quajti gazetaren "kurve" ne studio live. Kjo gjuhe nuk duhet te pranohet askund.'
    used = "Nje deputet e quajti gazetaren kurve ne studio live."
    assert scorer.score(quoted)["TOXICITY"] < 0.1 < 0.5 < scorer.score(used)["TOXICITY"]
    older = load_scorer(toxicity_version="toxicity-2026.12.01.21", spam_version="spam-2026.12.01")
    assert older.score(quoted)["TOXICITY"] > 0.3  # without the column the quoted slur weighed as used


# Scores of the shipped artifacts, recorded with the code that trained and evaluated them (before the
# scikit-learn hashing was deleted): the hashing scheme and normalisation they name still read them the
# same way. A change to ml.hashing or ml.normalise that moves these needs a new scheme or version.
SHIPPED_SCORES = {
    ("toxicity-2026.12.01.25", "spam-2026.12.01.2"): {
        "A calm and useful article.": {"TOXICITY": 0.04741, "INSULT": 0.02658, "THREAT": 0.00437, "SPAM": 0.000192},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.955051, "INSULT": 0.964743, "SPAM": 5e-06},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.00092, "SPAM": 0.999926},
        "Срам ве било, идиоти": {"TOXICITY": 0.759687, "INSULT": 0.671064, "SPAM": 0.000592},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.001061, "PROFANITY": 0.003869, "SPAM": 0.103277},
    },
    ("toxicity-2026.12.01.23", "spam-2026.12.01"): {
        "A calm and useful article.": {"TOXICITY": 0.04176, "INSULT": 0.02507, "THREAT": 0.003518, "SPAM": 0.000274},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.950274, "INSULT": 0.971689, "SPAM": 6e-06},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.001164, "SPAM": 0.999914},
        "Срам ве било, идиоти": {"TOXICITY": 0.805883, "INSULT": 0.684698, "SPAM": 0.000682},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.001319, "PROFANITY": 0.008626, "SPAM": 0.107478},
    },
    ("toxicity-2026.12.01.21", "spam-2026.12.01"): {
        "A calm and useful article.": {"TOXICITY": 0.03342, "INSULT": 0.017553, "THREAT": 0.003286, "SPAM": 0.000274},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.952313, "INSULT": 0.976527, "SPAM": 6e-06},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.001078, "SPAM": 0.999914},
        "Срам ве било, идиоти": {"TOXICITY": 0.804691, "INSULT": 0.665682, "SPAM": 0.000682},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.001307, "PROFANITY": 0.007802, "SPAM": 0.107478},
    },
    ("toxicity-2026.12.01.5", "spam-2026.12.01"): {
        "A calm and useful article.": {"TOXICITY": 0.040833, "INSULT": 0.016362, "THREAT": 0.004334, "SPAM": 0.000274},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.954198, "INSULT": 0.976607, "SPAM": 6e-06},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.000955, "SPAM": 0.999914},
        "Срам ве било, идиоти": {"TOXICITY": 0.802773, "INSULT": 0.561794, "SPAM": 0.000682},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.001021, "PROFANITY": 0.010049, "SPAM": 0.107478},
    },
    ("toxicity-2026.11.30.4", "spam-2026.11.30"): {
        "A calm and useful article.": {"TOXICITY": 0.035447, "INSULT": 0.011723, "THREAT": 0.005215, "SPAM": 0.000384},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.896678, "INSULT": 0.95832, "SPAM": 1.2e-05},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.000865, "SPAM": 0.999856},
        "Срам ве било, идиоти": {"TOXICITY": 0.78104, "INSULT": 0.608144, "SPAM": 0.001212},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.000858, "PROFANITY": 0.010114, "SPAM": 0.145122},
    },
    ("toxicity-2026.11.30.3", "spam-2026.11.30"): {
        "A calm and useful article.": {"TOXICITY": 0.036374, "INSULT": 0.011723, "THREAT": 0.005215, "SPAM": 0.000384},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.90367, "INSULT": 0.95832, "SPAM": 1.2e-05},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.000748, "SPAM": 0.999856},
        "Срам ве било, идиоти": {"TOXICITY": 0.808835, "INSULT": 0.608144, "SPAM": 0.001212},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.000704, "PROFANITY": 0.008485, "SPAM": 0.145122},
    },
    ("toxicity-2026.11.30.2", "spam-2026.11.30"): {
        "A calm and useful article.": {"TOXICITY": 0.039603, "INSULT": 0.014812, "THREAT": 0.003943, "SPAM": 0.000384},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.907886, "INSULT": 0.953953, "SPAM": 1.2e-05},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.000853, "SPAM": 0.999856},
        "Срам ве било, идиоти": {"TOXICITY": 0.820845, "INSULT": 0.603359, "SPAM": 0.001212},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.000747, "PROFANITY": 0.01201, "SPAM": 0.145122},
    },
    ("toxicity-2026.11.30", "spam-2026.11.30"): {
        "A calm and useful article.": {"TOXICITY": 0.034144, "INSULT": 0.01712, "THREAT": 0.003521, "SPAM": 0.000384},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.829381, "INSULT": 0.9485, "SPAM": 1.2e-05},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.000763, "SPAM": 0.999856},
        "Срам ве било, идиоти": {"TOXICITY": 0.812794, "INSULT": 0.607459, "SPAM": 0.001212},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.000587, "PROFANITY": 0.011445, "SPAM": 0.145122},
    },
    ("toxicity-2026.11.28.3", "spam-2026.11.28.3"): {
        "A calm and useful article.": {"TOXICITY": 0.205034, "INSULT": 0.150324, "SPAM": 0.000652},
        "You are a pathetic 1d10t, shut up": {"TOXICITY": 0.970338, "INSULT": 0.947437, "SPAM": 0.00011},
        "earn $5000 a week from home, dm me on whatsapp": {"TOXICITY": 0.040976, "SPAM": 0.907447},
        "Срам ве било, идиоти": {"TOXICITY": 0.355435, "INSULT": 0.136898, "SPAM": 0.019823},
        "Danke für den Artikel über die Brücke": {"TOXICITY": 0.043619, "PROFANITY": 0.045127, "SPAM": 0.020043},
    },
}


@pytest.mark.parametrize("versions", list(SHIPPED_SCORES))
def test_the_shipped_artifacts_score_as_recorded(versions: tuple[str, str]) -> None:
    scorer = load_scorer(toxicity_version=versions[0], spam_version=versions[1])
    for text, expected in SHIPPED_SCORES[versions].items():
        single, batch = scorer.score(text), scorer.score_many([text])[0]
        for attribute, value in expected.items():
            assert single[attribute] == pytest.approx(value, abs=1e-6), (text, attribute)
            assert batch[attribute] == pytest.approx(value, abs=1e-6), (text, attribute)
