import pytest

from moderation.rules import blocked_words_found, email_domain, links_count, word_list_parse


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("no links here, e.g. i.e. etc.", 0),
        ("see https://example.org/a and http://x.y/z", 2),
        ("visit www.cheap-pills.example or bit.ly/abc now", 2),
        ("mail me at spam.com please", 1),
    ],
)
def test_it_counts_links(text, count):
    assert links_count(text) == count


def test_it_starts_a_bare_domain_only_where_a_run_of_its_letters_starts():
    from moderation.rules import LINK

    # Trying every position inside "a-a-a-..." made the search quadratic (1.2 s at 20,000 characters).
    assert [match.span() for match in LINK.finditer("a-a-a-a.com")] == [(0, 11)]
    assert LINK.search("x" + "-a" * 10_000) is None
    assert links_count("a-" * 10_000 + "a.com and " + "b." * 5_000 + "org") == 2


def test_it_parses_word_lists_one_per_line_or_comma():
    assert word_list_parse("idiot\n\n moron , clown\nidiot") == ("idiot", "moron", "clown")


def test_it_matches_blocked_words_on_word_boundaries_only():
    blocked = ("cunt", "ass")
    assert blocked_words_found("I grew up in Scunthorpe, a fine town.", blocked=blocked) == ()
    assert blocked_words_found("What a classic assessment.", blocked=blocked) == ()
    assert blocked_words_found("You ASS.", blocked=blocked) == ("ass",)


def test_it_matches_phrases_and_folds_width_and_case():
    assert blocked_words_found("\uff22\uff55\uff59 \uff2e\uff2f\uff37 cheap", blocked=("buy now",)) == ("buy now",)


def test_it_ignores_blocked_words_inside_allowed_phrases():
    found = blocked_words_found(
        "The Dick Whittington panto was great", blocked=("dick",), allowed=("dick whittington",)
    )
    assert found == ()
    assert blocked_words_found("what a dick", blocked=("dick",), allowed=("dick whittington",)) == ("dick",)


def test_it_finds_the_domain_of_an_email():
    assert email_domain("Bob@Mail.Example.ORG ") == "mail.example.org"
