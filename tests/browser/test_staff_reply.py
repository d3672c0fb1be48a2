"""A moderator replies as the site in Chromium (issue 15 item 4): from a held comment's page, with the keyboard,
then the reader's page shows the comment and the reply under it, marked as the site's."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from comments.models import Comment, Site, Thread

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_THREAD = "/demo/article"  # the thread the demo page at / embeds
QUESTION = "Will the footbridge be lit at night? I cycle home late."
ANSWER = "Yes: the lamps go on at dusk from Monday. Thanks for asking!"


def log_in_as_a_moderator_of(page: Page, live_server, site: Site) -> User:
    """A member of the moderators group on the site's list: no superuser, no grant of every site."""
    moderator = User.objects.create_user("alice", password="pw", is_staff=True)
    moderator.groups.add(Group.objects.get(name="moderators"))
    site.policy.moderators.add(moderator)
    client = Client()
    client.force_login(moderator)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return moderator


def test_a_moderator_replies_as_the_site_from_a_held_comment_s_page_and_readers_see_it_marked(
    page: Page, live_server, demo_site: Site, artifacts
):
    demo_site.policy.staff_name = "The Courier's editors"
    demo_site.policy.save()
    thread, _ = Thread.objects.get_or_create(site=demo_site, key=DEMO_THREAD)
    question = Comment.objects.create(
        thread=thread, author_name="Margaret", body=QUESTION, status="held", decided_at=timezone.now()
    )
    moderator = log_in_as_a_moderator_of(page, live_server, demo_site)

    page.goto(f"{live_server.url}/admin/comments/comment/{question.pk}/change/")
    expect(page.locator(f"#reply-form-{question.pk}")).to_contain_text("Signed “The Courier's editors”")
    page.keyboard.press("y")
    box = page.get_by_label("reply as the site")
    expect(box).to_be_focused()
    page.keyboard.type(ANSWER)
    page.keyboard.press("Control+Enter")
    result = page.locator(f"#reply-form-{question.pk} .moderato-result")
    expect(result).to_contain_text(f'Approved comment #{question.pk} and replied as "The Courier\'s editors"')
    expect(box).to_have_value("")  # sent: the box is empty for the next one
    expect(page.locator(f"#decide-{question.pk}")).to_have_text("Decide: this comment is published")
    page.screenshot(path=artifacts / "staff-reply-admin.png", full_page=True)

    reply = Comment.objects.get(by_staff=True)
    assert (reply.parent_id, reply.staff_user, reply.status, reply.body) == (
        question.pk,
        moderator,
        "published",
        ANSWER,
    )
    assert Comment.objects.get(pk=question.pk).status == "published"

    page.goto(live_server.url + "/")
    asked = page.locator(f"#moderato-thread li[data-comment-id='{question.pk}']")
    expect(asked.locator(".b").first).to_have_text(QUESTION)
    answered = asked.locator(f".rp > li[data-comment-id='{reply.pk}']")  # nested under the question
    expect(answered.locator(".n")).to_have_text("The Courier's editors")
    expect(answered.locator(".sb")).to_have_text("Staff")
    expect(answered.locator(".b")).to_have_text(ANSWER)
    expect(asked.locator(".sb")).to_have_count(1)  # the reader's comment has no mark
    # The mark stands out: the accent colour behind light text, as the page themes the widget.
    colours = answered.locator(".sb").evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
    )
    assert colours == ["rgb(164, 22, 26)", "rgb(255, 255, 255)"]  # the demo's --moderato-accent, accent text
    answered.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "staff-reply-widget.png")


def test_the_mark_speaks_the_reader_s_language(page: Page, live_server, demo_site: Site):
    thread, _ = Thread.objects.get_or_create(site=demo_site, key="/de/bruecke")
    now = timezone.now()
    question = Comment.objects.create(
        thread=thread, author_name="Jonas", body="Wann ist die Brücke fertig?", status="published", decided_at=now
    )
    Comment.objects.create(
        thread=thread, parent=question, root=question, author_name="Demo site", body="Im Mai.",
        status="published", decided_at=now, by_staff=True,
    )  # fmt: skip
    # A German article page on the live server's origin (the language file is fetched from there).
    html = (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"></head><body>'
        f'<script src="{live_server.url}/static/moderato/widget.js" data-site="demo" data-thread="/de/bruecke">'
        "</script></body></html>"
    )
    page.route(f"{live_server.url}/de/bruecke", lambda route: route.fulfill(content_type="text/html", body=html))
    page.goto(f"{live_server.url}/de/bruecke")
    expect(page.locator("#moderato-thread .sb")).to_have_text("Redaktion")


def test_a_moderator_replies_from_the_queue_with_the_keyboard_and_the_row_follows(page: Page, live_server, demo_site):
    thread, _ = Thread.objects.get_or_create(site=demo_site, key=DEMO_THREAD)
    now = timezone.now()
    first, second = (
        Comment.objects.create(thread=thread, author_name=name, body=body, status="held", decided_at=now)
        for name, body in (("Margaret", QUESTION), ("Tomás", "And the tolls?"))
    )
    log_in_as_a_moderator_of(page, live_server, demo_site)
    queue = f"{live_server.url}/admin/comments/comment/?status__exact=held"
    page.goto(queue)
    row = page.locator("#result_list tbody tr").filter(has=page.locator(f"#decide-{first.pk}"))
    expect(row).to_have_class("moderato-current")

    page.keyboard.press("y")
    box = row.get_by_label("reply as the site")
    expect(box).to_be_focused()
    page.keyboard.type("   ")
    page.keyboard.press("Control+Enter")  # nothing to read: refused, and the box keeps what was typed
    expect(row.locator(".moderato-result")).to_have_text("Write the reply first: it is empty.")
    box.fill(ANSWER)
    page.keyboard.press("Control+Enter")

    expect(row.locator(".moderato-result")).to_contain_text(f"Approved comment #{first.pk} and replied")
    expect(row.locator(".moderato-status")).to_have_text("Published")
    expect(row.locator("details.moderato-reply")).not_to_have_attribute("open", "")
    assert page.url == queue  # never reloaded
    reply = Comment.objects.get(by_staff=True)
    assert (reply.parent_id, reply.body) == (first.pk, ANSWER)
    assert Comment.objects.get(pk=second.pk).status == "held"
