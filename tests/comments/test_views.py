from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from comments import selectors
from comments.models import Comment, Thread
from comments.views import COMMENT_MESSAGE, NAME_MESSAGE

URL = "/api/v1/comments"


def post(api, body, **headers):
    return api.post(URL, body, format="json", headers=headers)


def reply(site, /, **fields):
    return {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": "Nice piece."} | fields


def published(thread, body="Agreed.", parent=None, name="Bob"):
    return Comment.objects.create(
        thread=thread,
        parent=parent,
        root=(parent.root or parent) if parent else None,
        author_name=name,
        body=body,
        status=Comment.Status.PUBLISHED,
        decided_at=timezone.now(),
    )


def test_it_accepts_a_reply_with_202_and_a_status_url(api, site):
    response = post(api, reply(site, email="alice@example.org"))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["status_url"].startswith(f"http://testserver/api/v1/comments/{body['id']}?token=")
    assert body["commenter_token"]
    comment = Comment.objects.get(pk=body["id"])
    assert (comment.status, comment.author_name, comment.author_email) == ("pending", "Alice", "alice@example.org")
    assert comment.thread.key == "/news/bridge"


def test_it_never_stores_the_raw_ip_address(api, site):
    response = api.post(URL, reply(site), format="json", REMOTE_ADDR="203.0.113.7")
    comment = Comment.objects.get(pk=response.json()["id"])
    assert len(comment.ip_hash) == 64
    assert "203.0.113.7" not in str(Comment.objects.filter(pk=comment.pk).values().get())


@pytest.mark.parametrize("comment", ["", "   \n\t ", None])
def test_it_asks_for_the_comment_when_it_is_empty(api, site, comment):
    response = post(api, reply(site, comment=comment))
    assert response.status_code == 400
    assert response.json() == {"comment": ["Please enter your comment!"]}


def test_it_asks_for_the_name_when_it_is_empty(api, site):
    response = post(api, reply(site, name=" "))
    assert response.status_code == 400
    assert response.json() == {"name": ["Please enter your name here"]}


def test_it_asks_for_both_when_both_are_missing(api, site):
    response = post(api, {"site": site.public_key, "thread": "/a"})
    assert response.status_code == 400
    assert response.json() == {"comment": ["Please enter your comment!"], "name": ["Please enter your name here"]}


def test_it_refuses_an_unknown_site_under_its_field(api, site):
    response = post(api, reply(site, site="nope"))
    assert response.status_code == 400
    assert response.json() == {"site": ["Unknown site."]}
    assert not Comment.objects.exists()


def test_it_refuses_a_closed_thread(api, site):
    Thread.objects.create(site=site, key="/old", is_open=False)
    response = post(api, reply(site, thread="/old"))
    assert response.status_code == 400
    assert response.json() == {"thread": ["This thread is closed."]}
    assert not Comment.objects.exists()


def test_a_site_closes_its_threads_the_given_days_after_they_began(api, site, monkeypatch):
    site.close_after_days = 7
    site.save()
    began = Thread.objects.create(site=site, key="/news/bridge").created_at
    monkeypatch.setattr(timezone, "now", lambda: began + timedelta(days=7, seconds=-1))
    assert post(api, reply(site)).status_code == 202

    monkeypatch.setattr(timezone, "now", lambda: began + timedelta(days=7))
    response = post(api, reply(site, comment="Too late."))
    assert response.status_code == 400
    assert response.json() == {"thread": ["This thread is closed."]}
    assert list(Comment.objects.values_list("body", flat=True)) == ["Nice piece."]
    # A thread that begins now on the same site takes comments.
    monkeypatch.undo()
    assert post(api, reply(site, thread="/news/tunnel", comment="Too late?")).status_code == 202


def test_a_comment_to_a_premoderated_thread_is_accepted_then_held(api, site):
    from moderation import services as moderation
    from moderation.models import ThreadPolicy

    ThreadPolicy.objects.create(thread=Thread.objects.create(site=site, key="/news/bridge"), hold_all=True)
    answer = post(api, reply(site))
    assert answer.status_code == 202 and answer.json()["status"] == "pending"

    moderation.comment_score(comment_id=answer.json()["id"])
    comment = Comment.objects.get(pk=answer.json()["id"])
    assert comment.status == "held" and [r["code"] for r in comment.reasons] == ["thread_premoderation"]
    assert api.get(answer.json()["status_url"]).json()["status"] == "held"


def test_the_thread_listing_says_whether_it_takes_comments_and_until_when(api, site):
    site.close_after_days = 10
    site.save()
    thread = Thread.objects.create(site=site, key="/news/bridge")
    query = {"site": site.public_key, "thread": "/news/bridge"}
    first = api.get(URL, query)
    assert (first.json()["open"], first.json()["closes_at"]) == (
        True,
        (thread.created_at + timedelta(days=10)).isoformat(),
    )
    etag = first.headers["ETag"]
    assert api.get(URL, query, HTTP_IF_NONE_MATCH=etag).status_code == 304

    # Closing changes no comment, but a browser's copy with the form is not confirmed.
    Thread.objects.filter(pk=thread.pk).update(is_open=False)
    closed = api.get(URL, query, HTTP_IF_NONE_MATCH=etag)
    assert closed.status_code == 200 and (closed.json()["open"], closed.json()["closes_at"]) == (False, None)
    path = api.get("/api/v1/threads/news/bridge/comments", {"site": site.public_key})
    assert path.json()["open"] is False
    # A thread not made yet takes a first comment if the site makes threads for them.
    unknown = {"site": site.public_key, "thread": "/news/new"}
    assert (api.get(URL, unknown).json()["open"], api.get(URL, unknown).json()["closes_at"]) == (True, None)
    site.auto_create_threads = False
    site.save()
    assert api.get(URL, unknown).json()["open"] is False


def test_it_refuses_an_unknown_thread_when_the_site_does_not_create_them(api, site):
    site.auto_create_threads = False
    site.save()
    response = post(api, reply(site, thread="/new"))
    assert response.json() == {"thread": ["Unknown thread."]}
    assert not Thread.objects.exists()


def test_it_refuses_an_unknown_parent_and_a_parent_in_another_thread(api, site):
    other = published(Thread.objects.create(site=site, key="/other"))
    assert post(api, reply(site, parent=999999)).json() == {"parent": ["Unknown parent comment."]}
    assert post(api, reply(site, parent=other.pk)).json() == {
        "parent": ["The parent comment belongs to another thread."]
    }


def test_it_refuses_a_reply_to_a_comment_that_is_not_published(api, site):
    thread = Thread.objects.create(site=site, key="/news/bridge")
    held = Comment.objects.create(
        thread=thread, author_name="Eve", body="x", status=Comment.Status.HELD, decided_at=timezone.now()
    )
    assert post(api, reply(site, parent=held.pk)).json() == {"parent": ["Unknown parent comment."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("comment", "x" * 5001), ("name", "x" * 101), ("thread", "/" + "x" * 500), ("email", "a" * 250 + "@example.org")],
)
def test_it_refuses_over_long_fields_under_their_name(api, site, field, value):
    response = post(api, reply(site, **{field: value}))
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize(
    ("field", "value"), [("email", "not-an-email"), ("parent", "abc"), ("parent", 2**70), ("comment", "a\x00b")]
)
def test_it_refuses_malformed_values_under_their_name(api, site, field, value):
    response = post(api, reply(site, **{field: value}))
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_it_refuses_lone_surrogates_instead_of_failing_in_the_database(api, site):
    body = '{"site": "planet", "thread": "/a", "name": "Al", "comment": "bad \\ud800 text"}'
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["comment"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', ""])
def test_it_answers_400_to_malformed_json(api, site, body):
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert not Comment.objects.exists()


def test_it_replays_a_repeated_idempotency_key_and_creates_nothing(api, site):
    first = post(api, reply(site), **{"Idempotency-Key": "k-1"})
    second = post(api, reply(site), **{"Idempotency-Key": "k-1"})
    assert second.status_code == 202
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Comment.objects.count() == 1


def test_it_answers_409_to_a_reused_idempotency_key_with_another_body(api, site):
    post(api, reply(site), **{"Idempotency-Key": "k-1"})
    response = post(api, reply(site, comment="Something else."), **{"Idempotency-Key": "k-1"})
    assert response.status_code == 409
    assert Comment.objects.count() == 1


def test_it_keeps_idempotency_keys_per_site(api, site):
    from comments.models import Site

    Site.objects.create(name="Other", public_key="other")
    post(api, reply(site), **{"Idempotency-Key": "k-1"})
    response = post(api, reply(site, site="other"), **{"Idempotency-Key": "k-1"})
    assert response.status_code == 202
    assert Comment.objects.count() == 2


def test_it_shows_a_rejected_comment_as_held_to_the_public(api, site):
    response = post(api, reply(site))
    comment = Comment.objects.get(pk=response.json()["id"])
    assert api.get(response.json()["status_url"]).json()["status"] == "pending"
    Comment.objects.filter(pk=comment.pk).update(status="rejected", decided_at=timezone.now(), scores={"SPAM": 0.99})
    body = api.get(response.json()["status_url"]).json()
    assert body["status"] == "held"
    assert "moderation" not in body and "comment" not in body


def test_it_shows_scores_and_reasons_to_a_moderator_only(api, site):
    response = post(api, reply(site))
    comment_id = response.json()["id"]
    Comment.objects.filter(pk=comment_id).update(
        status="rejected", decided_at=timezone.now(), scores={"SPAM": 0.99}, reasons=[{"code": "reject_threshold"}]
    )
    bob = User.objects.create_user("bob", password="pw")
    api.force_authenticate(bob)
    assert "moderation" not in api.get(f"{URL}/{comment_id}").json()
    bob.user_permissions.add(*Permission.objects.filter(codename__in=["can_moderate", "moderate_all_sites"]))
    bob = User.objects.get(pk=bob.pk)  # drop the permission cache
    api.force_authenticate(bob)
    moderation = api.get(f"{URL}/{comment_id}").json()["moderation"]
    assert moderation["status"] == "rejected"
    assert moderation["scores"] == {"SPAM": 0.99}
    assert moderation["reasons"] == [{"code": "reject_threshold"}]


def test_it_shows_a_published_comment_with_its_text(api, site):
    comment = published(Thread.objects.create(site=site, key="/a"), body="Line one\nline two")
    body = api.get(f"{URL}/{comment.pk}").json()
    assert body["status"] == "published"
    assert body["comment"]["comment"] == "Line one\nline two"


def test_it_answers_404_for_an_unknown_comment(api, db):
    assert api.get(f"{URL}/12345").status_code == 404


def test_it_lists_only_published_comments_with_replies_nested(api, site):
    thread = Thread.objects.create(site=site, key="/news/2026/bridge")
    first = published(thread, "First")
    answer = published(thread, "Answer", parent=first)
    published(thread, "Answer to the answer", parent=answer)
    second = published(thread, "Second")
    Comment.objects.create(thread=thread, author_name="Eve", body="held", status="held", decided_at=timezone.now())
    Comment.objects.create(thread=thread, parent=second, root=second, author_name="Eve", body="pending")
    response = api.get("/api/v1/threads/news/2026/bridge/comments", {"site": "planet"})
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["total"]) == (2, 4)
    assert [c["comment"] for c in body["results"]] == ["First", "Second"]
    assert body["results"][0]["replies"][0]["comment"] == "Answer"
    assert body["results"][0]["replies"][0]["replies"][0]["comment"] == "Answer to the answer"
    assert body["results"][1]["replies"] == []
    assert "author_email" not in str(body) and "ip_hash" not in str(body)
    same = api.get(URL, {"site": "planet", "thread": "news/2026/bridge"}).json()
    assert same == body


def test_a_staff_reply_is_listed_with_staff_true_and_a_reader_s_comment_without_the_field(api, site):
    thread = Thread.objects.create(site=site, key="/news/bridge")
    question = published(thread, "When did it open?")
    Comment.objects.filter(pk=published(thread, "In 2025.", parent=question, name="Daily Planet").pk).update(
        by_staff=True
    )
    [listed] = api.get(URL, {"site": "planet", "thread": "/news/bridge"}).json()["results"]
    assert "staff" not in listed
    assert listed["replies"][0] | {"created": ""} == {
        "id": listed["replies"][0]["id"], "parent": question.pk, "name": "Daily Planet", "comment": "In 2025.",
        "created": "", "staff": True, "replies": [],
    }  # fmt: skip


def test_it_pages_top_level_comments_oldest_first(api, site):
    thread = Thread.objects.create(site=site, key="/a")
    for n in range(5):
        published(thread, f"c{n}")
    page = api.get(URL, {"site": "planet", "thread": "/a", "page_size": 2, "page": 2}).json()
    assert [c["comment"] for c in page["results"]] == ["c2", "c3"]
    assert page["count"] == 5
    assert page["next"].endswith("page=3") and page["previous"].endswith("page=1")
    last = api.get(page["next"]).json()
    assert [c["comment"] for c in last["results"]] == ["c4"] and last["next"] is None


def test_it_lists_an_unknown_thread_as_empty(api, site):
    body = api.get(URL, {"site": "planet", "thread": "/nobody-commented"}).json()
    assert (body["count"], body["total"], body["results"]) == (0, 0, [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"thread": "/a"}, "site"),
        ({"site": "nope", "thread": "/a"}, "site"),
        ({"site": "planet"}, "thread"),
        ({"site": "planet", "thread": "/a", "page": 0}, "page"),
        ({"site": "planet", "thread": "/a", "page_size": 1000}, "page_size"),
    ],
)
def test_it_refuses_bad_listing_queries_under_their_name(api, site, query, field):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()


def test_it_counts_published_comments_per_thread(api, site):
    a = Thread.objects.create(site=site, key="/a")
    published(a)
    published(a, parent=published(a))
    Comment.objects.create(thread=a, author_name="Eve", body="pending")
    response = api.get("/api/v1/counts?site=planet&thread=/a&thread=/b")
    assert response.json() == {"counts": {"/a": 3, "/b": 0}}
    assert api.get("/api/v1/counts?site=planet").status_code == 400


def test_it_serves_the_openapi_schema_and_the_docs(api, db):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/comments" in schema.json()["paths"]
    assert api.get("/api/docs/").status_code == 200


def test_it_limits_submissions_per_address_with_retry_after(api, site, settings):
    settings.MODERATO_SUBMIT_RATE = "2/minute"
    for _ in range(2):
        assert api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.20").status_code == 202
    limited = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.20")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    # A forged X-Forwarded-For does not buy a fresh budget when no proxy is trusted.
    forged = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert forged.status_code == 429
    assert api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.21").status_code == 202
    assert Comment.objects.count() == 3


DEAD_REDIS_CACHE = {
    "default": {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def test_with_the_rate_limits_store_down_a_submission_is_still_stored(api, site, settings, caplog):
    settings.MODERATO_SUBMIT_RATE = "10/minute"  # the default
    settings.CACHES = DEAD_REDIS_CACHE
    response = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.30")
    assert response.status_code == 202
    assert Comment.objects.filter(pk=response.json()["id"]).exists()
    assert "rate limit comment_submit not applied" in caplog.text


def test_it_answers_cors_preflights_for_allowed_origins_only(api, site):
    allowed = api.options(URL, HTTP_ORIGIN="https://planet.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://planet.example"
    assert "Idempotency-Key" in allowed.headers["Access-Control-Allow-Headers"]
    refused = api.options(URL, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_it_refuses_a_submission_from_an_origin_the_site_does_not_allow(api, site):
    from comments.models import Site

    Site.objects.create(name="Evil", public_key="evil", allowed_origins=["https://evil.example"])
    response = api.post(URL, reply(site), format="json", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 400
    assert response.json() == {"site": ["This site does not accept comments from https://evil.example."]}
    assert not Comment.objects.exists()
    ok = api.post(URL, reply(site), format="json", HTTP_ORIGIN="https://planet.example")
    assert ok.status_code == 202
    assert ok.headers["Access-Control-Allow-Origin"] == "https://planet.example"
    same_origin = api.post(URL, reply(site), format="json", HTTP_ORIGIN="http://testserver")
    assert same_origin.status_code == 202


def test_it_puts_a_comment_back_in_the_queue_after_enough_reports(api, site):
    site.policy.report_threshold = 2
    site.policy.save()
    comment = published(Thread.objects.create(site=site, key="/a"))
    url = f"{URL}/{comment.pk}/report"
    first = api.post(url, {"site": "planet", "reason": "insulting"}, format="json", REMOTE_ADDR="198.51.100.1")
    assert first.status_code == 202
    # The same reader again counts once.
    api.post(url, {"site": "planet"}, format="json", REMOTE_ADDR="198.51.100.1")
    comment.refresh_from_db()
    assert comment.status == "published"
    api.post(url, {"site": "planet"}, format="json", REMOTE_ADDR="198.51.100.2")
    comment.refresh_from_db()
    assert comment.status == "held"
    assert comment.reasons[-1]["code"] == "reader_reports"
    assert comment.reports.count() == 2


def test_it_refuses_reports_of_unpublished_or_foreign_comments(api, site):
    from comments.models import Site

    Site.objects.create(name="Other", public_key="other")
    comment = published(Thread.objects.create(site=site, key="/a"))
    assert api.post(f"{URL}/{comment.pk}/report", {"site": "other"}, format="json").status_code == 400
    assert api.post(f"{URL}/999999/report", {"site": "planet"}, format="json").status_code == 400
    assert api.post(f"{URL}/{comment.pk}/report", {}, format="json").json() == {"site": ["This field is required."]}


def test_it_generates_a_valid_schema_without_warnings(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_reports_count_again_from_zero_after_a_moderator_publishes_the_comment(api, site):
    site.policy.report_threshold = 2
    site.policy.save()
    comment = published(Thread.objects.create(site=site, key="/a"))
    url = f"{URL}/{comment.pk}/report"
    for address in ("198.51.100.1", "198.51.100.2"):
        api.post(url, {"site": "planet"}, format="json", REMOTE_ADDR=address)
    Comment.objects.filter(pk=comment.pk).update(status="published", decided_at=timezone.now())  # re-approved
    api.post(url, {"site": "planet"}, format="json", REMOTE_ADDR="198.51.100.3")
    assert Comment.objects.get(pk=comment.pk).status == "published"
    api.post(url, {"site": "planet"}, format="json", REMOTE_ADDR="198.51.100.4")
    assert Comment.objects.get(pk=comment.pk).status == "held"


@pytest.mark.parametrize("path", [URL, "/api/v1/comments/1/report"])
def test_json_nested_too_deeply_is_a_400_not_a_500(api, site, path):
    response = api.post(path, "[" * 2000, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


def test_a_reply_chain_600_deep_lists_at_the_sites_depth(api, site):
    """It was a 500 (RecursionError) at about 500; deeper replies are listed under the deepest level."""
    thread = Thread.objects.create(site=site, key="/deep")
    now = timezone.now()
    top = Comment.objects.create(thread=thread, author_name="A", body="0", status="published", decided_at=now)
    parent = top
    for n in range(1, 601):
        parent = Comment.objects.create(
            thread=thread, parent=parent, root=top, author_name="A", body=str(n), status="published", decided_at=now
        )
    response = api.get("/api/v1/comments", {"site": "planet", "thread": "/deep"})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 601
    depth, node, seen = 0, body["results"][0], []
    while node["replies"]:
        depth += 1
        seen += [reply["comment"] for reply in node["replies"]]
        node = node["replies"][-1]
    assert depth == site.max_reply_depth == 8
    assert sorted(int(text) for text in seen) == list(range(1, 601))
    deepest_level = [int(reply["comment"]) for reply in node_at(body["results"][0], 7)["replies"]]
    assert deepest_level == list(range(8, 601))  # in the order they were written


def node_at(node, depth):
    for _ in range(depth):
        node = node["replies"][0]
    return node


def test_a_filled_in_hidden_field_is_stored_and_held_never_silently_dropped(api, site):
    from moderation import services as moderation

    response = api.post(URL, reply(site) | {"website": "https://cheap-pills.example"}, format="json")
    assert response.status_code == 202
    comment_id = response.json()["id"]
    assert moderation.comment_score(comment_id=comment_id) == "held"
    assert [reason["code"] for reason in Comment.objects.get(pk=comment_id).reasons] == ["trap"]


def test_the_same_text_again_from_the_same_client_in_the_same_thread_is_held(api, site):
    from moderation import services as moderation

    first = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.40").json()["id"]
    again = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.40").json()["id"]
    someone_else = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.41").json()["id"]
    outcomes = [moderation.comment_score(comment_id=pk) for pk in (first, again, someone_else)]
    assert outcomes == ["published", "held", "published"]
    assert [reason["code"] for reason in Comment.objects.get(pk=again).reasons] == ["duplicate"]


def test_the_same_text_again_with_the_same_commenter_token_from_another_address_is_held(api, site):
    from moderation import services as moderation

    first = api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.42").json()
    token = first["commenter_token"]
    moved = api.post(URL, reply(site, commenter_token=token), format="json", REMOTE_ADDR="198.51.100.43").json()
    assert [moderation.comment_score(comment_id=pk) for pk in (first["id"], moved["id"])] == ["published", "held"]
    assert [reason["code"] for reason in Comment.objects.get(pk=moved["id"]).reasons] == ["duplicate"]


def test_the_per_address_limit_counts_across_processes(api, site, settings):
    """In make run every gunicorn worker is a process of its own: the limit is one count for all."""
    import subprocess
    import sys

    from tests.conftest import service_env

    settings.MODERATO_SUBMIT_RATE = "2/minute"
    for _ in range(2):
        assert api.post(URL, reply(site), format="json", REMOTE_ADDR="198.51.100.50").status_code == 202
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client(HTTP_HOST='127.0.0.1', REMOTE_ADDR='198.51.100.50').post('/api/v1/comments', "
        "{'site': 'planet', 'thread': '/t', 'name': 'Bob', 'comment': 'Third.'}, content_type='application/json')\n"
        "print(r.status_code)\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        env=service_env(MODERATO_SUBMIT_RATE="2/minute", DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.stdout.split()[-1] == "429", other.stderr[-2000:]


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_during_a_post_is_retried_once_then_answered_503(api, site, monkeypatch):
    from django.db import OperationalError

    from comments import services

    real = services.comment_submit
    calls = []

    def drops(times):
        def submit(**fields):
            calls.append(1)
            if len(calls) <= times:
                raise OperationalError("terminating connection due to administrator command")
            return real(**fields)

        return submit

    monkeypatch.setattr(services, "comment_submit", drops(1))
    response = api.post(URL, reply(site), format="json")
    assert response.status_code == 202 and Comment.objects.filter(pk=response.json()["id"]).exists()
    calls.clear()
    monkeypatch.setattr(services, "comment_submit", drops(2))
    response = api.post(URL, reply(site, comment="Another one."), format="json")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Try again" in response.json()["detail"]


@pytest.mark.parametrize("invisible", ["\u200b\u200b\u200b", "\u200d\u2060\ufeff", " \u00a0\u3000", "\u0301\u0301"])
def test_a_comment_or_name_of_invisible_characters_only_is_refused_like_an_empty_one(api, site, invisible):
    response = api.post(URL, reply(site, comment=invisible, name=invisible), format="json")
    assert response.status_code == 400
    assert response.json() == {"comment": [COMMENT_MESSAGE], "name": [NAME_MESSAGE]}
    assert api.post(URL, reply(site, comment="\u200bHi\u200b"), format="json").status_code == 202


def test_a_post_with_the_returned_commenter_token_is_the_same_commenter(api, site):
    first = post(api, reply(site)).json()
    second = post(api, reply(site, comment="Again.", commenter_token=first["commenter_token"])).json()
    stranger = post(api, reply(site, comment="Me too.")).json()
    commenter = Comment.objects.get(pk=first["id"]).commenter
    assert len(commenter) == 22
    assert Comment.objects.get(pk=second["id"]).commenter == commenter
    assert Comment.objects.get(pk=stranger["id"]).commenter not in {"", commenter}


def test_a_forged_or_foreign_commenter_token_starts_a_new_commenter_and_loses_nothing(api, site):
    from comments.models import Site

    other = Site.objects.create(name="Other", public_key="other")
    foreign = post(api, reply(other)).json()["commenter_token"]
    mine = post(api, reply(site)).json()
    for token in [foreign, mine["commenter_token"][:-3] + "abc", "not a token"]:
        response = post(api, reply(site, comment=f"Posted with {token[:8]}", commenter_token=token))
        assert response.status_code == 202
        assert Comment.objects.get(pk=response.json()["id"]).commenter != Comment.objects.get(pk=mine["id"]).commenter


def test_a_comment_that_is_not_listed_answers_404_without_its_status_token(api, site):
    accepted = post(api, reply(site)).json()
    bare = f"{URL}/{accepted['id']}"
    for state in ["pending", "held", "rejected"]:
        Comment.objects.filter(pk=accepted["id"]).update(status=state, decided_at=timezone.now())
        assert api.get(bare).status_code == 404, state
        assert api.get(bare + "?token=forged").status_code == 404, state
        assert api.get(accepted["status_url"]).json()["status"] == ("pending" if state == "pending" else "held")
    Comment.objects.filter(pk=accepted["id"]).update(status="published")
    assert api.get(bare).json()["status"] == "published"


def test_a_published_reply_under_a_comment_taken_down_is_not_listed_counted_or_readable(api, site):
    thread = Thread.objects.create(site=site, key="/news/bridge")
    top = published(thread, "Top.")
    middle = published(thread, "Middle.", parent=top)
    below = published(thread, "Below.", parent=middle)
    published(thread, "Other top.")
    listing = api.get(URL, {"site": site.public_key, "thread": "/news/bridge"}).json()
    assert listing["total"] == 4
    Comment.objects.filter(pk=middle.pk).update(status="rejected")
    selectors.thread_listing_changed(thread=thread)  # (what moderation.services does after a decision)
    listing = api.get(URL, {"site": site.public_key, "thread": "/news/bridge"}).json()
    assert (listing["count"], listing["total"]) == (2, 2)
    assert listing["results"][0]["replies"] == []
    counts = api.get("/api/v1/counts", {"site": site.public_key, "thread": ["/news/bridge", "/none"]}).json()
    assert counts == {"counts": {"/news/bridge": 2, "/none": 0}}
    assert api.get(f"{URL}/{below.pk}").status_code == 404
    assert api.get(f"{URL}/{top.pk}").json()["status"] == "published"
    # Published again by a moderator: the reply is back everywhere.
    Comment.objects.filter(pk=middle.pk).update(status="published")
    selectors.thread_listing_changed(thread=thread)
    assert api.get(f"{URL}/{below.pk}").json()["status"] == "published"
    assert api.get(URL, {"site": site.public_key, "thread": "/news/bridge"}).json()["total"] == 4


def test_it_hands_out_a_form_token_and_records_how_long_after_it_a_comment_came(api, site, monkeypatch):
    import time

    response = api.get("/api/v1/form-token", {"site": site.public_key})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    form_token = response.json()["form_token"]
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 40)
    accepted = post(api, reply(site, form_token=form_token)).json()
    assert Comment.objects.get(pk=accepted["id"]).form_seconds == pytest.approx(40, abs=1)
    assert Comment.objects.get(pk=post(api, reply(site, comment="No token.")).json()["id"]).form_seconds is None
    forged = post(api, reply(site, comment="Forged.", form_token="1:abc")).json()
    assert Comment.objects.get(pk=forged["id"]).form_seconds == 0.0
    assert api.get("/api/v1/form-token", {"site": "nope"}).status_code == 400


def test_a_submission_costs_two_queries_once_its_site_is_known(api, site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert post(api, reply(site)).status_code == 202  # the site is read and kept; the thread created
    with CaptureQueriesContext(connection) as queries:
        assert post(api, reply(site, comment="Second.")).status_code == 202
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2, statements  # the thread, the comment


def test_closing_threads_by_age_costs_a_submission_no_query(api, site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    site.close_after_days = 30
    site.save()
    assert post(api, reply(site)).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert post(api, reply(site, comment="Second.")).status_code == 202
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2, statements  # the thread, the comment


def test_a_change_to_a_site_applies_at_once_in_the_process_that_made_it(api, site):
    origin = {"HTTP_ORIGIN": "https://new.planet.example"}
    assert api.post(URL, reply(site), format="json", **origin).status_code == 400
    site.allowed_origins = ["https://new.planet.example"]
    site.save()
    assert api.post(URL, reply(site), format="json", **origin).status_code == 202


def test_another_process_sees_a_site_change_within_the_cache_time(api, site, settings, monkeypatch):
    import time

    from comments.models import Site

    settings.MODERATO_SITE_CACHE_SECONDS = 10
    origin = {"HTTP_ORIGIN": "https://new.planet.example"}
    assert api.post(URL, reply(site), format="json", **origin).status_code == 400
    # As another process changes it: no signal reaches this one.
    Site.objects.filter(pk=site.pk).update(allowed_origins=["https://new.planet.example"])
    assert api.post(URL, reply(site), format="json", **origin).status_code == 400  # kept for now
    later = time.monotonic() + 10.5
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert api.post(URL, reply(site), format="json", **origin).status_code == 202


def test_a_thread_page_is_cached_under_its_version_and_a_moderators_decision_makes_it_stale(
    api, site, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group

    from moderation import services as moderation
    from moderation.models import ModerationAction
    from tests.conftest import moderate_every_site

    thread = Thread.objects.create(site=site, key="/news/bridge")
    published(thread, "First.")
    query = {"site": site.public_key, "thread": "/news/bridge"}
    first = api.get(URL, query)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=10"
    assert api.get(URL, query, HTTP_IF_NONE_MATCH=etag).status_code == 304
    # Written behind the services' back: the cached page does not know (this is the cache at work).
    sneaked = published(thread, "Sneaked in.")
    assert [c["comment"] for c in api.get(URL, query).json()["results"]] == ["First."]
    Comment.objects.filter(pk=sneaked.pk).update(status="held")
    # A moderator publishes it: after the commit the page is built again, under a new ETag.
    alice = moderate_every_site(User.objects.create_user("alice", is_staff=True))
    alice.groups.add(Group.objects.get(name="moderators"))
    with django_capture_on_commit_callbacks(execute=True):
        moderation.comment_moderate(comment_id=sneaked.pk, actor=alice, action=ModerationAction.APPROVE)
    again = api.get(URL, query, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert [c["comment"] for c in again.json()["results"]] == ["First.", "Sneaked in."]
    # Readers' reports send it back to the queue: gone from the page at once.
    site.policy.report_threshold = 1
    site.policy.save()
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{URL}/{sneaked.pk}/report", {"site": site.public_key}, format="json")
    assert [c["comment"] for c in api.get(URL, query).json()["results"]] == ["First."]


def test_with_the_cache_down_a_thread_page_is_built_from_the_database(api, site, settings):
    settings.CACHES = DEAD_REDIS_CACHE
    thread = Thread.objects.create(site=site, key="/news/bridge")
    published(thread, "First.")
    response = api.get(URL, {"site": site.public_key, "thread": "/news/bridge"})
    assert response.status_code == 200 and "ETag" not in response.headers
    assert [c["comment"] for c in response.json()["results"]] == ["First."]


def test_thread_counts_are_cached_under_each_threads_version(api, site):
    bridge = Thread.objects.create(site=site, key="/news/bridge")
    dam = Thread.objects.create(site=site, key="/news/dam")
    published(bridge, "One.")
    query = {"site": site.public_key, "thread": ["/news/bridge", "/news/dam", "/none"]}
    assert api.get("/api/v1/counts", query).json()["counts"] == {"/news/bridge": 1, "/news/dam": 0, "/none": 0}
    published(bridge, "Sneaked in.")  # behind the services' back: the cached count does not know
    published(dam, "Also sneaked in.")
    assert api.get("/api/v1/counts", query).json()["counts"] == {"/news/bridge": 1, "/news/dam": 0, "/none": 0}
    selectors.thread_listing_changed(thread=dam)  # what a decision on the dam's thread does after commit
    assert api.get("/api/v1/counts", query).json()["counts"] == {"/news/bridge": 1, "/news/dam": 1, "/none": 0}


def test_a_thread_key_has_one_spelling_whichever_form_the_request_uses(api, site):
    assert post(api, reply(site, thread="news/bridge")).status_code == 202
    assert post(api, reply(site, thread="/news/bridge", comment="Second.")).status_code == 202
    assert list(Thread.objects.values_list("key", flat=True)) == ["/news/bridge"]
    Comment.objects.update(status="published", decided_at=timezone.now())
    path_form = api.get("/api/v1/threads/news/bridge/comments", {"site": site.public_key}).json()
    query_form = api.get(URL, {"site": site.public_key, "thread": "/news/bridge"}).json()
    assert path_form["total"] == query_form["total"] == 2
    counts = api.get("/api/v1/counts", {"site": site.public_key, "thread": ["news/bridge", "/news/bridge"]}).json()
    assert counts == {"counts": {"news/bridge": 2, "/news/bridge": 2}}
    # A URL is kept as given.
    assert post(api, reply(site, thread="https://planet.example/a?x=1")).status_code == 202
    assert Thread.objects.filter(key="https://planet.example/a?x=1").exists()
    # 500 characters with the slash added is one too many: a 400, not a database error.
    assert post(api, reply(site, thread="x" * 500)).json() == {
        "thread": ["Ensure this field has no more than 499 characters."]
    }


def test_the_input_serializers_bind_copies_of_their_fields_and_refuse_nested_ones():
    from rest_framework import serializers

    from comments.views import CommentCollection, FlatSerializer

    first = CommentCollection.SubmitInputSerializer(data={"name": "", "comment": "x" * 5001})
    second = CommentCollection.SubmitInputSerializer(data={"name": "Al", "comment": "Fine."})
    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second
    assert not first.is_valid() and not second.is_valid()  # (neither names a site or a thread)
    assert first.errors["name"] == ["Please enter your name here"]
    assert first.errors["comment"] == ["Ensure this field has no more than 5000 characters."]
    assert set(second.errors) == {"site", "thread"}
    with pytest.raises(TypeError, match="threads cannot be copied shallowly"):

        class Nested(FlatSerializer):
            threads = serializers.ListField(child=serializers.CharField())
