import numpy as np
import pytest

from bench.learning_anchor import NEW_WORDING, QUOTED_SLURS  # the figures the README quotes
from ml.artifacts import load_model
from ml.retrain import (
    Anchor,
    GateReport,
    LabelledSet,
    corpus_anchor,
    false_positive_slice,
    fine_tune,
    fine_tune_civil,
    gates_compare,
    head_gates_compare,
)
from ml.scoring import DEFAULT_ARTIFACTS_DIR

NEW_INSULT = "you are a glorbnak"


@pytest.fixture
def base(trained_artifacts):
    return load_model(trained_artifacts, "toxicity")


def labelled(n: int = 20):
    texts = [f"{NEW_INSULT} number {i}" for i in range(n)] + [f"the bridge opens on day {i}" for i in range(n)]
    return texts, [1] * n + [0] * n


def test_it_learns_what_the_labels_teach(base):
    texts, labels = labelled()
    candidate = fine_tune(base, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-local-1")
    toxic, clean = texts[0], texts[-1]
    assert candidate.score(toxic)["TOXICITY"] > base.score(toxic)["TOXICITY"]
    assert candidate.score(clean)["TOXICITY"] < base.score(clean)["TOXICITY"]
    assert candidate.version == "toxicity-local-1" and candidate.meta["based_on"] == base.version


def test_it_leaves_every_weight_the_labels_do_not_touch_as_shipped(base):
    texts, labels = labelled()
    candidate = fine_tune(base, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-local-1")
    touched = np.unique(base.features.matrix(texts).indices)
    untouched = np.setdiff1d(np.arange(base.coefficients.shape[1]), touched)
    assert np.array_equal(candidate.coefficients[:, untouched], base.coefficients[:, untouched])
    assert not np.array_equal(candidate.coefficients[:, touched], base.coefficients[:, touched])


def test_a_stronger_prior_stays_closer_to_the_shipped_model(base):
    texts, labels = labelled()
    loose = fine_tune(base, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-a", prior_strength=0.1)
    tight = fine_tune(base, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-b", prior_strength=100)
    assert np.abs(tight.coefficients - base.coefficients).sum() < np.abs(loose.coefficients - base.coefficients).sum()


def test_it_refuses_labels_that_are_not_binary(base):
    with pytest.raises(ValueError, match="0 or 1"):
        fine_tune(base, attribute="TOXICITY", texts=["a"], labels=[2], version="toxicity-x")


def test_the_gates_pass_a_better_candidate_and_fail_a_worse_one(base):
    texts, labels = labelled()
    window = LabelledSet("window", texts, labels)
    good = fine_tune(base, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-good")
    report = gates_compare(base, good, attribute="TOXICITY", window=window, publish_threshold=0.5, fp_slice=[])
    assert report.passed, report.checks
    flipped = [1 - label for label in labels]
    bad = fine_tune(base, attribute="TOXICITY", texts=texts, labels=flipped, version="toxicity-bad")
    report = gates_compare(good, bad, attribute="TOXICITY", window=window, publish_threshold=0.5, fp_slice=[])
    assert not report.passed
    assert any(c["gate"].startswith("window") for c in report.checks if not c["passed"])


def test_it_leaves_the_other_heads_and_the_calibration_as_shipped(attribute_artifacts):
    multi = load_model(attribute_artifacts, "toxicity")
    texts, labels = labelled()
    candidate = fine_tune(multi, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-local-2")
    assert candidate.attributes == ("TOXICITY", "INSULT")
    assert np.array_equal(candidate.coefficients[1], multi.coefficients[1])
    assert candidate.intercepts[1] == multi.intercepts[1]
    assert not np.array_equal(candidate.coefficients[0], multi.coefficients[0])
    assert np.array_equal(candidate.calibration.slopes, multi.calibration.slopes)


def test_the_false_positive_slice_gate_forgives_one_sentence_but_not_two(base):
    texts, labels = labelled()
    window = LabelledSet("window", texts, labels)
    good = fine_tune(base, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-good")
    # Sentences the candidate learned to score high: each one it holds and the base does not.
    learned = [f"{NEW_INSULT} number {i}" for i in (100, 101)]
    threshold = float((base.probabilities(learned)[:, 0].max() + good.probabilities(learned)[:, 0].min()) / 2)
    neutral = [f"the bridge opens on day {i}" for i in range(8)]

    def slice_gate(fp_slice):
        report = gates_compare(
            base, good, attribute="TOXICITY", window=window, publish_threshold=threshold, fp_slice=fp_slice
        )
        return next(c for c in report.checks if c["gate"].startswith("false-positive slice"))

    assert slice_gate(neutral + learned[:1])["passed"]
    assert not slice_gate(neutral + learned)["passed"]


def test_the_positive_slice_gate_fails_a_candidate_taught_that_abuse_is_fine(base):
    """An API client's labels calling its own spam or abuse clean lower the candidate's scores on them:
    the window of its own recent labels may even improve, the shipped positives do not."""
    texts, labels = labelled()
    window = LabelledSet("window", texts, labels)
    learned = [f"{NEW_INSULT} number {i}" for i in range(6)]
    good = fine_tune(base, attribute="TOXICITY", texts=[*texts, *learned], labels=[*labels, *[1] * 6], version="t-g")
    whitewashed = fine_tune(good, attribute="TOXICITY", texts=learned, labels=[0] * 6, version="t-w")
    threshold = float(np.median(good.probabilities(learned)[:, 0]))

    def positive_gate(candidate):
        report = gates_compare(
            good, candidate, attribute="TOXICITY", window=window, publish_threshold=threshold,
            fp_slice=[], positives=learned,
        )  # fmt: skip
        return next(c for c in report.checks if c["gate"].startswith("positive slice"))

    assert positive_gate(good)["passed"]
    assert not positive_gate(whitewashed)["passed"]


def test_the_shipped_positive_slice_has_toxic_and_spam_sentences():
    from ml.retrain import positive_slice

    assert len(positive_slice("TOXICITY")) >= 20 and len(positive_slice("SPAM")) >= 20


def test_the_corpus_anchor_is_a_spread_sample_that_weighs_as_the_whole_corpus():
    anchor = corpus_anchor(rows=500)
    assert len(anchor.texts) == 500 and len(set(anchor.texts)) == 500
    assert anchor.weight > 10 * len(anchor.texts)  # it stands for every row of the corpus
    assert any("\u0400" <= ch <= "\u04ff" for ch in "".join(anchor.texts))  # not only the first (Bulgarian) file


def test_the_anchor_keeps_sentences_that_only_share_words_with_the_labels_where_they_were():
    """Sixty labels teaching one new insult in everyday words ("you are", "comment"): without the
    anchor those words carry the insult's weight into every civil sentence that has them."""
    shipped = load_model(DEFAULT_ARTIFACTS_DIR, "toxicity")
    texts, labels = [], []
    for i in range(16):
        texts += [f"{NEW_INSULT}, comment {i}", f"you are right about comment {i}, thank you"]
        texts += [f"you are a star, comment {i} made my day"]
        labels += [1, 0, 0]
    anchored = fine_tune(shipped, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-a")
    loose = fine_tune(
        shipped, attribute="TOXICITY", texts=texts, labels=labels, version="toxicity-b", anchor=Anchor((), 0.0)
    )
    civil = false_positive_slice()

    def shift(model):
        return float(np.mean(np.abs(model.probabilities(civil)[:, 0] - shipped.probabilities(civil)[:, 0])))

    assert shift(anchored) < shift(loose) / 3
    insult = "you glorbnak"
    assert anchored.score(insult)["TOXICITY"] > shipped.score(insult)["TOXICITY"] + 0.02  # it still learns


def test_civil_labels_lower_an_extra_head_on_what_it_held_and_leave_the_rest_as_shipped():
    """Moderators call quoted slurs not toxic: the INSULT head, which held them, scores them lower;
    every other head and an insult used stay as shipped."""
    shipped = load_model(DEFAULT_ARTIFACTS_DIR, "toxicity")
    candidate = fine_tune_civil(shipped, attributes=("INSULT",), texts=QUOTED_SLURS * 3)
    row = shipped.attributes.index("INSULT")
    probe = NEW_WORDING
    assert candidate.probabilities([probe])[0, row] < shipped.probabilities([probe])[0, row] - 0.02
    assert candidate.score("you are trash")["INSULT"] == pytest.approx(
        shipped.score("you are trash")["INSULT"], abs=0.01
    )
    others = [index for index in range(len(shipped.attributes)) if index != row]
    assert np.array_equal(candidate.coefficients[others], shipped.coefficients[others])
    assert candidate.version == shipped.version and candidate.meta == shipped.meta


def test_the_head_gates_refuse_a_head_that_stops_holding_insults(attribute_artifacts):
    multi = load_model(attribute_artifacts, "toxicity")
    insults = [f"{NEW_INSULT} number {i}" for i in range(20)] + ["you idiot", "shut up you moron"]
    threshold = float(np.median(multi.probabilities(insults)[:, 1]))
    # Labels that call insults civil, with nothing to hold the words where they were.
    steered = fine_tune_civil(multi, attributes=("INSULT",), texts=insults, anchor=Anchor((), 0.0))
    report = GateReport()
    head_gates_compare(
        multi,
        steered,
        attribute="INSULT",
        civil_window=[],
        publish_threshold=threshold,
        report=report,
        positives=insults,
    )
    assert not report.passed
    assert [check["gate"] for check in report.checks if not check["passed"]] == [
        f"INSULT, positive slice of TOXICITY ({len(insults)} sentences): share at or above {threshold:g}"
    ]
    report = GateReport()
    head_gates_compare(
        multi, multi, attribute="INSULT", civil_window=[], publish_threshold=threshold, report=report, positives=insults
    )
    assert report.passed
