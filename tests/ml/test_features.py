import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.features import (
    FeatureSpec,
    HashedTextFeatures,
    LexiconBlock,
    NgramBlock,
    ngram_occurrences,
    quoted_spans,
)
from ml.hashing import TextBatch
from ml.normalise import normalise_many, normalise_text

NGRAMS = (NgramBlock("word", 1, 2, 1024), NgramBlock("char_wb", 2, 4, 2048))
LEXICON = LexiconBlock(
    categories=("insult", "threat"),
    terms=(("idiot", "insult"), ("kill you", "threat"), ("moron", "insult")),
)
SPEC = FeatureSpec(blocks=(*NGRAMS, LEXICON))
FEATURES = HashedTextFeatures(SPEC)


def fast_path_row(features: HashedTextFeatures, text: str) -> dict[int, float]:
    row: dict[int, float] = {}
    for indices, value in features.active_features(text):
        for column in indices.tolist():
            row[column] = row.get(column, 0.0) + value
    return row


def matrix_row(features: HashedTextFeatures, text: str) -> dict[int, float]:
    row = features.matrix([text])
    return dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))


@settings(max_examples=200, deadline=None)  # a correctness property; a loaded machine makes one example slow
@given(st.text(max_size=80))
def test_it_gives_the_same_row_on_the_fast_path_as_in_the_matrix(text: str) -> None:
    expected = matrix_row(FEATURES, text)
    actual = fast_path_row(FEATURES, text)
    assert actual.keys() == expected.keys()
    for column, value in expected.items():
        assert actual[column] == pytest.approx(value)


@settings(max_examples=100)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=8))
def test_it_gives_a_text_the_same_row_alone_and_in_a_batch(texts: list[str]) -> None:
    together = FEATURES.matrix(texts)
    for index, text in enumerate(texts):
        assert (together[index] != FEATURES.matrix([text])).nnz == 0


def test_it_computes_the_linear_logits_of_the_matrix_without_it() -> None:
    texts = ["you idiot", "", "thanks for the article", "idiot idiot, i will kill you"]
    coefficients = np.random.default_rng(3).normal(size=(2, FEATURES.n_features)).astype(np.float32)
    expected = FEATURES.matrix(texts) @ coefficients.T.astype(np.float64)
    batch = FEATURES.linear_logits(TextBatch(normalise_many(texts)), np.ascontiguousarray(coefficients.T))
    assert np.allclose(batch, expected, atol=1e-5)


def test_it_normalises_before_hashing() -> None:
    assert fast_path_row(FEATURES, "ＩＤＩＯＴ\u200b") == fast_path_row(FEATURES, "idiot")  # noqa: RUF001 (look-alikes on purpose)


def test_it_puts_blocks_side_by_side_with_a_unit_value_per_occurrence_count() -> None:
    matrix = FEATURES.matrix(["hello there", "general kenobi"])
    assert matrix.shape == (2, 1024 + 2048 + 2)
    words = matrix[0, :1024].toarray()
    assert words.sum() == pytest.approx(3 / np.sqrt(3))  # hello, there, hello there
    assert matrix[:, 1024:3072].nnz > 0
    assert matrix[:, 3072:].nnz == 0


def test_it_sets_a_lexicon_category_once_for_words_and_phrases() -> None:
    matrix = FEATURES.matrix(["you idiot, you m.o.r.o.n", "I will kill you", "the idiotic plan", "skill you have"])
    lexicon = matrix[:, 3072:].toarray()
    assert lexicon.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]


def test_it_locates_lexicon_hits_for_explanations() -> None:
    text = normalise_text("idiot and moron")
    lexicon_hits = [
        (text[begin:end], value) for column, begin, end, value in ngram_occurrences(FEATURES, text) if column == 3072
    ]
    assert sorted(lexicon_hits) == [("idiot", 0.5), ("moron", 0.5)]


@settings(max_examples=100)
@given(st.text(max_size=60))
def test_it_shares_each_row_value_among_its_occurrences(text: str) -> None:
    normalised = normalise_text(text)
    totals: dict[int, float] = {}
    for column, _, _, value in ngram_occurrences(FEATURES, normalised):
        totals[column] = totals.get(column, 0.0) + value
    expected = matrix_row(FEATURES, text)
    assert totals.keys() == expected.keys()
    for column, value in expected.items():
        assert totals[column] == pytest.approx(value)


def test_it_gives_an_empty_row_for_empty_text() -> None:
    assert FEATURES.matrix([""]).nnz == 0
    assert FEATURES.active_features("   ") == []
    assert FEATURES.matrix([]).shape == (0, FEATURES.n_features)


def test_it_round_trips_the_spec_through_json() -> None:
    assert FeatureSpec.from_json(SPEC.to_json()) == SPEC


def test_it_reads_the_lexicon_named_by_a_training_config() -> None:
    spec = FeatureSpec.from_json({"blocks": [{"analyzer": "lexicon", "source": "lexicon.json"}]})
    block = spec.blocks[0]
    assert isinstance(block, LexiconBlock)
    assert dict(block.terms).get("idiot") == "insult"
    assert "terms" in block.to_json()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"blocks": [{"analyzer": "sentence", "ngram_range": [1, 2], "n_features": 16}]}, "analyzer"),
        ({"blocks": [{"analyzer": "word", "ngram_range": [2, 1], "n_features": 16}]}, "ngram_range"),
        ({"blocks": [{"analyzer": "word", "ngram_range": [1, 2], "n_features": 0}]}, "n_features"),
        ({"blocks": [{"analyzer": "word", "ngram_range": [1, 2], "n_features": 16, "token_pattern": r"\S+"}]}, "token"),
        ({"blocks": [{"analyzer": "word", "ngram_range": [1, 2], "n_features": 1000}]}, "power of two"),
        ({"blocks": [{"analyzer": "char", "ngram_range": [1, 2], "n_features": 16}]}, "char_wb"),
        ({"blocks": [{"analyzer": "lexicon", "categories": ["insult"], "terms": {"x": "threat"}}]}, "categories"),
        ({"blocks": [{"analyzer": "lexicon"}]}, "source"),
        ({"hashing": "md5", "blocks": [{"analyzer": "word", "ngram_range": [1, 2], "n_features": 16}]}, "hashing"),
        # The scikit-learn hashing of the artifacts before 2026.11.28.3 went with them.
        (
            {
                "hashing": "sklearn HashingVectorizer",
                "blocks": [{"analyzer": "word", "ngram_range": [1, 2], "n_features": 16}],
            },
            "hashing",
        ),
    ],
)
def test_it_refuses_a_bad_spec(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureSpec.from_json(raw)


def test_it_refuses_a_spec_from_another_normalisation_version() -> None:
    with pytest.raises(ValueError, match="normalisation version"):
        HashedTextFeatures(FeatureSpec(blocks=NGRAMS, normalisation_version=0))


def test_it_reads_text_with_the_normalisation_version_of_its_spec() -> None:
    old = HashedTextFeatures(FeatureSpec(blocks=NGRAMS, normalisation_version=2))
    new = HashedTextFeatures(FeatureSpec(blocks=NGRAMS, normalisation_version=3))
    assert old.normalise("Срам") == "cpam"
    assert new.normalise("Срам") == "sram"
    assert (old.matrix(["Срам"]) != new.matrix(["Срам"])).nnz
    assert (new.matrix(["Срам"]) != new.matrix(["sram"])).nnz == 0


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_it_computes_one_texts_logits_as_the_batch_does(text: str) -> None:
    coefficients = np.random.default_rng(5).normal(size=(FEATURES.n_features, 3)).astype(np.float32)
    normalised = normalise_text(text)
    batch = FEATURES.linear_logits(TextBatch([normalised]), coefficients)[0]
    # The batch sums in float32 (a few 1e-8 apart), the single path in float64.
    assert FEATURES.single_logits(normalised, coefficients) == pytest.approx(batch, abs=1e-5)


def test_it_refuses_inline_lexicon_terms_the_single_text_path_could_not_match() -> None:
    for term in ("son-of-a", "dumb  ass", "Idiot"):
        with pytest.raises(ValueError, match="lexicon term"):
            FeatureSpec.from_json(
                {"blocks": [{"analyzer": "lexicon", "categories": ["insult"], "terms": {term: "insult"}}]}
            )


QUOTING = LexiconBlock(categories=LEXICON.categories, terms=LEXICON.terms, quoted=True)
QUOTING_FEATURES = HashedTextFeatures(FeatureSpec(blocks=(*NGRAMS, QUOTING)))
QUOTED_COLUMN = 1024 + 2048 + 2


def lexicon_columns(features: HashedTextFeatures, text: str) -> list[float]:
    return features.matrix([text])[:, 3072:].toarray()[0].tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He called her "idiot" on air, shameful.', [0.0, 0.0, 1.0]),
        ("Calling a colleague „moron“ is not debate.", [0.0, 0.0, 1.0]),  # German quotation marks
        ("Don't call him 'idiot' again.", [0.0, 0.0, 1.0]),
        ('You "idiot", you idiot.', [1.0, 0.0, 1.0]),  # used as well as quoted
        ("you idiot", [1.0, 0.0, 0.0]),
        ('" idiot, I will kill you "', [1.0, 1.0, 0.0]),  # the whole comment in quotation marks
        ('He wrote "you are an idiot and I will kill you" to her.', [1.0, 1.0, 0.0]),  # a quoted sentence
        ('"@user: I hate a "I\'m pregnant" type of idiot."', [1.0, 0.0, 0.0]),  # a retweet holding a quotation
    ],
)
def test_a_term_inside_a_short_quotation_counts_in_the_quoted_column(text: str, expected: list[float]) -> None:
    assert QUOTING.n_features == 3
    assert lexicon_columns(QUOTING_FEATURES, text) == expected
    assert lexicon_columns(FEATURES, text) == [max(expected[0], expected[2]), expected[1]]  # without the column


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ('he said "idiot" twice', ["idiot"]),
        ("« idiot » et « moron »", [" idiot ", " moron "]),
        ("it's the players' fault, 'idiot'", ["idiot"]),
        ('"all of it"', []),
        ('a "quotation of five whole words" here', []),
    ],
)
def test_it_finds_short_quotations_only(text: str, spans: list[str]) -> None:
    assert [text[begin:end] for begin, end in quoted_spans(text)] == spans


def test_unclosed_quotation_marks_quote_nothing() -> None:
    assert quoted_spans('"' + "a " * 20_000) == []
    assert quoted_spans("'a" * 20_000) == []


QUOTE_TEXT = st.text(alphabet=st.sampled_from(list("idotmrn kyulw\"'„“«»,.")), max_size=60)


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab \"'.\n\u201e\u201c\u201d\u00ab\u00bb\u2018\u2019\u201a\u2039\u203a")),
        max_size=40,
    )
)
def test_trying_quotations_only_at_quotation_marks_finds_what_a_full_search_finds(text: str) -> None:
    """quoted_spans tries the pattern only where a quotation mark stands; a search at every position
    (finditer) must agree, nested and overlapping marks included."""
    from ml.features import _QUOTATION, _WORD, MAX_QUOTED_WORDS

    spans = []
    for match in _QUOTATION.finditer(text):
        group = 1 if match.group(1) is not None else 2
        if len(_WORD.findall(match.group(group))) <= MAX_QUOTED_WORDS:
            spans.append((match.start(group), match.end(group)))
    gaps = zip([(0, 0), *spans], [*spans, (len(text), 0)], strict=True)
    outside = "".join(text[end:begin] for (_, end), (begin, _) in gaps)
    assert quoted_spans(text) == (spans if not spans or _WORD.search(outside) else [])


@settings(max_examples=200, deadline=None)
@given(QUOTE_TEXT)
def test_quoted_hits_are_the_same_on_every_path(text: str) -> None:
    expected = matrix_row(QUOTING_FEATURES, text)
    assert fast_path_row(QUOTING_FEATURES, text).keys() == expected.keys()
    coefficients = np.random.default_rng(5).normal(size=(QUOTING_FEATURES.n_features, 1))
    normalised = normalise_text(text)
    single = QUOTING_FEATURES.single_logits(normalised, coefficients)
    batch = QUOTING_FEATURES.linear_logits(TextBatch([normalised, "you idiot"]), coefficients)
    dense = sum(value * coefficients[column, 0] for column, value in expected.items())
    assert single[0] == pytest.approx(dense, abs=1e-9)
    assert batch[0, 0] == pytest.approx(dense, abs=1e-9)
    totals: dict[int, float] = {}
    for column, _, _, value in ngram_occurrences(QUOTING_FEATURES, normalised):
        totals[column] = totals.get(column, 0.0) + value
    assert totals.get(QUOTED_COLUMN, 0.0) == pytest.approx(expected.get(QUOTED_COLUMN, 0.0))


def test_a_quoting_block_round_trips_and_an_older_one_reads_as_before() -> None:
    spec = FeatureSpec(blocks=(*NGRAMS, QUOTING))
    assert FeatureSpec.from_json(spec.to_json()) == spec
    assert "quoted" not in SPEC.to_json()["blocks"][-1]  # an older artifact's spec, and its hash, unchanged
    with pytest.raises(ValueError, match="quoted"):
        FeatureSpec.from_json({"blocks": [{"analyzer": "lexicon", "source": "lexicon.json", "quoted": "yes"}]})
