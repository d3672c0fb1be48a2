import pytest

from moderation.compat.languages import language_detect, sentence_spans


@pytest.mark.parametrize(
    ("text", "languages"),
    [
        ("This is not what the article said, and you know it.", ["en"]),
        ("Das ist nicht richtig, und das weißt du auch.", ["de"]),
        ("Ce n'est pas vrai et vous le savez.", ["fr"]),
        ("No es verdad y lo sabes, pero está bien.", ["es"]),
        ("Isso não é verdade e você sabe.", ["pt"]),
        ("Это неправда, и ты это знаешь.", ["ru"]),
        ("Хвала на чланку, веома информативно.", ["sr"]),
        ("Благодаря за статията, беше много информативна.", ["bg"]),
        ("Ви благодарам за статијата, многу информативна.", ["mk"]),
        ("Faleminderit për artikullin, shumë informues.", ["sq"]),
        ("Це неправда, \u0456 ти це зна\u0454ш.", ["uk"]),
        ("これは本当ではありません。", ["ja"]),
        ("这不是真的。", ["zh"]),
        ("123 :) 😀", []),
        ("", []),
    ],
)
def test_it_guesses_the_language(text, languages):
    assert language_detect(text) == languages


def test_it_splits_sentences_with_offsets_into_the_text():
    text = "  Good point. You idiot!!  Why?\nNo end"
    spans = sentence_spans(text)
    assert [text[begin:end] for begin, end in spans] == ["Good point.", "You idiot!!", "Why?", "No end"]


def test_it_finds_no_sentence_in_blank_text():
    assert sentence_spans(" \n ") == []
