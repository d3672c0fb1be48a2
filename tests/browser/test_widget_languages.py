"""The widget in the readers' language, in Chromium: the language chosen from data-lang or the page's
lang, one language file fetched, plural forms by Intl.PluralRules, the form's and the server's messages."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from comments.models import Comment, Site, Thread
from tests.browser.test_widget import CLEAN

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

I18N = Path(__file__).resolve().parents[2] / "comments" / "static" / "moderato" / "i18n"


def texts(language: str) -> dict:
    return json.loads((I18N / f"{language}.json").read_text(encoding="utf-8"))


@pytest.fixture
def site(other_origin) -> Site:
    return Site.objects.create(name="Planet", public_key="planet", allowed_origins=[other_origin.origin])


@pytest.fixture(autouse=True)
def language_files(page: Page) -> list[str]:
    """The language files the page fetched. The live server's static handler sends no CORS headers;
    WhiteNoise sends `Access-Control-Allow-Origin: *` (tests/comments/test_widget_texts.py), added here."""
    fetched: list[str] = []

    def as_whitenoise_serves_it(route: Route) -> None:
        fetched.append(route.request.url.rsplit("/", 1)[1])
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "access-control-allow-origin": "*"})

    page.route("**/static/moderato/i18n/*", as_whitenoise_serves_it)
    return fetched


def article(live_server, other_origin, *, thread: str, html_lang: str = "en", data_lang: str | None = None) -> str:
    """A publisher's article page on its own origin embedding the widget."""
    lang = f' data-lang="{data_lang}"' if data_lang is not None else ""
    html = f"""<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8"><title>Vesti</title></head>
<body><h1>Most</h1><script src="{live_server.url}/static/moderato/widget.js" data-site="planet"
data-thread="{thread}"{lang} async></script></body></html>"""
    return other_origin.serve(thread, html)


def thread_with(site: Site, key: str, count: int) -> str:
    thread = Thread.objects.create(site=site, key=key)
    now = timezone.now()
    Comment.objects.bulk_create(
        Comment(thread=thread, author_name=f"Reader {i}", body=f"Comment {i}", status="published", decided_at=now)
        for i in range(count)
    )
    return key


PLURALS = {
    # one / few / many: 1, 21 are "one" and 2, 22 "few" in the East Slavic languages and Serbo-Croatian
    "ru": {1: "1 комментарий", 2: "2 комментария", 5: "5 комментариев", 21: "21 комментарий"},
    "uk": {1: "1 коментар", 3: "3 коментарі", 11: "11 коментарів", 21: "21 коментар"},
    "pl": {1: "1 komentarz", 2: "2 komentarze", 5: "5 komentarzy", 21: "21 komentarzy", 22: "22 komentarze"},
    "sr-Latn": {1: "1 komentar", 2: "2 komentara", 5: "5 komentara", 21: "21 komentar"},
    "sr-Cyrl": {1: "1 коментар", 2: "2 коментара", 21: "21 коментар"},
    "hr": {1: "1 komentar", 4: "4 komentara", 21: "21 komentar"},
    "bs": {1: "1 komentar", 3: "3 komentara", 21: "21 komentar"},
    "ro": {1: "1 comentariu", 2: "2 comentarii", 19: "19 comentarii", 20: "20 de comentarii"},
    "mk": {1: "1 коментар", 2: "2 коментари", 21: "21 коментар"},
    "bg": {1: "1 коментар", 2: "2 коментара", 21: "21 коментара"},
    "en": {1: "1 comment", 2: "2 comments", 21: "21 comments"},
}


@pytest.mark.parametrize("language", list(PLURALS))
def test_it_counts_comments_with_the_plural_rules_of_the_language(page, live_server, other_origin, site, language):
    for count, heading in PLURALS[language].items():
        key = thread_with(site, f"/{language}/{count}", count)
        page.goto(article(live_server, other_origin, thread=key, html_lang=language))
        expect(page.locator("#moderato-thread h2")).to_have_text(heading)


@pytest.mark.parametrize("language", ["en", *sorted(path.stem for path in I18N.glob("*.json"))])
def test_its_plural_forms_are_the_categories_of_intl_plural_rules(page, live_server, language):
    """Each file's count has a form for every category the browser's plural rules give, and no other."""
    page.goto(live_server.url + "/api/v1/form-token?site=none")  # any page of the origin
    categories = page.evaluate("(tag) => new Intl.PluralRules(tag).resolvedOptions().pluralCategories", language)
    count = {"one": "", "other": ""} if language == "en" else texts(language)["count"]

    assert sorted(categories) == sorted(count)


@pytest.mark.parametrize(
    ("html_lang", "data_lang", "file"),
    [
        ("en", "sr-Latn-RS", "sr-Latn.json"),
        ("en", "sr-latn", "sr-Latn.json"),
        ("sr", None, "sr-Cyrl.json"),
        ("sr-Cyrl-RS", None, "sr-Cyrl.json"),
        ("sr-ME", None, "sr-Latn.json"),  # Montenegro writes Serbian in Latin letters
        ("bs-BA", None, "bs.json"),
        ("en", "hr", "hr.json"),
        ("ru-RU", "not a tag!", "ru.json"),  # an unusable data-lang: the page's
        ("de-AT", None, "de.json"),
    ],
)
def test_it_loads_one_language_file_chosen_by_the_full_tag(
    page, live_server, other_origin, site, language_files, html_lang, data_lang, file
):
    page.goto(article(live_server, other_origin, thread="/tag", html_lang=html_lang, data_lang=data_lang))
    chosen = texts(file.removesuffix(".json"))

    expect(page.get_by_role("heading", name=chosen["heading"])).to_be_visible()
    expect(page.locator("#moderato-thread h2")).to_have_text(chosen["none"])
    expect(page.locator("#moderato-thread label[for=email]")).to_contain_text(chosen["email"])
    page.wait_for_timeout(300)
    assert language_files == [file]


@pytest.mark.parametrize(("html_lang", "data_lang"), [("en-GB", None), ("ja", None), ("", "x-klingon"), ("", None)])
def test_it_speaks_english_without_fetching_a_file_for_english_or_an_unknown_language(
    page, live_server, other_origin, site, language_files, html_lang, data_lang
):
    page.goto(article(live_server, other_origin, thread="/tag", html_lang=html_lang, data_lang=data_lang))

    expect(page.get_by_role("heading", name="Leave a reply")).to_be_visible()
    expect(page.locator("#moderato-thread h2")).to_have_text("No comments yet")
    page.wait_for_timeout(300)
    assert language_files == []


def test_it_falls_back_to_english_when_the_language_file_cannot_be_had(page, live_server, other_origin, site):
    page.route("**/static/moderato/i18n/*", lambda route: route.fulfill(status=404, body="Not found"))

    page.goto(article(live_server, other_origin, thread="/tag", html_lang="uk"))

    expect(page.get_by_role("heading", name="Leave a reply")).to_be_visible()
    expect(page.locator("#moderato-thread section")).to_have_attribute("lang", "en")


def test_it_shows_the_forms_and_the_servers_messages_in_the_readers_language(
    page, live_server, other_origin, site, language_files
):
    ru = texts("ru")
    page.goto(article(live_server, other_origin, thread="/vesti", html_lang="ru"))
    expect(page.locator("#moderato-thread section")).to_have_attribute("lang", "ru")
    page.get_by_role("button", name=ru["post"]).click()
    expect(page.locator("#comment-error")).to_have_text(ru["commentRequired"])
    expect(page.locator("#name-error")).to_have_text(ru["nameRequired"])

    # Text the widget lets through and the server refuses: a zero-width space only, an address
    # without a domain suffix (the browser takes it, Django does not).
    page.get_by_label(ru["comment"], exact=True).fill("\u200b")
    page.get_by_label(ru["name"], exact=True).fill("Алиса")
    page.get_by_label(ru["email"]).fill("alice@example")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name=ru["post"]).click()
    assert answer.value.status == 400 and answer.value.json()["comment"] == ["Please enter your comment!"]

    expect(page.locator("#comment-error")).to_have_text(ru["commentRequired"])
    expect(page.locator("#email-error")).to_have_text(ru["emailInvalid"])
    expect(page.locator("#name-error")).to_have_text("")
    assert not Comment.objects.exists()


def test_it_says_in_the_readers_language_that_a_thread_is_closed(page, live_server, other_origin, site, language_files):
    """Closed while the reader was writing: the server's refusal, in Polish, and the text kept."""
    pl = texts("pl")
    thread = Thread.objects.create(site=site, key="/zamkniety")
    page.goto(article(live_server, other_origin, thread="/zamkniety", html_lang="pl-PL"))
    expect(page.locator("#moderato-thread h2")).to_have_text(pl["none"])  # the thread read: open

    page.get_by_label(pl["comment"], exact=True).fill("Ciekawy artykuł, dziękuję.")
    page.get_by_label(pl["name"], exact=True).fill("Ala")
    Thread.objects.filter(pk=thread.pk).update(is_open=False)
    page.get_by_role("button", name=pl["post"]).click()

    expect(page.locator("#moderato-thread .nt[data-kind=err]")).to_have_text(pl["threadClosed"])
    expect(page.get_by_label(pl["comment"], exact=True)).to_have_value("Ciekawy artykuł, dziękuję.")


def test_a_closed_thread_shows_its_comments_and_says_it_is_closed_instead_of_the_form(
    page, live_server, other_origin, site, language_files
):
    uk = texts("uk")
    key = thread_with(site, "/zakryto", 2)
    Thread.objects.filter(key=key).update(is_open=False)
    page.goto(article(live_server, other_origin, thread=key, html_lang="uk"))

    expect(page.locator("#moderato-thread h2")).to_have_text("2 коментарі")
    expect(page.locator("#moderato-thread .nt")).to_have_text(uk["threadClosed"])
    expect(page.locator("#moderato-thread form")).to_have_count(0)
    expect(page.get_by_role("button", name=uk["reply"])).to_have_count(0)
    expect(page.get_by_role("button", name=uk["report"])).to_have_count(2)


def test_a_thread_the_site_closes_after_some_days_shows_the_date_in_the_readers_language(
    page, live_server, other_origin, site, language_files
):
    hr = texts("hr")
    site.close_after_days = 14
    site.save()
    began = timezone.now() - timedelta(days=3)
    Thread.objects.create(site=site, key="/most", created_at=began)
    page.goto(article(live_server, other_origin, thread="/most", html_lang="hr"))

    date = page.evaluate(
        "(iso) => new Date(iso).toLocaleDateString('hr', { day: 'numeric', month: 'long', year: 'numeric' })",
        (began + timedelta(days=14)).isoformat(),
    )
    expect(page.get_by_text(hr["closesOn"].replace("{date}", date))).to_be_visible()
    expect(page.get_by_role("button", name=hr["post"])).to_be_visible()

    # A thread past its days says it is closed.
    Thread.objects.create(site=site, key="/stari-most", created_at=began - timedelta(days=20))
    page.goto(article(live_server, other_origin, thread="/stari-most", html_lang="hr"))
    expect(page.locator("#moderato-thread .nt")).to_have_text(hr["threadClosed"])
    expect(page.get_by_role("button", name=hr["post"])).to_have_count(0)


def test_an_author_edits_and_deletes_in_the_readers_language(page, live_server, other_origin, site, worker):
    """The reply-notice box, Edit, Save, Delete, its question and the API's refusals, in Serbian (Latin)."""
    sr = texts("sr-Latn")
    site.policy.min_form_seconds = 0  # typed and posted within a second, as only a bot would
    site.policy.save()
    page.goto(article(live_server, other_origin, thread="/most", html_lang="sr-Latn-RS"))
    expect(page.locator("#moderato-thread label[for=notify]")).to_have_text(sr["notify"])
    page.get_by_label(sr["comment"], exact=True).fill(CLEAN)
    page.get_by_label(sr["name"], exact=True).fill("Ana")
    page.get_by_role("button", name=sr["post"]).click()
    expect(page.get_by_text(sr["published"])).to_be_visible()
    mine = page.locator("#moderato-thread li[data-comment-id]", has=page.locator(".b", has_text=CLEAN))

    # The same text again: the API's 400, in Serbian.
    mine.get_by_role("button", name=sr["edit"]).click()
    mine.get_by_role("button", name=sr["save"]).click()
    expect(mine.locator(".nt[data-kind=err]")).to_have_text(sr["editUnchanged"])

    # Delete asks in Serbian; dismissed, nothing is sent.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    mine.get_by_role("button", name=sr["delete"]).click()
    expect(mine).to_be_visible()
    assert asked == [sr["confirmDelete"]]

    # Once the window has closed, the API's 403 (its English text names the minutes) as Serbian.
    Comment.objects.update(created_at=timezone.now() - timedelta(hours=1))
    mine.get_by_role("textbox", name=sr["edit"]).fill("Lep most, hvala na tekstu.")
    mine.get_by_role("button", name=sr["save"]).click()
    expect(mine.locator(".nt[data-kind=err]")).to_have_text(sr["changeClosed"])
    assert Comment.objects.get().body == CLEAN


def test_the_readers_data_texts_are_in_the_readers_language(page, live_server, other_origin, site, language_files):
    """The readers' data ("Your data", "Erase your comments", the address form, its answers) in Serbian Cyrillic."""
    sr = texts("sr-Cyrl")
    page.goto(article(live_server, other_origin, thread="/most", html_lang="sr"))
    expect(page.get_by_role("button", name=sr["myData"])).to_be_visible()

    page.get_by_role("button", name=sr["eraseMine"]).click()
    page.get_by_label(sr["rightsEmail"]).fill("ana")
    page.get_by_role("button", name=sr["sendLink"]).click()
    expect(page.get_by_text(sr["emailInvalid"])).to_be_visible()
    page.get_by_label(sr["rightsEmail"]).fill("ana@planet.example")
    with page.expect_response(lambda response: "/readers/requests" in response.url) as answer:
        page.get_by_role("button", name=sr["sendLink"]).click()
    assert answer.value.status == 202
    expect(page.get_by_text(sr["linkSent"])).to_be_visible()
    assert language_files == ["sr-Cyrl.json"]
