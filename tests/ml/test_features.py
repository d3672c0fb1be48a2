import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.features import FeatureSpec, HashedTextFeatures, NgramBlock

SPEC = FeatureSpec(blocks=(NgramBlock("word", 1, 2, 1024), NgramBlock("char_wb", 2, 4, 2048)))
FEATURES = HashedTextFeatures(SPEC)


def fast_path_row(text: str) -> dict[int, float]:
    return {int(column): value for indices, value in FEATURES.active_features(text) for column in indices}


def matrix_row(text: str) -> dict[int, float]:
    row = FEATURES.matrix([text])
    return dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_it_gives_the_same_row_on_the_fast_path_as_the_hashing_vectoriser(text: str) -> None:
    expected = matrix_row(text)
    actual = fast_path_row(text)
    assert actual.keys() == expected.keys()
    for column, value in expected.items():
        assert actual[column] == pytest.approx(value)


def test_it_normalises_before_hashing() -> None:
    assert fast_path_row("ＩＤＩＯＴ\u200b") == fast_path_row("idiot")  # noqa: RUF001 (look-alike letters on purpose)


def test_it_puts_blocks_side_by_side() -> None:
    matrix = FEATURES.matrix(["hello there", "general kenobi"])
    assert matrix.shape == (2, 1024 + 2048)
    assert (matrix[:, :1024].nnz > 0) and (matrix[:, 1024:].nnz > 0)
    block_norms = [np.linalg.norm(matrix[0, :1024].toarray()), np.linalg.norm(matrix[0, 1024:].toarray())]
    assert block_norms == pytest.approx([1.0, 1.0])


def test_it_gives_an_empty_row_for_empty_text() -> None:
    assert FEATURES.matrix([""]).nnz == 0
    assert FEATURES.active_features("   ") == []


def test_it_round_trips_the_spec_through_json() -> None:
    assert FeatureSpec.from_json(SPEC.to_json()) == SPEC


@pytest.mark.parametrize(
    "block",
    [
        {"analyzer": "sentence", "ngram_range": [1, 2], "n_features": 16},
        {"analyzer": "word", "ngram_range": [2, 1], "n_features": 16},
        {"analyzer": "word", "ngram_range": [1, 2], "n_features": 0},
        {"analyzer": "word", "ngram_range": [1, 2], "n_features": 16, "token_pattern": r"\S+"},
    ],
)
def test_it_refuses_a_bad_block(block: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FeatureSpec.from_json({"blocks": [block]})


def test_it_refuses_a_spec_from_another_normalisation_version() -> None:
    with pytest.raises(ValueError, match="normalisation version"):
        HashedTextFeatures(FeatureSpec(blocks=SPEC.blocks, normalisation_version=0))
