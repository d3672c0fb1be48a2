"""The widget's "Your data" and "Erase your comments" in Chromium: with the commenter token the
browser keeps, and, without one, through the link mailed to the reader."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from comments import tokens
from comments.models import Comment
from moderation.models import Erasure, Notification
from moderation.notifications import notification_deliver
from tests.browser.test_widget import comment_item, open_thread, published

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ALICE_ID = "aliceInTheBrowser000001"


def keep_token(page, token: str) -> None:
    """What the widget keeps after a post, there before the page's scripts run."""
    page.add_init_script(
        f"try {{ localStorage.setItem('moderato:demo:commenter', {json.dumps(token)}); }} catch (e) {{}}"
    )


def test_a_reader_downloads_then_erases_their_comments_with_their_token(page, live_server, demo_site, artifacts):
    mine = published(demo_site, "My first thought on the bridge.", name="Alice")
    Comment.objects.filter(pk=mine.pk).update(commenter=ALICE_ID)
    published(demo_site, "Bob answers Alice.", name="Bob", parent=mine)
    other = published(demo_site, "Alice once more, with no replies.", name="Alice")
    Comment.objects.filter(pk=other.pk).update(commenter=ALICE_ID)
    keep_token(page, tokens.commenter_token_make(site_id=demo_site.pk, commenter=ALICE_ID))
    open_thread(page, live_server.url + "/")
    expect(page.locator("#moderato-thread h2")).to_have_text("3 comments")

    with page.expect_download() as download:
        page.get_by_role("button", name="Your data").click()
    export = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert download.value.suggested_filename == "comments-demo.json"
    assert sorted(row["comment"] for row in export["comments"]) == [
        "Alice once more, with no replies.",
        "My first thought on the bridge.",
    ]
    expect(page.get_by_text("Your comments have been downloaded.")).to_be_visible()

    page.get_by_role("button", name="Erase your comments").click()
    expect(page.get_by_text("Erase every comment posted here from this browser?")).to_be_visible()
    assert Comment.objects.filter(commenter=ALICE_ID).count() == 2  # nothing before the confirmation
    page.get_by_role("button", name="Erase", exact=True).click()

    expect(page.get_by_text("Your comments have been erased.")).to_be_visible()
    expect(page.locator("#moderato-thread h2")).to_have_text("2 comments")
    expect(comment_item(page, "Alice once more")).to_have_count(0)
    placeholder = comment_item(page, "[deleted]")
    expect(placeholder).to_be_visible()
    expect(placeholder.locator(".rp .b")).to_have_text("Bob answers Alice.")  # the thread keeps its shape
    page.locator("#moderato-thread").screenshot(path=str(artifacts / "widget-erased.png"))
    assert Erasure.objects.get().via == "commenter_token"


def test_a_reader_without_a_token_gets_an_erase_link_by_email(page, live_server, demo_site, settings):
    settings.MODERATO_PUBLIC_URL = live_server.url
    mine = published(demo_site, "Posted from my old laptop.", name="Alice")
    Comment.objects.filter(pk=mine.pk).update(author_email="alice@planet.example")
    open_thread(page, live_server.url + "/")

    page.get_by_role("button", name="Erase your comments").click()
    page.get_by_label("The e-mail address you posted with").fill("not an address")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("Please enter a valid email address")).to_be_visible()
    page.get_by_label("The e-mail address you posted with").fill("Alice@Planet.example")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("a link is on its way to it", exact=False)).to_be_visible()

    # The outbox delivers it (a worker would; here the test does, to read the mail).
    row = Notification.objects.get(event="reader.erase")
    assert notification_deliver(notification_id=row.pk) == "delivered"
    [link] = re.findall(r"http://\S+/moderation/readers/erase/\S+", mail.outbox[0].body)
    page.goto(link)
    expect(page.get_by_text("Erase the 1 comment posted with your e-mail address?")).to_be_visible()
    page.get_by_role("button", name="Erase my comments").click()
    expect(page.get_by_text("Done: 1 comment erased.")).to_be_visible()
    assert not Comment.objects.filter(pk=mine.pk).exists()


# The admin, in Chromium: a moderator selects a comment, exports its author's data, then erases them.


def test_a_moderator_exports_then_erases_a_commenter_from_the_admin(page, live_server, demo_site, artifacts):
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    first = published(demo_site, "Dana's view on the bridge.", name="Dana")
    second = published(demo_site, "Dana again, on the tolls.", name="Dana")
    reply = published(demo_site, "Eve answers Dana.", name="Eve", parent=first)
    Comment.objects.filter(pk__in=[first.pk, second.pk]).update(author_email="dana@example.org")
    moderator = User.objects.create_superuser("mod", password="pw")
    client = Client()
    client.force_login(moderator)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    page.goto(live_server.url + "/admin/comments/comment/?status__exact=published")
    page.locator(f"input[name=_selected_action][value='{second.pk}']").check()
    page.locator("select[name=action]").select_option("export_commenters")
    with page.expect_download() as download:
        page.get_by_role("button", name="Go").click()
    [commenter] = json.loads(open(download.value.path(), encoding="utf-8").read())["commenters"]
    assert commenter["commenter"] == "e-mail dana@example.org" and commenter["count"] == 2
    assert sorted(row["comment"] for row in commenter["comments"]) == [
        "Dana again, on the tolls.",
        "Dana's view on the bridge.",
    ]

    page.goto(live_server.url + "/admin/comments/comment/?status__exact=published")
    page.locator(f"input[name=_selected_action][value='{second.pk}']").check()
    page.locator("select[name=action]").select_option("erase_commenters")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("Erase the commenters?").first).to_be_visible()
    assert Comment.objects.filter(author_email="dana@example.org").count() == 2  # nothing before the button
    page.get_by_role("button", name=re.compile("Yes, erase them")).click()
    expect(page.get_by_text(re.compile(r"Erased 2 comment\(s\) of 1 commenter\(s\)"))).to_be_visible()

    first.refresh_from_db()
    assert first.body == "" and first.deleted_at is not None  # "[deleted]": Eve replied to it
    assert not Comment.objects.filter(pk=second.pk, status=Comment.Status.PUBLISHED).exists()
    assert Comment.objects.get(pk=reply.pk).body == "Eve answers Dana."
    assert Erasure.objects.get().actor == moderator
