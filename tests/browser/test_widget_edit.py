"""A reader edits and deletes their own comment from the widget, in Chromium, against a live server and
a real Celery worker; other readers' comments get neither button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from comments.models import Comment, CommentEdit
from tests.browser.test_widget import CLEAN, PUBLISHED, comment_item, open_thread, post, published

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EDITED = "What a lovely bridge. We walked across it this morning and it saved us twenty minutes."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"


def reload(page, url: str) -> None:
    """Open the page again, without the thread page the browser keeps for 10 s (Cache-Control: max-age=10)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    open_thread(page, url)


def test_a_reader_edits_then_deletes_their_own_comment(page, live_server, demo_site, worker, artifacts):
    published(demo_site, "Shame about the parking on Bridge Street though.", name="Priya")
    open_thread(page, live_server.url + "/")
    post(page, CLEAN)
    expect(page.get_by_text(PUBLISHED)).to_be_visible()
    mine = comment_item(page, CLEAN)
    others = comment_item(page, "Shame about the parking")
    expect(mine.get_by_role("button", name="Edit")).to_be_visible()
    expect(others.get_by_role("button", name="Edit")).to_have_count(0)
    expect(others.get_by_role("button", name="Delete")).to_have_count(0)

    # A held edit: the published text stays on the page.
    mine.get_by_role("button", name="Edit").click()
    mine.get_by_role("textbox", name="Edit").fill(TOXIC)
    mine.get_by_role("button", name="Save").click()
    expect(mine.get_by_text("Your edit is awaiting moderation")).to_be_visible()
    expect(mine.locator(".b")).to_have_text(CLEAN)

    # After a reload the buttons are still there (the window is open); a clean edit replaces the text.
    reload(page, live_server.url + "/")
    mine = comment_item(page, CLEAN)
    mine.get_by_role("button", name="Edit").click()
    mine.get_by_role("textbox", name="Edit").fill(EDITED)
    mine.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your edit has been published.")).to_be_visible()
    mine = comment_item(page, EDITED)
    expect(mine.locator(".b")).to_have_text(EDITED)
    comment = Comment.objects.get(body=EDITED)
    assert comment.edited_at is not None
    assert list(CommentEdit.objects.filter(comment=comment).order_by("pk").values_list("state", flat=True)) == [
        "rejected",  # the held edit, superseded by the newer one
        "published",
    ]
    page.screenshot(path=artifacts / "widget-after-edit.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    mine.get_by_role("button", name="Delete").click()
    expect(comment_item(page, EDITED)).to_have_count(0)
    expect(page.locator("#moderato-thread h2")).to_have_text("1 comment")
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.DELETED


def test_the_buttons_are_gone_once_the_window_has_closed(page, live_server, demo_site, worker):
    open_thread(page, live_server.url + "/")
    post(page, CLEAN)
    expect(page.get_by_text(PUBLISHED)).to_be_visible()
    # The window the server gave is what the widget keeps: make it one that has ended.
    page.evaluate("""() => {
        const key = "moderato:demo:own";
        const own = JSON.parse(localStorage.getItem(key));
        for (const id of Object.keys(own)) own[id] = Date.now() - 1000;
        localStorage.setItem(key, JSON.stringify(own));
    }""")
    reload(page, live_server.url + "/")
    expect(comment_item(page, CLEAN)).to_be_visible()
    expect(comment_item(page, CLEAN).get_by_role("button", name="Edit")).to_have_count(0)
