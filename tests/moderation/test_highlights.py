# ruff: noqa: RUF001 (Cyrillic words on purpose)
import pytest

from moderation.highlights import carries_weight, spans_worth_highlighting


@pytest.mark.parametrize("text", [",", "!!", " ", "a", "up", "my", "My", "the", "s", "up my", "…"])
def test_it_drops_punctuation_single_letters_and_function_words(text):
    assert not carries_weight(text)


@pytest.mark.parametrize("text", ["idiot", "die", "kill", "trash", "up yours idiot", "$5000", "viagra"])
def test_it_keeps_words_that_can_carry_an_insult_a_threat_or_spam(text):
    assert carries_weight(text)


def test_it_knows_the_function_words_of_the_comment_s_language_as_well_as_english():
    assert not carries_weight("на", language="bg") and not carries_weight("је", language="sr")
    assert not carries_weight("je", language="hr") and not carries_weight("dhe", language="sq")
    assert carries_weight("budala", language="sr") and carries_weight("идиот", language="bg")
    assert not carries_weight("the", language="sr")  # English inside a Serbian comment
    assert carries_weight("die", language="en") and not carries_weight("die", language="de")


def test_it_keeps_the_spans_that_carry_weight_in_order():
    spans = [{"text": "idiot", "weight": 1.2}, {"text": ",", "weight": 0.3}, {"text": "up", "weight": 0.2}]
    assert spans_worth_highlighting(spans) == [{"text": "idiot", "weight": 1.2}]
