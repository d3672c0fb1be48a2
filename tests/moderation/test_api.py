"""The moderation API (/api/v1/moderation/): who may use it, the queue, a comment's story, decisions."""

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from comments.models import Comment, Site, Thread
from moderation import learning, services
from moderation.models import CommenterFlag, ModerationAction, ModerationDecision, ModeratorLanguages, Notification
from moderation.moderator_tokens import moderator_token_create
from tests.conftest import moderate_every_site

QUEUE = "/api/v1/moderation/comments"
HELD_FOR_TOXICITY = {"code": "hold_threshold", "attribute": "TOXICITY", "score": 0.91, "threshold": 0.5}


def story_url(comment) -> str:
    return f"{QUEUE}/{comment.pk}"


def decide_url(comment) -> str:
    return f"{QUEUE}/{comment.pk}/decide"


@pytest.fixture
def thread(site):
    return Thread.objects.create(site=site, key="/news/bridge")


@pytest.fixture
def other_site(db):
    return Site.objects.create(name="Other Gazette", public_key="gazette")


def moderator(username: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return user


@pytest.fixture
def alice(db):
    """A moderator of every site."""
    return moderate_every_site(moderator("alice"))


@pytest.fixture
def carol(site):
    """A moderator of the Daily Planet only."""
    user = moderator("carol")
    site.policy.moderators.add(user)
    return user


def client_of(user) -> APIClient:
    """A client that sends a new token of ``user``."""
    _, key = moderator_token_create(user=user, name="newsroom desk")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def make(thread, body, status="held", minutes_ago=0, parent=None, **fields):
    comment = Comment.objects.create(
        thread=thread,
        parent=parent,
        root=(parent.root or parent) if parent else None,
        author_name=fields.pop("author_name", "Reader"),
        body=body,
        status=status,
        decided_at=None if status == "pending" else timezone.now(),
        **fields,
    )
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return comment


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# Who may use it.


def test_it_answers_401_without_credentials_and_with_a_token_that_is_not_valid(thread, alice):
    comment = make(thread, "held")
    for method, url in (("get", QUEUE), ("get", story_url(comment)), ("post", decide_url(comment))):
        response = getattr(APIClient(), method)(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == 'Bearer realm="moderation"'
    for header in ("Bearer mtk_" + "0" * 48, "Bearer", "Bearer two words"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get(QUEUE).status_code == 401, header
    assert Comment.objects.get(pk=comment.pk).status == "held"


def test_a_token_acts_as_its_moderator(thread, alice):
    comment = make(thread, "held", scores={"TOXICITY": 0.91}, reasons=[HELD_FOR_TOXICITY], language="en")
    answer = client_of(alice).get(QUEUE)
    assert answer.status_code == 200
    row = answer.json()["results"][0]
    assert row["id"] == comment.pk and row["scores"] == {"TOXICITY": 0.91} and row["reasons"] == [HELD_FOR_TOXICITY]


def test_it_refuses_staff_who_are_not_moderators_and_moderators_who_are_not_staff(thread, alice):
    make(thread, "held")
    client = client_of(alice)
    alice.groups.clear()  # the token stays, the permission goes
    answer = client.get(QUEUE)
    assert answer.status_code == 403 and "staff moderators" in answer.json()["detail"]
    alice.groups.add(Group.objects.get(name="moderators"))
    User.objects.filter(pk=alice.pk).update(is_staff=False)
    assert client.get(QUEUE).status_code == 403


def test_the_admin_session_works_and_a_decision_through_it_needs_the_csrf_token(thread, alice):
    comment = make(thread, "held")
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(alice)
    assert ids(session.get(QUEUE)) == [comment.pk]
    refused = session.post(decide_url(comment), {"action": "approve", "expected_status": "held"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not ModerationDecision.objects.exists()
    session.get("/admin/")  # the admin page sets the CSRF cookie, as the admin's own script reads it
    token = session.cookies["csrftoken"].value
    done = session.post(
        decide_url(comment), {"action": "approve", "expected_status": "held"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert done.status_code == 200 and done.json()["status"] == "published"


def test_a_page_of_another_origin_can_send_neither_a_token_nor_the_session(thread):
    """/api/v1/ answers the sites' origins (the widget), but never with credentials or an Authorization header."""
    origin = {"HTTP_ORIGIN": "https://planet.example"}  # the site fixture's allowed origin
    preflight = APIClient().options(
        QUEUE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization", **origin
    )
    assert preflight["Access-Control-Allow-Origin"] == "https://planet.example"
    assert "authorization" not in preflight["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight
    assert "Access-Control-Allow-Credentials" not in APIClient().get(QUEUE, **origin)


# The queue.


def test_the_queue_lists_held_comments_oldest_first_with_what_a_moderator_needs(thread, alice):
    make(thread, "published one", status="published", minutes_ago=30)
    newer = make(thread, "newer held", minutes_ago=1)
    scored = {
        "scores": {"TOXICITY": 0.91},
        "model_versions": {"TOXICITY": "toxicity-x"},
        "reasons": [HELD_FOR_TOXICITY],
    }
    older = make(thread, "older held", minutes_ago=10, author_name="Mallory", language="en", script="Latn", **scored)
    answer = client_of(alice).get(QUEUE)
    assert ids(answer) == [older.pk, newer.pk]
    body = answer.json()
    assert body["next"] is None and body["previous"] is None
    row = body["results"][0]
    assert row == row | {
        "status": "held",
        "site": "planet",
        "thread": {"id": thread.pk, "key": "/news/bridge", "title": ""},
        "parent": None,
        "author_name": "Mallory",
        "body": "older held",
        "language": "en",
        "script": "Latn",
        "scores": {"TOXICITY": 0.91},
        "model_versions": {"TOXICITY": "toxicity-x"},
        "reasons": [HELD_FOR_TOXICITY],
        "admin_url": f"http://testserver/admin/comments/comment/{older.pk}/change/",
    }
    assert 599 <= row["age_seconds"] <= 660
    assert set(row) >= {"created_at", "decided_at"}


def test_the_queue_filters_by_status_site_thread_language_script_and_attribute(thread, alice, other_site):
    dam = Thread.objects.create(site=thread.site, key="/news/dam")
    elsewhere = Thread.objects.create(site=other_site, key="/news/bridge")
    bulgarian = make(thread, "Задържан", language="bg", script="Cyrl", reasons=[HELD_FOR_TOXICITY], minutes_ago=5)
    undetected = make(dam, "??", language="", script="", minutes_ago=4)
    spam = make(elsewhere, "buy", language="en", script="Latn", minutes_ago=3,
                reasons=[{"code": "hold_threshold", "attribute": "SPAM", "score": 0.9, "threshold": 0.5}])  # fmt: skip
    pending = make(thread, "waiting", status="pending", minutes_ago=2)
    client = client_of(alice)
    assert ids(client.get(QUEUE)) == [bulgarian.pk, undetected.pk, spam.pk]
    assert ids(client.get(QUEUE, {"status": "pending"})) == [pending.pk]
    assert ids(client.get(QUEUE, {"site": "gazette"})) == [spam.pk]
    assert ids(client.get(QUEUE, {"site": "planet", "thread": "news/bridge"})) == [bulgarian.pk]  # one spelling
    assert ids(client.get(QUEUE, {"thread": "/news/bridge"})) == [bulgarian.pk, spam.pk]
    assert ids(client.get(QUEUE, {"language": "bg"})) == [bulgarian.pk]
    assert ids(client.get(QUEUE, {"language": "und"})) == [undetected.pk]
    assert ids(client.get(QUEUE, {"script": "Latn"})) == [spam.pk]
    assert ids(client.get(QUEUE, {"attribute": "SPAM"})) == [spam.pk]
    assert ids(client.get(QUEUE, {"attribute": "TOXICITY"})) == [bulgarian.pk]
    assert ids(client.get(QUEUE, {"site": "no-such-site"})) == []


def test_bad_filters_answer_400_with_the_field_s_message(thread, alice):
    client = client_of(alice)
    for query, field in [
        ({"status": "deleted"}, "status"),
        ({"language": "Bulgarian"}, "language"),
        ({"script": "cyrillic"}, "script"),
        ({"attribute": "RUDENESS"}, "attribute"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"site": "not a key!"}, "site"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]:
        answer = client.get(QUEUE, query)
        assert answer.status_code == 400, query
        assert list(answer.json()) == [field], answer.json()


def test_the_queue_pages_by_cursor_without_losing_or_repeating_a_comment(thread, alice):
    made = [make(thread, f"held {n}", minutes_ago=60 - n).pk for n in range(7)]
    client = client_of(alice)
    answer = client.get(QUEUE, {"page_size": 3})
    seen = ids(answer)
    while answer.json()["next"]:
        answer = client.get(answer.json()["next"])
        seen += ids(answer)
    assert seen == made
    assert ids(client.get(answer.json()["previous"])) == made[3:6]


def test_the_queue_costs_the_same_queries_for_a_page_of_5_as_for_a_page_of_100(thread, alice):
    for n in range(120):
        make(thread, f"held {n}", minutes_ago=200 - n, scores={"TOXICITY": 0.6}, reasons=[HELD_FOR_TOXICITY])
    client = client_of(alice)
    client.get(QUEUE, {"page_size": 1})  # the token's last use is written once, not on every request
    counts = {}
    for size in (5, 100):
        with CaptureQueriesContext(connection) as queries:
            assert len(ids(client.get(QUEUE, {"page_size": size}))) == size
        counts[size] = len(queries)
    assert counts[5] == counts[100] <= 6, counts


# Sites and languages.


def test_a_moderator_of_one_site_neither_sees_nor_decides_another_site_s_comments(thread, carol, other_site):
    mine = make(thread, "mine")
    theirs = make(Thread.objects.create(site=other_site, key="/x"), "theirs")
    client = client_of(carol)
    assert ids(client.get(QUEUE)) == [mine.pk]
    assert ids(client.get(QUEUE, {"site": "gazette"})) == []
    assert client.get(story_url(theirs)).status_code == 404
    answer = client.post(decide_url(theirs), {"action": "approve", "expected_status": "held"}, format="json")
    assert answer.status_code == 404 and answer.json() == {"detail": "No such comment."}
    assert Comment.objects.get(pk=theirs.pk).status == "held" and not ModerationDecision.objects.exists()
    assert client.get(f"{QUEUE}/999999").json() == {"detail": "No such comment."}  # as absent as a missing one


def test_a_moderator_limited_to_languages_sees_and_decides_only_those(thread, alice):
    ModeratorLanguages.objects.create(user=alice, languages="bg")
    bulgarian = make(thread, "Задържан", language="bg", script="Cyrl")
    albanian = make(thread, "Koment", language="sq", script="Latn")
    client = client_of(alice)
    assert ids(client.get(QUEUE)) == [bulgarian.pk]
    assert client.get(story_url(albanian)).status_code == 404
    decided = client.post(decide_url(albanian), {"action": "reject", "expected_status": "held"}, format="json")
    assert decided.status_code == 404 and Comment.objects.get(pk=albanian.pk).status == "held"


# Deciding.


def test_a_decision_through_the_api_leaves_the_state_the_admin_s_button_leaves(thread, alice):
    thread.site.policy.webhook_url = "https://planet.example/hook"
    thread.site.policy.save()
    by_button = make(thread, "Buy cheap pills at example.com", minutes_ago=2)
    by_api = make(thread, "Buy cheap pills at example.com", minutes_ago=1)
    admin = Client()
    admin.force_login(alice)
    clicked = admin.post(
        f"/admin/comments/comment/{by_button.pk}/decide/",
        {"action": "spam", "note": "advert", "status": "held"},
        HTTP_ACCEPT="application/json",
    )
    assert clicked.status_code == 200
    answer = client_of(alice).post(
        decide_url(by_api), {"action": "spam", "note": " advert ", "expected_status": "held"}, format="json"
    )
    assert answer.status_code == 200
    decision = ModerationDecision.objects.get(comment=by_api)
    assert answer.json() == {
        "comment": by_api.pk,
        "status": "rejected",
        "decision": {
            "id": decision.pk,
            "actor": "alice",
            "action": "spam",
            "from_status": "held",
            "to_status": "rejected",
            "labels": {"SPAM": 1},
            "note": "advert",
            "created_at": answer.json()["decision"]["created_at"],
        },
    }

    def state(comment):
        row = ModerationDecision.objects.get(comment=comment)
        fresh = Comment.objects.get(pk=comment.pk)
        events = list(Notification.objects.filter(comment=comment).values_list("kind", "event"))
        return (row.actor, row.action, row.from_status, row.to_status, row.labels, row.note, fresh.status, events)

    assert state(by_api) == state(by_button) == (
        alice, "spam", "held", "rejected", {"SPAM": 1}, "advert", "rejected", [("webhook", "comment.rejected")]
    )  # fmt: skip
    labels = [(row.text, row.label) for row in learning.training_rows(name="spam", api_labels=False)]
    assert labels == [("Buy cheap pills at example.com", 1)] * 2  # both teach the spam model alike
    assert learning.moderator_label_counts(decisions=ModerationDecision.objects.all()) == {"SPAM": Counter({1: 2})}


@pytest.mark.parametrize(
    ("action", "status", "labels"),
    [
        ("approve", "published", {}),
        ("reject", "rejected", {}),
        ("not_spam", "published", {"SPAM": 0}),
        ("toxic", "rejected", {"TOXICITY": 1}),
        ("not_toxic", "published", {"TOXICITY": 0}),
    ],
)
def test_each_action_sets_its_status_and_its_label(thread, alice, action, status, labels):
    comment = make(thread, "text")
    answer = client_of(alice).post(decide_url(comment), {"action": action, "expected_status": "held"}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["decision"]["labels"]) == (status, labels)
    assert Comment.objects.get(pk=comment.pk).status == status


def test_a_comment_someone_decided_meanwhile_answers_409_and_changes_nothing(thread, alice, carol):
    comment = make(thread, "text")
    services.comment_moderate(
        comment_id=comment.pk, actor=carol, action=ModerationAction.REJECT, expected_status="held"
    )  # carol's click landed first
    answer = client_of(alice).post(
        decide_url(comment), {"action": "approve", "expected_status": "held", "note": "fine"}, format="json"
    )
    assert answer.status_code == 409
    body = answer.json()
    assert body["status"] == "rejected"
    assert body["detail"].startswith(f"Comment #{comment.pk} is rejected now, no longer held.")
    assert "Latest decision: Reject (remove, no label) by carol at " in body["detail"]
    assert body["last_decision"] == body["last_decision"] | {
        "actor": "carol",
        "action": "reject",
        "to_status": "rejected",
    }
    assert Comment.objects.get(pk=comment.pk).status == "rejected"
    assert list(ModerationDecision.objects.values_list("actor__username", flat=True)) == ["carol"]


@pytest.mark.django_db(transaction=True)
def test_two_moderators_deciding_one_comment_at_once_get_one_200_and_one_409(site):
    """Two requests in flight together, each on its own connection: the service's locked compare-and-set
    lets exactly one through."""
    comment = make(Thread.objects.create(site=site, key="/news/race"), "text")
    clients = [client_of(moderate_every_site(moderator(name))) for name in ("alice", "dave")]
    start = threading.Barrier(2)
    answers = {}

    def decide(number: int, action: str) -> None:
        try:
            start.wait()
            body = {"action": action, "expected_status": "held"}
            answers[action] = clients[number].post(decide_url(comment), body, format="json")
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=decide, args=pair) for pair in enumerate(("approve", "reject"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    codes = sorted(answer.status_code for answer in answers.values())
    assert codes == [200, 409], {action: answer.content for action, answer in answers.items()}
    winner = next(action for action, answer in answers.items() if answer.status_code == 200)
    [decision] = ModerationDecision.objects.all()
    assert decision.action == winner
    assert Comment.objects.get(pk=comment.pk).status == {"approve": "published", "reject": "rejected"}[winner]


def test_a_comment_the_pipeline_decided_meanwhile_answers_409_without_a_last_decision(thread, alice):
    comment = make(thread, "text", status="published")
    answer = client_of(alice).post(decide_url(comment), {"action": "reject", "expected_status": "held"}, format="json")
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": f"Comment #{comment.pk} is published now, no longer held.",
        "status": "published",
        "last_decision": None,
    }


def test_bad_decisions_answer_400_with_the_field_s_message_and_change_nothing(thread, alice):
    comment = make(thread, "text")
    client = client_of(alice)
    for body, field in [
        ({"action": "publish_everything", "expected_status": "held"}, "action"),
        ({"action": "approve"}, "expected_status"),
        ({"action": "approve", "expected_status": "maybe"}, "expected_status"),
        ({"action": "approve", "expected_status": "held", "note": "x" * 501}, "note"),
        ({"action": "approve", "expected_status": "held", "note": "\ud800"}, "note"),
        ({"expected_status": "held"}, "action"),
    ]:
        answer = client.post(decide_url(comment), json.dumps(body), content_type="application/json")
        assert answer.status_code == 400, body
        assert list(answer.json()) == [field], answer.json()
    malformed = client.post(decide_url(comment), "{not json", content_type="application/json")
    assert malformed.status_code == 400
    assert Comment.objects.get(pk=comment.pk).status == "held" and not ModerationDecision.objects.exists()


# A comment's story.


def test_the_story_tells_the_parent_the_direct_replies_the_commenter_and_the_decisions(thread, alice, carol):
    parent = make(thread, "the article is wrong", status="published", minutes_ago=30, author_name="Bob")
    comment = make(thread, "you are wrong", parent=parent, minutes_ago=20, author_name="Mallory",
                   commenter="mallory-token", ip_hash="a1" * 32)  # fmt: skip
    make(thread, "a sibling", parent=parent, minutes_ago=15)
    reply = make(thread, "calm down", status="published", parent=comment, minutes_ago=10)
    make(thread, "earlier, by the same commenter", status="rejected", minutes_ago=60, commenter="mallory-token")
    CommenterFlag.objects.create(site=thread.site, identity="ip:" + "a1" * 32, kind="blocked")
    services.comment_moderate(comment_id=comment.pk, actor=carol, action=ModerationAction.TOXIC, note="insult")

    answer = client_of(alice).get(story_url(comment))
    assert answer.status_code == 200
    story = answer.json()
    assert story["comment"]["id"] == comment.pk and story["comment"]["status"] == "rejected"
    assert story["parent"] == story["parent"] | {"id": parent.pk, "author_name": "Bob", "status": "published"}
    assert [r["id"] for r in story["replies"]] == [reply.pk] and story["more_replies"] is False
    assert story["commenter"]["counts"] == story["commenter"]["counts"] | {"rejected": 2, "published": 0}
    assert story["commenter"]["flags"] == [{"basis": "ip", "kind": "blocked"}]  # what it rests on, not the hash
    submitted, event = story["history"]  # the comments here were written straight, never scored
    assert submitted == submitted | {"kind": "submitted", "actor": "reader"}
    assert event == event | {
        "kind": "decided",
        "actor": "person",
        "user": "carol",
        "action": "toxic",
        "from_status": "held",
        "to_status": "rejected",
        "labels": {"TOXICITY": 1},
        "note": "insult",
    }


def test_the_story_of_a_top_level_comment_with_many_replies_says_there_are_more(thread, alice):
    comment = make(thread, "top", status="published", minutes_ago=60)
    for n in range(21):
        make(thread, f"reply {n}", status="published", parent=comment, minutes_ago=50 - n)
    story = client_of(alice).get(story_url(comment)).json()
    assert story["parent"] is None and len(story["replies"]) == 20 and story["more_replies"] is True
    assert [line["kind"] for line in story["history"]] == ["submitted"]


# The schema.


def test_the_schema_documents_the_moderation_api_with_its_credentials(db):
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        (path, method): operation
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/moderation/")
        for method, operation in item.items()
    }
    assert set(operations) == {
        ("/api/v1/moderation/comments", "get"),
        ("/api/v1/moderation/comments/{id}", "get"),
        ("/api/v1/moderation/comments/{id}/decide", "post"),
    }
    for operation in operations.values():
        assert operation["security"] == [{"moderatorToken": []}, {"cookieAuth": []}]  # never anonymous
        assert operation["tags"] == ["moderation"] and operation["description"]
        assert {"401", "403"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["moderatorToken"]["scheme"] == "bearer"
    decide = operations["/api/v1/moderation/comments/{id}/decide", "post"]
    assert {"400", "404", "409"} <= set(decide["responses"])
    queue = operations["/api/v1/moderation/comments", "get"]
    parameters = {parameter["name"] for parameter in queue["parameters"]}
    assert {"status", "site", "thread", "language", "script", "attribute", "cursor", "page_size"} <= parameters
    queued = schema["components"]["schemas"]["QueueComment"]["properties"]
    assert queued["age_seconds"]["description"] and queued["reasons"]["description"]
