"""The moderator's desk in a real browser: deciding from the queue and a comment's page, keyboard only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from comments.models import Comment, Site, Thread
from moderation.models import ModerationDecision

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "/admin/comments/comment/"
# A decision per comment, oldest first: the key, the note written with N, the status it leads to.
PLAN = [
    ("a", "fair criticism", "published"),
    ("r", "off topic", "rejected"),
    ("s", "advert for pills", "rejected"),
    ("a", "sharp but civil", "published"),
    ("s", "link farm", "rejected"),
    ("r", "personal data", "rejected"),
    ("a", "quotes the article", "published"),
    ("a", "irony, not abuse", "published"),
    ("s", "same advert again", "rejected"),
    ("r", "insults another reader", "rejected"),
]


SCORES = {"TOXICITY": 0.97, "SEVERE_TOXICITY": 0.21, "INSULT": 0.93, "PROFANITY": 0.12, "THREAT": 0.04,
          "IDENTITY_ATTACK": 0.08, "SEXUALLY_EXPLICIT": 0.02, "SPAM": 0.03}  # fmt: skip
SPANS = [
    {"begin": 5, "end": 7, "text": "up", "weight": 0.4},
    {"begin": 7, "end": 8, "text": ",", "weight": 0.3},
    {"begin": 13, "end": 22, "text": "worthless", "weight": 0.8},
    {"begin": 23, "end": 28, "text": "idiot", "weight": 1.25},
]
REASON = {
    "code": "hold_threshold",
    "detail": "",
    "attribute": "TOXICITY",
    "score": 0.97,
    "threshold": 0.5,
    "spans": SPANS,
}


def fits(page: Page) -> None:
    """Nothing scrolls sideways at 1280 px, and every score's name ends before its bar begins."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate("[...document.querySelectorAll('.results')].every(e => e.scrollWidth <= e.clientWidth)")
    overlaps = page.evaluate(
        """[...document.querySelectorAll('.moderato-bar')].filter(bar => {
            const name = bar.previousElementSibling.getBoundingClientRect();
            return name.right > bar.getBoundingClientRect().left;
        }).length"""
    )
    assert overlaps == 0


@pytest.fixture
def screenshots() -> Path:
    folder = Path(settings.DATA_DIR) / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def held(db) -> list[Comment]:
    site = Site.objects.create(name="Daily Planet", public_key="planet")
    thread = Thread.objects.create(site=site, key="/news/bridge")
    now = timezone.now()
    comments = []
    for minutes in range(len(PLAN), 0, -1):
        comment = Comment.objects.create(
            thread=thread,
            author_name=f"Reader {minutes}",
            body=f"Shut up, you worthless idiot: {minutes} minutes on the new bridge is a lie.",
            status=Comment.Status.HELD,
            scores=SCORES,
            model_versions={attribute: "toxicity-2026.11.30" for attribute in SCORES} | {"SPAM": "spam-2026.11.30"},
            reasons=[REASON],
            language="en",
            script="Latn",
            decided_at=now,
        )
        Comment.objects.filter(pk=comment.pk).update(created_at=now - timedelta(minutes=minutes))
        comments.append(comment)
    return comments


def log_in(page: Page, live_server) -> User:
    moderator = User.objects.create_superuser("alice", password="pw")
    client = Client()
    client.force_login(moderator)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return moderator


def row(page: Page, comment: Comment):
    return page.locator("#result_list tbody tr").filter(has=page.locator(f"#decide-{comment.pk}"))


def test_a_moderator_decides_ten_held_comments_with_the_keyboard_only(page, live_server, held, screenshots):
    moderator = log_in(page, live_server)
    page.goto(f"{live_server.url}{QUEUE}?status__exact=held")
    expect(row(page, held[0])).to_have_class("moderato-current")  # the oldest is where the keys start
    expect(page.locator("#branding")).to_contain_text(f"{len(PLAN)} held")
    fits(page)
    page.screenshot(path=screenshots / "queue.png")
    page.keyboard.press("j")
    expect(row(page, held[1])).to_have_class("moderato-current")
    page.keyboard.press("k")
    expect(row(page, held[0])).to_have_class("moderato-current")
    page.keyboard.press("?")
    expect(page.locator("#moderato-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#moderato-help")).to_be_hidden()

    for comment, (key, note, _) in zip(held, PLAN, strict=True):
        expect(row(page, comment)).to_have_class("moderato-current")
        page.keyboard.press("n")
        expect(row(page, comment).locator(".moderato-note")).to_be_focused()
        page.keyboard.type(note)
        page.keyboard.press("Enter")
        page.keyboard.press(key)
    for comment, (_, note, _) in zip(held, PLAN, strict=True):
        expect(row(page, comment).locator(".moderato-result")).to_contain_text(f"comment #{comment.pk} (note: {note})")
    page.screenshot(path=screenshots / "queue-decided.png")
    assert page.url == f"{live_server.url}{QUEUE}?status__exact=held"  # never reloaded

    for comment, (key, note, status) in zip(held, PLAN, strict=True):
        comment.refresh_from_db()
        assert comment.status == status
        decision = ModerationDecision.objects.get(comment=comment)
        assert (decision.actor, decision.action, decision.note) == (moderator, {"a": "approve", "r": "reject",
                                                                                "s": "spam"}[key], note)  # fmt: skip
        page.goto(f"{live_server.url}{QUEUE}{comment.pk}/change/")
        history = page.locator(".field-story")
        expect(history).to_contain_text(decision.get_action_display())
        expect(history).to_contain_text(note)


def test_a_moderator_decides_on_the_comment_page_with_a_key_and_a_note(page, live_server, held, screenshots):
    log_in(page, live_server)
    comment = held[0]
    parent = Comment.objects.create(
        thread=comment.thread,
        author_name="Ada",
        body="The bridge opened a year late.",
        status="published",
        decided_at=timezone.now(),
    )
    Comment.objects.filter(pk=comment.pk).update(parent=parent, root=parent, commenter="t" * 22)
    Comment.objects.create(
        thread=comment.thread,
        parent=comment,
        root=parent,
        author_name="Ben",
        body="Calm down.",
        status="held",
        decided_at=timezone.now(),
    )
    Comment.objects.create(
        thread=comment.thread,
        author_name="Reader 10",
        body="Earlier.",
        status="published",
        commenter="t" * 22,
        decided_at=timezone.now(),
    )
    page.goto(f"{live_server.url}{QUEUE}{comment.pk}/change/")
    expect(page.locator(".field-thread_context")).to_contain_text("replies to #")
    expect(page.locator(".field-thread_context")).to_contain_text("Calm down.")
    expect(page.locator(".field-commenter_history")).to_contain_text("1 published, 1 held, 0 rejected")
    fits(page)
    expect(page.locator(".field-reason_list")).to_contain_text("Held: TOXICITY 0.97, hold threshold 0.50")
    expect(page.locator(".field-explanation mark")).to_have_count(2)  # not "up", not the comma
    page.screenshot(path=screenshots / "comment-page.png", full_page=True)
    page.keyboard.press("n")
    page.keyboard.type("a reader's <b>quote</b>, not abuse")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator(".messagelist")).to_contain_text(f"Approve (publish): comment #{comment.pk}")
    expect(page.locator(".field-story")).to_contain_text("a reader's <b>quote</b>, not abuse")  # escaped
    assert page.url.startswith(f"{live_server.url}{QUEUE}{comment.pk}/change/")
    comment.refresh_from_db()
    assert comment.status == "published"


def test_a_moderator_types_a_thread_into_its_filter_and_picks_a_suggestion(page, live_server, held):
    dam = Thread.objects.create(site=held[0].thread.site, key="/news/dam", title="The dam opens")
    on_the_dam = Comment.objects.create(
        thread=dam, author_name="Dora", body="Finally.", status=Comment.Status.HELD, decided_at=timezone.now()
    )
    log_in(page, live_server)
    page.goto(f"{live_server.url}{QUEUE}?status__exact=held")
    typed = page.locator('.moderato-typed-filter input[name="thread"]')
    typed.fill("dam op")
    option = page.locator("#moderato-thread-suggestions option")
    expect(option).to_have_count(1)  # the admin's autocomplete answered
    assert option.get_attribute("value") == str(dam.pk) and option.text_content() == "The dam opens"
    typed.fill(str(dam.pk))
    typed.press("Enter")
    page.wait_for_url(f"**{QUEUE}?status__exact=held&thread={dam.pk}")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(row(page, on_the_dam)).to_be_visible()
    expect(page.locator("#changelist-filter")).to_contain_text("The dam opens")
