import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer

from ml.hashing import TextBatch, columns, term_hash

WORD = r"(?u)\b\w+\b"
WORDS = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=WORD, lowercase=False)
texts_strategy = st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), min_size=1, max_size=6)


def located(texts: list[str], kind: str) -> list[Counter[str]]:
    batch = TextBatch(texts, positions=True)
    per_text: list[Counter[str]] = [Counter() for _ in texts]
    if kind == "word":
        found = batch.word_ngrams(1, 2)
        for text, begin, end in zip(found.text.tolist(), found.begin.tolist(), found.end.tolist(), strict=True):
            # scikit-learn joins the words of an n-gram with one space.
            per_text[text][" ".join(re.findall(WORD, texts[text][begin:end]))] += 1
        return per_text
    for n in (2, 3, 4):
        found = batch.char_wb_ngrams(n, n)
        for text, begin, end in zip(found.text.tolist(), found.begin.tolist(), found.end.tolist(), strict=True):
            per_text[text][f"{n}:{texts[text][begin:end]}"] += 1
    return per_text


def sklearn_ngrams(text: str, kind: str) -> Counter[str]:
    if kind == "word":
        return Counter(WORDS.build_analyzer()(text))
    found: Counter[str] = Counter()
    for n in (2, 3, 4):
        # Located n-grams leave the padding spaces out; scikit-learn also emits a word shorter than
        # ``n`` whole, which the hashing leaves to the shorter n-grams.
        analyser = HashingVectorizer(analyzer="char_wb", ngram_range=(n, n), lowercase=False).build_analyzer()
        found.update(f"{n}:{ngram.strip(' ')}" for ngram in analyser(text) if len(ngram) == n)
    return found


@settings(max_examples=150)
@given(st.lists(st.text(alphabet="ab cd_é東\u00a0!1", max_size=30), min_size=1, max_size=5))
def test_it_finds_the_same_word_and_character_ngrams_as_scikit_learn(texts: list[str]) -> None:
    # Single spaces between words, as normalised text has them.
    texts = [" ".join(text.split()) for text in texts]
    for kind in ("word", "char"):
        assert located(texts, kind) == [sklearn_ngrams(text, kind) for text in texts]


@settings(max_examples=150)
@given(texts_strategy)
def test_it_hashes_a_text_the_same_alone_and_in_a_batch(texts: list[str]) -> None:
    together = TextBatch(texts).char_wb_ngrams(2, 4)
    words_together = TextBatch(texts).word_ngrams(1, 2)
    for index, text in enumerate(texts):
        alone = TextBatch([text]).char_wb_ngrams(2, 4)
        assert sorted(together.hashes[together.text == index].tolist()) == sorted(alone.hashes.tolist())
        words_alone = TextBatch([text]).word_ngrams(1, 2)
        assert sorted(words_together.hashes[words_together.text == index].tolist()) == sorted(
            words_alone.hashes.tolist()
        )


def test_it_gives_one_ngram_one_hash_and_different_ngrams_different_hashes() -> None:
    found = TextBatch(["idiot", "you idiot"], positions=True).word_ngrams(1, 1)
    by_word = {
        ("idiot", "you idiot")[t][b:e]: h
        for t, b, e, h in zip(found.text, found.begin, found.end, found.hashes, strict=True)
    }
    first = found.hashes[(found.text == 0)][0]
    assert by_word["idiot"] == first
    assert by_word["you"] != first


def test_it_matches_a_term_hash_to_its_word_run() -> None:
    runs = dict(TextBatch(["i will kill you now"]).word_runs(1, 2))
    assert term_hash("kill you") in runs[2].hashes.tolist()
    assert term_hash("kill") in runs[1].hashes.tolist()
    assert term_hash("kill you") not in runs[1].hashes.tolist()
    with pytest.raises(ValueError, match="no word"):
        term_hash("!!")


def test_it_keeps_words_of_neighbouring_texts_apart() -> None:
    found = TextBatch(["you", "idiot"]).word_ngrams(2, 2)
    assert len(found.hashes) == 0


def test_it_handles_empty_texts_and_lone_surrogates() -> None:
    found = TextBatch(["", "ab", "", "\ud800x"], positions=True).char_wb_ngrams(2, 2)
    assert sorted(found.text.tolist()) == [1, 1, 1, 3, 3, 3]


def test_it_spreads_columns_over_a_power_of_two() -> None:
    hashes = TextBatch([f"word{index}" for index in range(2000)]).word_ngrams(1, 1).hashes
    used = columns(hashes, 1024)
    assert used.min() >= 0 and used.max() < 1024
    assert len(np.unique(used)) > 800  # 2000 words over 1024 columns: a few collisions, not a pile-up
    with pytest.raises(ValueError, match="power of two"):
        columns(hashes, 1000)


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_it_hashes_one_normalised_text_in_python_as_the_batch_does(text: str) -> None:
    from ml.hashing import char_wb_hashes, word_hashes, word_ngram_hashes
    from ml.normalise import normalise_text

    normalised = normalise_text(text)
    batch = TextBatch([normalised])
    assert sorted(char_wb_hashes(normalised, 2, 4).tolist()) == sorted(batch.char_wb_ngrams(2, 4).hashes.tolist())
    words = word_hashes(normalised)
    assert [value for _, value in words] == batch.tokens().hashes.tolist()
    assert sorted(word_ngram_hashes(words, 1, 2)) == sorted(batch.word_ngrams(1, 2).hashes.tolist())
