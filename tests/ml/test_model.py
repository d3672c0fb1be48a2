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
