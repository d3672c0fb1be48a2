"""The embeddable widget in a real browser, against a live server and a real Celery worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from comments.models import Comment, Site, Thread

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEMO_THREAD = "/demo/article"
CLEAN = "What a lovely bridge. I walked across it with my kids this morning and it saved us twenty minutes."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
PUBLISHED = "Thanks! Your comment has been published."
HELD = "Your comment is awaiting moderation."


def published(site: Site, body: str, *, name: str = "Bob", thread: str = DEMO_THREAD, parent=None, ago=None):
    """Store a comment as already published, as a moderator's approval would."""
    thread_row, _ = Thread.objects.get_or_create(site=site, key=thread)
    now = timezone.now()
    comment = Comment.objects.create(
        thread=thread_row,
        parent=parent,
        root=(parent.root or parent) if parent else None,
        author_name=name,
        body=body,
        status=Comment.Status.PUBLISHED,
        decided_at=now,
    )
    if ago is not None:
        Comment.objects.filter(pk=comment.pk).update(created_at=now - ago)
    return comment


def open_thread(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Leave a reply")).to_be_visible()
    expect(page.locator("#moderato-thread h2")).not_to_have_text("Loading comments…")


def post(page: Page, comment: str, name: str = "Alice") -> None:
    page.get_by_label("Comment", exact=True).fill(comment)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Post Comment").click()


def comment_item(page: Page, text: str):
    return page.locator("#moderato-thread li[data-comment-id]", has=page.locator(".b", has_text=text))


def test_it_shows_both_messages_and_sends_no_request_on_an_empty_submit(page, live_server, demo_site):
    open_thread(page, live_server.url + "/")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.get_by_role("button", name="Post Comment").click()

    expect(page.locator("#comment-error")).to_have_text("Please enter your comment!")
    expect(page.locator("#name-error")).to_have_text("Please enter your name here")
    expect(page.get_by_label("Comment", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-describedby", "name-error")
    expect(page.get_by_label("Comment", exact=True)).to_be_focused()
    page.wait_for_timeout(500)
    assert requests == []


def test_it_shows_a_clean_comment_in_the_thread_once_published(page, live_server, demo_site, worker, artifacts):
    first = published(
        demo_site, "Finally! I have been waiting for this since the flood.", name="Margaret E.", ago=timedelta(hours=5)
    )
    published(
        demo_site,
        "Same here. Does anyone know whether it is lit at night?\nI cycle home late.",
        name="Tomás",
        parent=first,
        ago=timedelta(hours=3),
    )
    published(demo_site, "Shame about the parking on Bridge Street though.", name="Priya", ago=timedelta(minutes=40))
    open_thread(page, live_server.url + "/")
    expect(page.locator("#moderato-thread h2")).to_have_text("3 comments")

    post(page, CLEAN)

    expect(page.get_by_text(PUBLISHED)).to_be_visible()
    expect(comment_item(page, CLEAN)).to_be_visible()
    expect(comment_item(page, CLEAN).locator(".n")).to_have_text("Alice")
    expect(page.locator("#moderato-thread h2")).to_have_text("4 comments")
    expect(page.get_by_label("Comment", exact=True)).to_have_value("")
    assert Comment.objects.get(body=CLEAN).status == Comment.Status.PUBLISHED
    page.wait_for_timeout(2600)  # let the highlight of the new comment fade
    page.screenshot(path=artifacts / "demo-after-post.png", full_page=True)


def test_it_says_a_toxic_comment_awaits_moderation_and_does_not_show_it(page, live_server, demo_site, worker):
    open_thread(page, live_server.url + "/")

    post(page, TOXIC)

    expect(page.get_by_text(HELD)).to_be_visible()
    expect(comment_item(page, "worthless idiot")).to_have_count(0)
    expect(page.locator("#moderato-thread h2")).to_have_text("No comments yet")
    assert Comment.objects.get(body=TOXIC).status in {Comment.Status.HELD, Comment.Status.REJECTED}


def test_it_puts_a_reply_under_its_parent(page, live_server, demo_site, worker):
    parent = published(demo_site, "Are dogs allowed on the bridge?", name="Bob")
    published(demo_site, "Lovely photos in the print edition.", name="Carol")
    open_thread(page, live_server.url + "/")

    comment_item(page, "Are dogs allowed").get_by_role("button", name="Reply").first.click()
    expect(page.get_by_text("Replying to Bob")).to_be_visible()
    expect(page.get_by_label("Comment", exact=True)).to_be_focused()
    post(page, "Yes, on a lead. There is a water bowl at the Mill Lane end too.")

    reply = page.locator(f'li[data-comment-id="{parent.pk}"] > ol > li', has_text="water bowl")
    expect(reply).to_be_visible()
    expect(page.get_by_text("Replying to Bob")).to_be_hidden()
    assert Comment.objects.get(body__contains="water bowl").parent_id == parent.pk


def test_it_renders_markup_in_comments_as_text_and_runs_nothing(page, live_server, demo_site):
    payloads = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "<a href=javascript:alert(1)>x</a>"]
    for body in payloads:
        published(demo_site, body, name="<b onmouseover=alert(1)>Mallory</b>")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    open_thread(page, live_server.url + "/")

    bodies = page.locator("#moderato-thread li[data-comment-id] .b")
    expect(bodies).to_have_text(payloads)
    expect(page.locator("#moderato-thread .n").first).to_have_text("<b onmouseover=alert(1)>Mallory</b>")
    assert page.locator("#moderato-thread li[data-comment-id] :is(img, script, b)").count() == 0
    assert page.locator("#moderato-thread li[data-comment-id] a").count() == 0
    page.locator("#moderato-thread .n").first.hover()
    page.wait_for_timeout(500)
    assert dialogs == []


def test_it_never_posts_twice_when_retrying_after_a_lost_answer(page, live_server, demo_site, worker):
    keys: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server stores the comment...
            route.abort("connectionreset")  # ...but the browser never hears back
        else:
            route.continue_()

    page.route("**/api/v1/comments", lose_the_first_answer)
    open_thread(page, live_server.url + "/")

    post(page, CLEAN)
    expect(page.get_by_text("Your comment could not be sent.", exact=False)).to_be_visible()
    expect(page.get_by_label("Comment", exact=True)).to_have_value(CLEAN)
    page.get_by_role("button", name="Post Comment").click()

    expect(comment_item(page, CLEAN)).to_be_visible()
    assert keys[0] == keys[1]
    assert Comment.objects.filter(body=CLEAN).count() == 1


@pytest.mark.parametrize("status", [429, 503])
def test_it_keeps_the_text_when_the_server_cannot_take_it(page, live_server, demo_site, status):
    page.route(
        "**/api/v1/comments",
        lambda route: (
            route.fulfill(status=status, headers={"Retry-After": "30"}, json={"detail": "Try later."})
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    open_thread(page, live_server.url + "/")

    post(page, CLEAN)

    message = "You are posting too quickly." if status == 429 else "Your comment could not be sent."
    expect(page.get_by_text(message, exact=False)).to_be_visible()
    expect(page.get_by_label("Comment", exact=True)).to_have_value(CLEAN)
    expect(page.get_by_label("Name", exact=True)).to_have_value("Alice")


def host_page(live_server, site: Site) -> str:
    """A publisher's article page that embeds the widget with the script tag alone (no mount point)."""
    script = f'<script src="{live_server.url}/static/moderato/widget.js" data-site="{site.public_key}"'
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Planet news</title></head>
<body><h1>Bridge opens</h1><p>Article text.</p>
{script} data-thread="/news/bridge" async></script>
</body></html>"""


def test_it_works_embedded_in_a_page_on_another_allowed_origin(page, live_server, other_origin, worker):
    site = Site.objects.create(name="Planet", public_key="planet", allowed_origins=[other_origin.origin])
    published(site, "First!", name="Dan", thread="/news/bridge")
    url = other_origin.serve("/news/bridge", host_page(live_server, site))

    open_thread(page, url)
    expect(page.locator("#moderato-thread h2")).to_have_text("1 comment")
    expect(comment_item(page, "First!")).to_be_visible()
    page.get_by_label("Comment", exact=True).fill(CLEAN)
    page.get_by_label("Name", exact=True).fill("Alice")
    page.wait_for_timeout(3500)  # a person's pace: the site's default too-fast hold (3 s) stays quiet
    page.get_by_role("button", name="Post Comment").click()

    expect(comment_item(page, CLEAN)).to_be_visible()
    comment = Comment.objects.get(body=CLEAN)
    assert comment.thread.key == "/news/bridge" and comment.form_seconds > 3


def test_it_is_refused_on_a_page_of_an_origin_the_site_does_not_allow(page, live_server, other_origin):
    site = Site.objects.create(name="Planet", public_key="planet", allowed_origins=["https://planet.example"])
    published(site, "First!", name="Dan", thread="/news/bridge")
    url = other_origin.serve("/news/bridge", host_page(live_server, site))

    page.goto(url)
    expect(page.get_by_text("Comments could not be loaded.")).to_be_visible()
    expect(comment_item(page, "First!")).to_have_count(0)
    post(page, CLEAN)

    expect(page.get_by_text("Your comment could not be sent.", exact=False)).to_be_visible()
    expect(page.get_by_label("Comment", exact=True)).to_have_value(CLEAN)
    assert not Comment.objects.filter(body=CLEAN).exists()


def test_it_keeps_the_commenter_token_and_sends_it_with_a_form_token(page, live_server, demo_site):
    bodies: list[dict] = []
    page.on("request", lambda request: bodies.append(request.post_data_json) if request.method == "POST" else None)
    open_thread(page, live_server.url + "/")
    assert page.evaluate("localStorage.length") == 0  # nothing kept before a post

    post(page, CLEAN)
    expect(page.get_by_text("Thanks! Your comment is being checked", exact=False)).to_be_visible()
    kept = page.evaluate("localStorage.getItem('moderato:demo:commenter')")
    assert kept and bodies[0]["commenter_token"] == "" and bodies[0]["form_token"]
    first = Comment.objects.get(body=CLEAN)

    page.reload()
    open_thread(page, live_server.url + "/")
    post(page, "A second thought about the bridge: the lights at night are a real improvement.")
    expect(page.get_by_text("Thanks! Your comment is being checked", exact=False)).to_be_visible()
    assert bodies[1]["commenter_token"] == kept
    second = Comment.objects.exclude(pk=first.pk).get()
    assert second.commenter == first.commenter and second.form_seconds is not None
    assert "commenter_token" not in second.body


def test_it_holds_a_comment_posted_seconds_after_the_form_opened(page, live_server, demo_site, worker):
    demo_site.policy.min_form_seconds = 3
    demo_site.policy.save()
    open_thread(page, live_server.url + "/")

    post(page, CLEAN)  # typed and sent within a second, as a bot would

    expect(page.get_by_text(HELD)).to_be_visible()
    comment = Comment.objects.get(body=CLEAN)
    assert comment.status == Comment.Status.HELD and [r["code"] for r in comment.reasons] == ["too_fast"]
