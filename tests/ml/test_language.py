from ml.language import detect_language, text_script


def test_it_names_the_script_most_letters_are_in_and_the_first_one_on_a_tie() -> None:
    assert text_script("ab где") == "Cyrl"
    assert text_script("abc где") == "Latn"  # three letters each: the first script to come
    assert text_script("где abc") == "Cyrl"
    assert text_script("Ωμέγα, ab!") == "Grek"
    assert text_script("123 👍 ...") == ""


def test_it_gives_no_language_to_a_text_with_fewer_than_three_letters() -> None:
    assert (detect_language("ab 👍 12").code, detect_language("ab 👍 12").script) == ("", "Latn")
    assert detect_language("Thanks for the article, I learned a lot about the new bridge.").code == "en"
    serbian = detect_language("Хвала на чланку, веома информативно и добро написано.")
    assert (serbian.code, serbian.script) == ("sr", "Cyrl")
