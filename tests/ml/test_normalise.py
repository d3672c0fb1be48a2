import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from ml.normalise import normalise_text

TRICKY = [
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\u00ad",  # soft hyphen
    "\ufeff",  # byte-order mark
    "\u202e",  # right-to-left override
    "\u0301",  # combining acute
    "\u0345",  # combining ypogegrammeni, case-folds to iota
    "\u030c",
    "\u01f0",
    "\u1e9e",  # capital sharp s
    "\ufb01",  # fi ligature
    "\uff21",  # full-width A
    "\u2126",  # ohm sign
    "\u00a0",
    "\u3000",
    "\t",
    "\n",
    " ",
    "a",
    "J",
    "I",
    "\u0130",
]


def test_it_folds_full_width_and_mathematical_letters_and_case() -> None:
    assert normalise_text("ＨＥＬＬＯ 𝐟𝐚𝐧𝐜𝐲 Straße") == "hello fancy strasse"  # noqa: RUF001 (look-alike letters on purpose)


def test_it_removes_zero_width_and_other_format_characters() -> None:
    assert normalise_text("\ufeffi\u200bd\u200di\u00adot\u202e") == "idiot"


def test_it_collapses_and_strips_whitespace() -> None:
    assert normalise_text("  a \t\n b\u00a0\u3000c  ") == "a b c"


def test_it_leaves_plain_lower_case_text_alone() -> None:
    assert normalise_text("thanks for the article") == "thanks for the article"


def test_it_returns_nfkc_text() -> None:
    text = normalise_text("e\u0301\u200b\u0301 \ufb01")
    assert unicodedata.is_normalized("NFKC", text)


@given(st.text())
def test_it_is_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


@given(st.lists(st.sampled_from(TRICKY), max_size=12).map("".join))
def test_it_is_idempotent_on_format_characters_and_combining_marks(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once
