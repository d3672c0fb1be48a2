"""A thread's controls from the queue, in a real browser: its state under each row, an action on it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from comments.models import Comment, Thread
from moderation.models import ThreadPolicy
from tests.browser.test_desk import QUEUE, fits, held, log_in, row, screenshots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_moderator_closes_a_thread_from_the_queue_and_sees_its_state_on_every_row(
    page: Page,
    live_server,
    held: list[Comment],  # noqa: F811  (the fixture imported above)
    screenshots,  # noqa: F811
):
    thread = Thread.objects.get()
    ThreadPolicy.objects.create(thread=thread, hold_all=True)
    log_in(page, live_server)
    page.goto(live_server.url + QUEUE + "?status__exact=held")
    first = row(page, held[0])
    expect(first.locator(".moderato-thread-state")).to_have_text(["pre-moderated"])
    fits(page)

    first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Thread: close the threads of the selected comments")
    page.get_by_title("Run the selected action").click()

    expect(page.get_by_text("Close thread: 1 thread(s) changed.")).to_be_visible()
    for comment in held:
        expect(row(page, comment).locator(".moderato-thread-state")).to_have_text(["closed", "pre-moderated"])
    fits(page)
    page.screenshot(path=str(screenshots / "queue-thread-controls.png"))
    thread.refresh_from_db()
    assert not thread.is_open

    row(page, held[0]).get_by_role("link", name="/news/bridge").click()
    expect(page.locator("#id_policy-0-hold_all")).to_be_checked()  # its own moderation, below
    expect(page.locator(".field-state")).to_contain_text("closed")
