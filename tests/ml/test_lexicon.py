# ruff: noqa: RUF001 (non-Latin letters such as Turkish dotless i are this module's subject)
import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from ml import features
from ml.lexicon import CATEGORIES, LEXICON_PATH, PRECEDENCE, WORD_PATTERN, lexicon_sha256, load_lexicon, switch_terms
from ml.normalise import normalise_text

DEEP = [
    "en", "de", "fr", "es", "it", "pt", "nl", "tr", "pl", "ru", "bg", "sr", "hr", "bs", "mk", "sq", "uk", "ro", "el",
]  # fmt: skip
SHALLOW = ["sv", "da", "no", "fi", "cs", "hu", "ar", "hi", "id", "ko", "zh", "ja"]

# Neutral words for identity groups: they must never be listed, whole or as a token of a phrase.
NEUTRAL_IDENTITY_WORDS = [
    # English
    "gay", "gays", "lesbian", "jew", "jews", "jewish", "muslim", "muslims", "islam", "christian", "black",
    "white", "asian", "arab", "arabs", "woman", "women", "immigrant", "immigrants", "refugee", "refugees",
    "trans", "transgender", "disabled", "roma", "mexican", "african",
    # German, French, Spanish, Italian, Portuguese, Dutch
    "schwul", "schwule", "jude", "juden", "frau", "frauen", "ausländer", "flüchtling", "flüchtlinge", "türke",
    "juif", "juifs", "musulman", "noir", "noirs", "arabe", "femme", "homosexuel",
    "judío", "musulmán", "negro", "mujer", "inmigrante", "gitano",
    "ebreo", "musulmano", "donna", "straniero", "zingaro",
    "judeu", "preto", "mulher", "cigano", "homossexual",
    "homo", "jood", "moslim", "vrouw", "marokkaan",
    # Turkish, Polish, Russian, Nordic, others
    "yahudi", "kürt", "ermeni", "suriyeli", "zenci", "çingene", "kadın",
    "żyd", "murzyn", "cygan", "kobieta", "еврей", "мусульманин", "негр", "гей", "женщина",
    "bög", "homse", "zigenare", "cikán", "țigan", "cigány", "mustalainen",
    "黑人", "同性恋", "穆斯林", "게이", "흑인", "ユダヤ人", "ホモ",
]  # fmt: skip

CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u4e00-\u9fff\uac00-\ud7af]")


def raw_lexicon() -> dict[str, Any]:
    return json.loads(LEXICON_PATH.read_text(encoding="utf-8"))


def all_entries() -> list[tuple[str, str, str]]:
    return [
        (language, category, term)
        for language, block in raw_lexicon()["languages"].items()
        for category, terms in block.items()
        for term in terms
    ]


def write(tmp_path: Path, languages: dict[str, Any], categories: list[str] | None = None) -> Path:
    path = tmp_path / "lexicon.json"
    document = {"version": 1, "description": "test", "categories": categories or list(CATEGORIES)}
    document["languages"] = languages
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_it_loads_the_shipped_lexicon() -> None:
    lexicon = load_lexicon()
    assert lexicon.version == 1
    assert lexicon.categories == CATEGORIES == ("insult", "profanity", "slur", "threat")
    assert len(lexicon.terms) > 1500
    assert set(lexicon.terms.values()) == set(CATEGORIES)
    assert lexicon.sha256 == lexicon_sha256() == hashlib.sha256(LEXICON_PATH.read_bytes()).hexdigest()


def test_it_has_the_exact_categories_in_every_language() -> None:
    document = raw_lexicon()
    assert document["categories"] == ["insult", "profanity", "slur", "threat"]
    assert set(PRECEDENCE) == set(CATEGORIES)
    for language, block in document["languages"].items():
        assert list(block) == list(CATEGORIES), language
        assert all(block[category] for category in CATEGORIES), language


def test_it_covers_the_languages_with_the_promised_depth() -> None:
    languages = raw_lexicon()["languages"]
    assert sorted(languages) == sorted(DEEP + SHALLOW)
    for language, block in languages.items():
        count = sum(len(terms) for terms in block.values())
        # The readers' languages list their insults in every inflected form (matching is by whole
        # word): Serbian and German carry the most.
        low, high = (80, 800) if language in DEEP else (20, 80)
        assert low <= count <= high, (language, count)


def test_it_stores_every_term_as_a_normalised_form_of_one_or_two_tokens() -> None:
    for language, category, term in all_entries():
        assert normalise_text(term) == term, (language, category, term)
        tokens = re.findall(WORD_PATTERN, term)
        assert 1 <= len(tokens) <= 2, (language, category, term)
        assert " ".join(tokens) == term, (language, category, term)


def test_it_uses_the_token_pattern_of_the_word_blocks() -> None:
    assert WORD_PATTERN == features.WORD_PATTERN


def test_it_keeps_every_list_sorted_and_free_of_duplicates() -> None:
    for language, block in raw_lexicon()["languages"].items():
        seen: set[str] = set()
        for category, terms in block.items():
            assert terms == sorted(terms), (language, category)
            assert not seen & set(terms), (language, category, seen & set(terms))
            seen |= set(terms)


def test_it_has_no_very_short_terms() -> None:
    for language, category, term in all_entries():
        letters = term.replace(" ", "")
        shortest = 2 if CJK.search(term) else 3
        assert len(letters) >= shortest, (language, category, term)
        assert all(unicodedata.category(char)[0] in "LM" or char == " " for char in term), term


def test_it_lists_no_neutral_identity_word() -> None:
    neutral = {normalise_text(word) for word in NEUTRAL_IDENTITY_WORDS}
    for language, category, term in all_entries():
        assert term not in neutral, (language, category, term)
        assert not set(term.split()) & neutral, (language, category, term)


@pytest.mark.parametrize(
    ("term", "categories"),
    [
        ("idiot", {"insult"}),
        ("vollidiot", {"insult"}),
        ("arschloch", {"insult", "profanity"}),
        ("arschlöcher", {"insult", "profanity"}),
        ("drecksack", {"insult"}),
        ("gilipollas", {"insult"}),
        ("imbéciles", {"insult"}),
        ("stronzo", {"insult"}),
        ("stronzi", {"insult"}),
        ("coglione", {"insult"}),
        ("aptal", {"insult"}),
        ("gerizekalı", {"insult"}),
        ("orospu", {"insult", "profanity"}),
        ("kurwa", {"profanity"}),
        ("fuck", {"profanity"}),
        ("scheisse", {"profanity"}),
        ("nigger", {"slur"}),
        ("schwuchtel", {"slur"}),
        ("kill you", {"threat"}),
        ("umbringen", {"threat"}),
        ("te mato", {"threat"}),
        ("ammazzo", {"threat"}),
        ("идиот", {"insult"}),
        ("傻逼", {"insult"}),
        # Inflected forms and compounds, listed one by one (terms match whole words).
        ("verficktes", {"profanity"}),
        ("hirnloser", {"insult"}),
        ("Scheißwetter", {"profanity"}),
        ("šiptarima", {"slur"}),
        ("siptari", {"slur"}),  # typed without diacritics: "š" would be "sh"
        ("balijama", {"slur"}),
        ("кретене", {"insult"}),
        ("тъпаците", {"insult"}),
        ("budallenjtë", {"insult"}),
        ("μαλάκες", {"insult"}),
        ("prostule", {"insult"}),
        ("orospular", {"insult"}),
    ],
)
def test_it_spot_checks_well_known_terms(term: str, categories: set[str]) -> None:
    assert load_lexicon().terms.get(normalise_text(term)) in categories


def test_it_leaves_out_ordinary_words_of_covered_languages() -> None:
    terms = load_lexicon().terms
    # German "dick" (thick), French "retard" (delay), Nordic "slut" (end), Italian "bimbo" (child),
    # Dutch "huren" (to rent), Danish "kys" (kiss), Swedish "fick" (got), Spanish "curva" (curve).
    for word in ["dick", "retard", "slut", "bimbo", "huren", "kys", "fick", "curva", "gay", "hell", "ass"]:
        assert word not in terms, word
    # Terms that become another language's ordinary word once normalised: a Russian obscenity and Turkish
    # "göt" and "piç" read as English "her", "got" and "pic"; Polish "dupa" as Romanian "după" (after),
    # Indonesian "banci" as Romanian "bănci" (banks); Russian "durak" (fool) as Turkish "durak" (bus
    # stop), "dura" as Spanish and Italian "dura"; Turkish "ezik" as Bulgarian and Macedonian "ezik"
    # (language); Spanish "hdp" is a Turkish party and "fdp" a German one; Czech "negri" is Romanian's
    # neutral word; Polish "kanalia" reads as Greek "kanalia" (channels); English "twit" is Turkish for
    # a tweet; German "näher" (closer), "höre" (hear) and "hach" came from Russian and Norwegian terms;
    # Russian "даун" is the Bulgarian and Macedonian "синдром на Даун" (Down syndrome); Serbian
    # "pobiti" also means to refute, Bulgarian "педал" is English "pedal", Romanian "prostii" nonsense.
    for word in [
        "her", "got", "pic", "dupa", "banci", "durak", "dura", "ezik", "hdp", "negri", "kanalia", "twit",
        "naher", "hore", "hach", "fdp", "daun", "pobiti", "pedal", "prostii",
    ]:  # fmt: skip
        assert word not in terms, word


def test_it_keeps_the_first_category_in_precedence_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "en": {"insult": ["zork"], "profanity": ["blap", "zork"], "slur": [], "threat": ["blap"]},
            "de": {"insult": ["blap"], "slur": ["zork"]},
        },
    )
    assert load_lexicon(path).terms == {"zork": "slur", "blap": "threat"}


def test_it_rejects_an_unknown_category(tmp_path: Path) -> None:
    path = write(tmp_path, {"de": {"insult": ["trottel"], "rudeness": ["doof"]}})
    with pytest.raises(ValueError, match=r"language 'de' has unknown category 'rudeness'"):
        load_lexicon(path)
    path = write(tmp_path, {"de": {"insult": ["trottel"]}}, categories=["insult", "rudeness"])
    with pytest.raises(ValueError, match=r"unknown category 'rudeness'"):
        load_lexicon(path)


@pytest.mark.parametrize("term", ["Idiot", "scheiße", "stuuupid", "1d10t", " idiot", "kill  you"])
def test_it_rejects_a_term_that_normalise_text_would_change(tmp_path: Path, term: str) -> None:
    path = write(tmp_path, {"de": {"profanity": [term]}})
    with pytest.raises(ValueError, match="not a fixed point of normalise_text") as error:
        load_lexicon(path)
    assert "language 'de', category 'profanity'" in str(error.value)
    assert repr(term) in str(error.value)


def test_it_rejects_a_term_of_three_words(tmp_path: Path) -> None:
    path = write(tmp_path, {"en": {"threat": ["kill you", "i will kill"]}})
    with pytest.raises(ValueError, match=r"language 'en', category 'threat': term 'i will kill' has 3 tokens"):
        load_lexicon(path)


@pytest.mark.parametrize("term", ["t'es", "foda-se", "idiot!", ""])
def test_it_rejects_a_term_that_is_not_plain_tokens(tmp_path: Path, term: str) -> None:
    path = write(tmp_path, {"fr": {"insult": [term]}})
    with pytest.raises(ValueError, match=r"language 'fr', category 'insult'"):
        load_lexicon(path)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({"version": "1", "categories": ["insult"], "languages": {"en": {}}}, "'version' must be"),
        ({"version": 1, "categories": "insult", "languages": {"en": {}}}, "'categories' must be"),
        ({"version": 1, "categories": ["insult"], "languages": []}, "'languages' must be"),
        ({"version": 1, "categories": ["insult"], "languages": {"en": ["idiot"]}}, "language 'en' must map"),
        ({"version": 1, "categories": ["insult"], "languages": {"en": {"insult": "idiot"}}}, "must be a list"),
        ({"version": 1, "categories": ["insult"], "languages": {"en": {}}, "extra": 1}, "unknown top-level"),
    ],
)
def test_it_rejects_a_file_of_the_wrong_shape(tmp_path: Path, document: Any, message: str) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_lexicon(path)


def test_it_rejects_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    path.write_bytes(b"\xff{not json")
    with pytest.raises(ValueError, match="not a UTF-8 JSON document"):
        load_lexicon(path)


def test_it_fingerprints_the_file_bytes(tmp_path: Path) -> None:
    first = write(tmp_path, {"en": {"insult": ["idiot"]}})
    digest = load_lexicon(first).sha256
    assert digest == hashlib.sha256(first.read_bytes()).hexdigest() == lexicon_sha256(first)
    first.write_text(first.read_text(encoding="utf-8").replace("idiot", "moron"), encoding="utf-8")
    assert load_lexicon(first).sha256 != digest


def test_it_switches_terms_for_others_of_their_category() -> None:
    terms = {"idiot": "insult", "gilipollas": "insult", "kill you": "threat", "te mato": "threat"}
    copies = {switch_terms("You IDIOT, I will kill you!", terms, seed=seed) for seed in range(20)}
    # Each term is swapped for one of its category (itself included), the rest of the text kept.
    assert copies <= {
        f"you {insult}, i will {threat}!" for insult in ("idiot", "gilipollas") for threat in ("kill you", "te mato")
    }
    assert len(copies) > 1
    assert switch_terms("You IDIOT, I will kill you!", terms, seed=7) == switch_terms(
        "You IDIOT, I will kill you!", terms, seed=7
    )
    assert switch_terms("you idiot \ud800", terms, seed=7).endswith("\ud800")  # lone surrogates survive


def test_it_leaves_a_text_without_terms_as_normalised() -> None:
    assert switch_terms("Thanks for the ARTICLE", {"idiot": "insult"}, seed=1) == "thanks for the article"
    # "skill you" holds no term: whole words only.
    assert switch_terms("skill you", {"kill you": "threat", "kill": "threat"}, seed=1) == "skill you"


def test_it_drops_terms_with_a_neutral_identity_word_when_normalising_a_document() -> None:
    from ml.lexicon import normalise_document

    document = {"languages": {"en": {"slur": ["dirty muslims", "shiptars", "Идиот"], "insult": []}}}
    assert normalise_document(document)["languages"]["en"] == {"slur": ["idiot", "shiptars"], "insult": []}
