"""An author's edit through the API, scored by a real Celery worker process: the published text stays
until the edit is decided."""

import time

import httpx
import pytest

from comments.models import Comment, CommentEdit
from tests.conftest import wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
CLEAN_EDIT = "Thanks for the article, I learned a lot about the new bridge and its long history."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"


def wait_for_edit(edit_id: int, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = CommentEdit.objects.get(pk=edit_id).state
        if state != "pending":
            return state
        time.sleep(0.1)
    raise AssertionError(f"edit {edit_id} still pending after {timeout} s")


def test_a_worker_scores_an_edit_and_the_published_text_stays_until_it_is_decided(worker, live_server, site):
    api = f"{live_server.url}/api/v1/comments"
    posted = httpx.post(api, json={"site": "planet", "thread": "/news/bridge", "name": "Alice", "comment": CLEAN})
    accepted = posted.json()
    assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "published"
    before = Comment.objects.get(pk=accepted["id"]).scores

    toxic = httpx.patch(
        f"{api}/{accepted['id']}", json={"comment": TOXIC, "commenter_token": accepted["commenter_token"]}
    )
    assert toxic.status_code == 202, toxic.text
    held = CommentEdit.objects.get(comment_id=accepted["id"])
    assert wait_for_edit(held.pk) == "held"
    listing = httpx.get(api, params={"site": "planet", "thread": "/news/bridge"}).json()
    assert listing["results"][0]["comment"] == CLEAN  # still the published text
    assert httpx.get(accepted["status_url"]).json()["edit_status"] == "held"

    clean = httpx.patch(
        f"{api}/{accepted['id']}",
        json={"comment": CLEAN_EDIT},
        headers={"X-Commenter-Token": accepted["commenter_token"]},
    )
    assert clean.status_code == 202, clean.text
    assert CommentEdit.objects.get(pk=held.pk).state == "rejected"  # superseded by the newer edit
    newer = CommentEdit.objects.filter(comment_id=accepted["id"]).latest("pk")
    assert wait_for_edit(newer.pk) == "published"
    comment = Comment.objects.get(pk=accepted["id"])
    assert (comment.body, comment.status) == (CLEAN_EDIT, "published")
    assert comment.scores != before  # scored again by the worker, on the new text
    listing = httpx.get(api, params={"site": "planet", "thread": "/news/bridge"}).json()
    assert listing["results"][0]["comment"] == CLEAN_EDIT
    assert "edited" in listing["results"][0]
    assert httpx.get(accepted["status_url"]).json()["edit_status"] == "published"
