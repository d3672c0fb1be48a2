"""The widget's texts: English in widget.js, every other language one file in i18n/, each with exactly
English's keys, the same placeholders and the plural forms of its language."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from comments.models import Comment, Site, Thread

STATIC = Path(__file__).resolve().parents[2] / "comments" / "static" / "moderato"
WIDGET = (STATIC / "widget.js").read_text()
I18N = STATIC / "i18n"


def widget_json(name: str) -> dict:
    """An object literal of widget.js written as strict JSON (``const NAME = {...};``)."""
    match = re.search(rf"^  const {name} = (\{{.*?^  \}});$", WIDGET, re.MULTILINE | re.DOTALL)
    assert match, f"const {name} not found in widget.js"
    return json.loads(match.group(1))


EN = widget_json("EN")
SERVER = widget_json("SERVER")
FILES = sorted(path.stem for path in I18N.glob("*.json"))
# CLDR's plural categories (Unicode CLDR 44, as Chromium's ICU has them; the browser test checks that).
CATEGORIES = {
    "en": {"one", "other"},
    "bg": {"one", "other"},
    "bs": {"one", "few", "other"},
    "de": {"one", "other"},
    "el": {"one", "other"},
    "es": {"one", "many", "other"},
    "fr": {"one", "many", "other"},
    "hr": {"one", "few", "other"},
    "it": {"one", "many", "other"},
    "mk": {"one", "other"},
    "pl": {"one", "few", "many", "other"},
    "ro": {"one", "few", "other"},
    "ru": {"one", "few", "many", "other"},
    "sq": {"one", "other"},
    "sr-Cyrl": {"one", "few", "other"},
    "sr-Latn": {"one", "few", "other"},
    "tr": {"one", "other"},
    "uk": {"one", "few", "many", "other"},
}


def texts(language: str) -> dict:
    return json.loads((I18N / f"{language}.json").read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{\w+\}", text))


def test_it_has_a_file_for_every_language_the_widget_names_and_no_other():
    named = re.search(r'const LANGUAGES = "([^"]+)"\.split', WIDGET)
    assert named and sorted(named.group(1).split()) == FILES
    assert set(FILES) == set(CATEGORIES) - {"en"}
    assert not (I18N / "en.json").exists()  # English is built in: its keys live in one place


@pytest.mark.parametrize("language", FILES)
def test_it_has_every_key_of_english_and_no_other(language):
    translated = texts(language)

    assert list(translated) == list(EN)
    for key, english in EN.items():
        if isinstance(english, dict):
            continue
        assert isinstance(translated[key], str) and translated[key].strip(), key
        assert placeholders(translated[key]) == placeholders(english), key
        assert translated[key] != english or key in {"name", "email"}, f"{key} left in English"


@pytest.mark.parametrize("language", ["en", *FILES])
def test_it_has_the_plural_forms_of_the_language(language):
    count = EN["count"] if language == "en" else texts(language)["count"]

    assert set(count) == CATEGORIES[language]
    assert all(placeholders(form) == {"{n}"} for form in count.values())


def test_it_keeps_the_serbian_scripts_apart_and_bosnian_and_croatian_distinct():
    latin, cyrillic = texts("sr-Latn"), texts("sr-Cyrl")
    letters = lambda text_by_key: "".join(  # noqa: E731
        re.sub(r"\{\w+\}", "", value) for value in text_by_key.values() if isinstance(value, str)
    )
    assert not re.search("[\u0400-\u04ff]", letters(latin))
    assert not re.search("[A-Za-z]", letters(cyrillic))
    assert texts("bs") != texts("hr") != texts("sr-Latn") != texts("bs")


CYRILLIC = {"bg", "mk", "ru", "sr-Cyrl", "uk"}


def words(text_by_key: dict) -> str:
    """Every text of a file, its plural forms too, without the placeholders."""
    values = [value for value in text_by_key.values() if isinstance(value, str)]
    values += [form for value in text_by_key.values() if isinstance(value, dict) for form in value.values()]
    return re.sub(r"\{\w+\}", "", " ".join(values))


@pytest.mark.parametrize("language", FILES)
def test_it_writes_each_language_in_its_own_script(language):
    """A Latin letter that looks Cyrillic (Macedonian "сè" typed with a Latin è) breaks search, spelling
    checkers and screen readers; Greek keeps "email" in Latin letters, as Greek sites write it."""
    letters = {char for char in words(texts(language)) if char.isalpha()}
    scripts = {unicodedata.name(char).split()[0] for char in letters}

    expected = {"CYRILLIC"} if language in CYRILLIC else {"GREEK", "LATIN"} if language == "el" else {"LATIN"}
    assert scripts <= expected, sorted(char for char in letters if unicodedata.name(char).split()[0] not in expected)


def test_french_keeps_its_high_punctuation_on_the_line_of_its_word():
    """French puts a space before ! ? ; and : that must not break: a narrow no-break space, or the mark
    can wrap to the start of the next line alone."""
    french = words(texts("fr"))

    assert re.findall(r"\S[!?;:]", french) == []
    assert not re.search(r"[ \t][!?;:]", french)


def cyrillic(latin: str) -> str:
    """Serbian Latin letter for letter in Cyrillic (lj, nj, dž are one letter each)."""
    pairs = {"lj": "љ", "nj": "њ", "dž": "џ", "Lj": "Љ", "Nj": "Њ", "Dž": "Џ"}
    ones = dict(
        zip(
            "abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ",
            "абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ",
            strict=True,
        )
    )
    parts = re.split(r"(\{\w+\})", latin)
    return "".join(
        part
        if part.startswith("{")
        else "".join(ones.get(c, c) for c in re.sub("lj|nj|dž|Lj|Nj|Dž", lambda m: pairs[m[0]], part))
        for part in parts
    )


def test_serbian_in_cyrillic_says_what_serbian_in_latin_says_letter_for_letter():
    latin, written = texts("sr-Latn"), texts("sr-Cyrl")

    for key, text in latin.items():
        if isinstance(text, dict):
            assert written[key] == {form: cyrillic(value) for form, value in text.items()}, key
        else:
            assert written[key] == cyrillic(text), key


@pytest.mark.django_db
def test_it_knows_the_messages_the_api_answers_for_the_fields_it_shows(api):
    """The widget translates the server's messages by their English text: these are the ones it sends."""
    site = Site.objects.create(name="Planet", public_key="planet")
    closed = Thread.objects.create(site=site, key="/closed", is_open=False)
    other = Thread.objects.create(site=site, key="/other")
    elsewhere = Comment.objects.create(
        thread=other, author_name="Bob", body="Hi", status=Comment.Status.PUBLISHED, decided_at=timezone.now()
    )

    def answer(**fields) -> dict:
        body = {"site": "planet", "thread": "/news", "name": "Alice", "comment": "Hello"} | fields
        response = api.post("/api/v1/comments", body, format="json")
        assert response.status_code == 400
        return response.json()

    messages = [
        answer(comment="\u200b")["comment"],
        answer(name=" ")["name"],
        answer(email="alice@example")["email"],  # a browser takes it, Django does not
        answer(thread=closed.key)["thread"],
        answer(parent=999999)["parent"],
        answer(parent=elsewhere.pk)["parent"],
    ]

    assert [SERVER.get(message) for [message] in messages] == [
        "commentRequired",
        "nameRequired",
        "emailInvalid",
        "threadClosed",
        "parentGone",
        "parentGone",
    ]
    assert set(SERVER.values()) <= set(EN)


def test_whitenoise_serves_the_language_files_to_any_origin(client, settings):
    """A host page on another origin fetches i18n/LANG.json from the widget's origin: CORS must allow it."""
    settings.WHITENOISE_USE_FINDERS = True

    response = client.get("/static/moderato/i18n/sr-Latn.json", HTTP_ORIGIN="https://news.example")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(b"".join(response.streaming_content)) == texts("sr-Latn")


@pytest.mark.django_db
def test_it_knows_the_refusals_the_api_answers_an_author_s_edit_or_deletion(api):
    """The widget says an edit's refusal in the reader's language: by its message where the API sends one
    of a few fixed texts, by its status (403 and 404: too late or not theirs; the 403's text names the
    site's window, so no message table can hold it) otherwise."""
    Site.objects.create(name="Planet", public_key="planet")
    body = {"site": "planet", "thread": "/news", "name": "Alice", "comment": "Hello"}
    posted = api.post("/api/v1/comments", body, format="json").json()
    url, token = f"/api/v1/comments/{posted['id']}", posted["commenter_token"]

    def refusal(method: str, comment: str | None = None) -> tuple[int, str]:
        fields = {"commenter_token": token} | ({"comment": comment} if comment is not None else {})
        response = getattr(api, method)(url, fields, format="json")
        data = response.json()
        [message] = data.get("comment") or [data["detail"]]
        return response.status_code, message

    still_pending = refusal("patch", "Hello again")
    Comment.objects.filter(pk=posted["id"]).update(status=Comment.Status.HELD, decided_at=timezone.now())
    held = refusal("patch", "Hello again")
    Comment.objects.filter(pk=posted["id"]).update(status=Comment.Status.PUBLISHED, decided_at=timezone.now())
    unchanged = refusal("patch", "Hello")
    empty = refusal("patch", " ")
    Comment.objects.filter(pk=posted["id"]).update(created_at=timezone.now() - timedelta(hours=1))
    too_late = refusal("patch", "Hello again")

    assert [(status, SERVER.get(message)) for status, message in [still_pending, held, unchanged, empty]] == [
        (409, "changePending"),
        (409, "changeHeld"),
        (400, "editUnchanged"),
        (400, "commentRequired"),
    ]
    assert too_late[0] == 403 and too_late[1] not in SERVER
    assert api.delete("/api/v1/comments/999999", {"commenter_token": token}, format="json").status_code == 404
    assert {"changeClosed", "changeFailed", "rateLimited"} <= set(EN)
