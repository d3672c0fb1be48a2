"""Authors edit or delete their own comment, with the commenter token their post returned, within the
site's edit window (``Site.edit_minutes``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from comments import tokens
from comments.models import Comment, CommentEdit
from comments.views import COMMENT_MESSAGE

URL = "/api/v1/comments"
CLEAN = "Thanks for the article, I learned a lot about the new bridge."


def post(api, site, **fields):
    body = {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": CLEAN} | fields
    response = api.post(URL, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def publish(comment_id):
    Comment.objects.filter(pk=comment_id).update(status=Comment.Status.PUBLISHED, decided_at=timezone.now())


@pytest.fixture
def alice(api, site):
    """Alice's published comment, and the commenter token her post returned."""
    accepted = post(api, site)
    publish(accepted["id"])
    return accepted


def edit(api, comment_id, body, token, **headers):
    return api.patch(f"{URL}/{comment_id}", {"comment": body, "commenter_token": token}, format="json", headers=headers)


def delete(api, comment_id, token):
    return api.delete(f"{URL}/{comment_id}", {"commenter_token": token}, format="json")


def test_a_post_says_until_when_its_author_may_edit_it(api, site):
    accepted = post(api, site)
    created = Comment.objects.get(pk=accepted["id"]).created_at
    assert accepted["editable_until"] == (created + timedelta(minutes=15)).isoformat()
    site.edit_minutes = 0
    site.save()
    assert post(api, site, comment="Another thought.")["editable_until"] is None


def test_it_stores_an_edit_inside_the_window_and_keeps_the_published_text(api, alice):
    response = edit(api, alice["id"], "Thanks, I learned a lot about the bridge.", alice["commenter_token"])
    assert response.status_code == 202, response.content
    assert response.json()["edit_status"] == "pending"
    assert response.json()["status_url"] == alice["status_url"]
    comment = Comment.objects.get(pk=alice["id"])
    assert comment.body == CLEAN  # published text stays until the edit is decided
    [pending] = comment.edits.all()
    assert (pending.body, pending.state) == ("Thanks, I learned a lot about the bridge.", "pending")
    listing = api.get(URL, {"site": "planet", "thread": "/news/bridge"}).json()
    assert listing["results"][0]["comment"] == CLEAN
    # The author follows the edit at the status URL; others see nothing of it.
    assert api.get(alice["status_url"]).json()["edit_status"] == "pending"
    assert "edit_status" not in api.get(f"{URL}/{alice['id']}").json()


def test_it_takes_the_token_from_the_header_too(api, alice):
    response = api.patch(
        f"{URL}/{alice['id']}",
        {"comment": "Edited through the header."},
        format="json",
        headers={"X-Commenter-Token": alice["commenter_token"]},
    )
    assert response.status_code == 202, response.content


def test_it_refuses_an_edit_after_the_window_with_403_and_a_message(api, alice):
    Comment.objects.filter(pk=alice["id"]).update(created_at=timezone.now() - timedelta(minutes=15, seconds=5))
    response = edit(api, alice["id"], "Too late.", alice["commenter_token"])
    assert response.status_code == 403
    assert response.json() == {
        "detail": "A comment can be edited or deleted for 15 minutes after it was posted; that time is over."
    }
    assert delete(api, alice["id"], alice["commenter_token"]).status_code == 403
    assert not CommentEdit.objects.exists()
    assert Comment.objects.get(pk=alice["id"]).status == "published"


def test_the_window_is_the_site_s_setting(api, site, alice):
    Comment.objects.filter(pk=alice["id"]).update(created_at=timezone.now() - timedelta(minutes=20))
    site.edit_minutes = 30
    site.save()
    assert edit(api, alice["id"], "Within half an hour.", alice["commenter_token"]).status_code == 202
    site.edit_minutes = 0
    site.save()
    response = edit(api, alice["id"], "Never.", alice["commenter_token"])
    assert response.status_code == 403
    assert "does not let authors edit" in response.json()["detail"]


@pytest.mark.parametrize("who", ["another commenter", "forged", "missing", "another site's"])
def test_it_refuses_a_token_that_is_not_the_author_s_with_403(api, site, alice, who):
    from comments.models import Site

    other_site = Site.objects.create(name="Other", public_key="other")
    token = {
        "another commenter": post(api, site, comment="Bob here.", name="Bob")["commenter_token"],
        "forged": alice["commenter_token"][:-2] + "xx",
        "missing": "",
        "another site's": tokens.commenter_token_make(
            site_id=other_site.pk, commenter=Comment.objects.get(pk=alice["id"]).commenter
        ),
    }[who]
    response = edit(api, alice["id"], "Hijacked!", token)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only the author can change this comment: the commenter token is not theirs."}
    assert delete(api, alice["id"], token).status_code == 403
    assert not CommentEdit.objects.exists()
    assert Comment.objects.get(pk=alice["id"]).deleted_at is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"comment": "  "}, {"comment": [COMMENT_MESSAGE]}),
        ({}, {"comment": [COMMENT_MESSAGE]}),
        ({"comment": "x" * 5001}, {"comment": ["Ensure this field has no more than 5000 characters."]}),
        ({"comment": CLEAN}, {"comment": ["This is the comment's text already."]}),
        ({"comment": "ok", "commenter_token": ["a", "list"]}, {"commenter_token": ["Not a valid string."]}),
    ],
)
def test_it_answers_400_with_field_messages_for_a_bad_body(api, alice, body, errors):
    body = {"commenter_token": alice["commenter_token"]} | body
    response = api.patch(f"{URL}/{alice['id']}", body, format="json")
    assert response.status_code == 400
    assert response.json() == errors


def test_malformed_json_is_a_400(api, alice):
    response = api.patch(f"{URL}/{alice['id']}", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_an_unknown_comment_is_a_404(api, alice):
    assert edit(api, 999999, "Hello", alice["commenter_token"]).status_code == 404
    assert delete(api, 999999, alice["commenter_token"]).status_code == 404


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("pending", "This comment is still being checked; try again in a moment."),
        ("held", "This comment is awaiting moderation and cannot be edited."),
        ("rejected", "This comment is awaiting moderation and cannot be edited."),
    ],
)
def test_only_a_published_comment_can_be_edited(api, alice, status, message):
    Comment.objects.filter(pk=alice["id"]).update(status=status)
    response = edit(api, alice["id"], "Changed.", alice["commenter_token"])
    assert (response.status_code, response.json()) == (409, {"detail": message})


def test_a_deleted_comment_without_replies_leaves_the_page(api, alice):
    Comment.objects.filter(pk=alice["id"]).update(author_email="alice@example.org")
    assert delete(api, alice["id"], alice["commenter_token"]).status_code == 204
    comment = Comment.objects.get(pk=alice["id"])
    assert (comment.status, comment.body, comment.author_name, comment.author_email) == ("deleted", "", "", "")
    assert comment.deleted_at is not None
    listing = api.get(URL, {"site": "planet", "thread": "/news/bridge"}).json()
    assert (listing["total"], listing["results"]) == (0, [])
    assert api.get(alice["status_url"]).status_code == 404
    assert api.get("/api/v1/counts", {"site": "planet", "thread": "/news/bridge"}).json()["counts"] == {
        "/news/bridge": 0
    }
    # Gone: neither edited nor deleted again.
    assert delete(api, alice["id"], alice["commenter_token"]).status_code == 404
    assert edit(api, alice["id"], "Back?", alice["commenter_token"]).status_code == 404


def test_a_deleted_comment_with_replies_stays_as_a_placeholder(api, site, alice):
    answer = post(api, site, name="Bob", comment="I disagree about the bridge.", parent=alice["id"])
    publish(answer["id"])
    assert delete(api, alice["id"], alice["commenter_token"]).status_code == 204
    listing = api.get(URL, {"site": "planet", "thread": "/news/bridge"}).json()
    [top] = listing["results"]
    assert {key: top[key] for key in ("id", "name", "comment", "deleted")} == {
        "id": alice["id"],
        "name": "",
        "comment": "[deleted]",
        "deleted": True,
    }
    assert [reply["comment"] for reply in top["replies"]] == ["I disagree about the bridge."]
    comment = Comment.objects.get(pk=alice["id"])
    assert (comment.status, comment.body) == ("published", "")
    assert delete(api, alice["id"], alice["commenter_token"]).status_code == 404


def test_deleting_wipes_the_text_of_its_edits_and_closes_them(api, alice):
    edit(api, alice["id"], "A second thought about the bridge.", alice["commenter_token"])
    assert delete(api, alice["id"], alice["commenter_token"]).status_code == 204
    [closed] = CommentEdit.objects.all()
    assert (closed.body, closed.state) == ("", "rejected")


def test_a_pending_comment_can_be_deleted_by_its_author(api, site):
    accepted = post(api, site)
    assert delete(api, accepted["id"], accepted["commenter_token"]).status_code == 204
    assert Comment.objects.get(pk=accepted["id"]).status == "deleted"


def test_notify_replies_needs_an_e_mail_address(api, site):
    body = {"site": site.public_key, "thread": "/t", "name": "Al", "comment": CLEAN, "notify_replies": True}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"notify_replies": ["Give an e-mail address to be told of replies."]}
    accepted = post(api, site, email="al@example.org", notify_replies=True)
    assert Comment.objects.get(pk=accepted["id"]).reply_notice == "unconfirmed"
    assert Comment.objects.get(pk=post(api, site, comment="Other.")["id"]).reply_notice == ""
