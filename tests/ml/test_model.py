import numpy as np
import pytest

from ml.features import FeatureSpec, HashedTextFeatures, NgramBlock
from ml.model import LinearTextModel

FEATURES = HashedTextFeatures(FeatureSpec(blocks=(NgramBlock("word", 1, 1, 64), NgramBlock("char_wb", 2, 3, 128))))


def model_with(coefficients: np.ndarray, intercepts: np.ndarray) -> LinearTextModel:
    return LinearTextModel(
        name="toxicity",
        version="toxicity-2026.01.02",
        attributes=["TOXICITY", "INSULT"][: coefficients.shape[0]],
        features=FEATURES,
        coefficients=coefficients,
        intercepts=intercepts,
    )


def test_it_scores_one_text_like_a_batch() -> None:
    rng = np.random.default_rng(7)
    model = model_with(rng.normal(size=(2, 192)).astype(np.float32), np.array([0.3, -0.2]))
    texts = ["alice is kind", "bob is a clown", "", "ＡＬＩＣＥ"]  # noqa: RUF001 (look-alike letters on purpose)
    batch = model.score_many(texts)
    for text, expected in zip(texts, batch, strict=True):
        single = model.score(text)
        assert single.keys() == {"TOXICITY", "INSULT"}
        assert single == pytest.approx(expected)


def test_it_returns_the_intercept_probability_for_empty_text() -> None:
    model = model_with(np.ones((1, 192), dtype=np.float32), np.array([0.0]))
    assert model.score("") == {"TOXICITY": 0.5}


def test_it_returns_no_rows_for_no_texts() -> None:
    model = model_with(np.ones((1, 192), dtype=np.float32), np.array([0.0]))
    assert model.probabilities([]).shape == (0, 1)
    assert model.score_many([]) == []


def test_it_refuses_coefficients_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        model_with(np.ones((1, 100), dtype=np.float32), np.array([0.0]))


def test_it_scales_scores_and_explanation_weights_by_the_calibration() -> None:
    from ml.model import Calibration

    rng = np.random.default_rng(3)
    raw = model_with(rng.normal(size=(2, 192)).astype(np.float32), np.array([0.3, -0.2]))
    calibrated = raw.recalibrated(Calibration(slopes=np.array([2.0, 0.5]), intercepts=np.array([-1.0, 0.25])))
    text = "bob is a clown and alice is kind"
    raw_logits = raw.decision_values(raw.features.matrix([text]))[0]
    expected = 1 / (1 + np.exp(-(np.array([2.0, 0.5]) * raw_logits + np.array([-1.0, 0.25]))))
    assert list(calibrated.score(text).values()) == pytest.approx(expected.tolist())
    assert calibrated.probabilities([text])[0] == pytest.approx(expected)
    raw_spans, calibrated_spans = raw.explain(text, top=20), calibrated.explain(text, top=20)
    for attribute, slope in (("TOXICITY", 2.0), ("INSULT", 0.5)):
        assert [s["text"] for s in calibrated_spans[attribute]] == [s["text"] for s in raw_spans[attribute]]
        for before, after in zip(raw_spans[attribute], calibrated_spans[attribute], strict=True):
            assert after["weight"] == pytest.approx(slope * before["weight"], abs=1e-3)


def test_it_undoes_a_calibration_exactly_enough_to_recover_the_raw_weights() -> None:
    from ml.model import Calibration

    rng = np.random.default_rng(5)
    raw = model_with(rng.normal(size=(1, 192)).astype(np.float32), np.array([0.3]))
    back = raw.recalibrated(Calibration(np.array([1.7]), np.array([-0.4]))).recalibrated(Calibration.identity(1))
    assert back.calibration.is_identity
    assert back.coefficients == pytest.approx(raw.coefficients, rel=1e-6)
    assert back.intercepts == pytest.approx(raw.intercepts)


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan")])
def test_it_refuses_a_calibration_that_is_not_increasing(slope: float) -> None:
    from ml.model import Calibration

    with pytest.raises(ValueError, match="positive"):
        Calibration(slopes=np.array([slope]), intercepts=np.array([0.0]))
