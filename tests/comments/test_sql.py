"""comments.sql: the submission's two statements, compiled once, against what the ORM itself does."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comments import sql
from comments.models import Comment, Thread

URL = "/api/v1/comments"


def row(comment_id):
    return Comment.objects.filter(pk=comment_id).values().get()


@pytest.mark.django_db
def test_the_compiled_insert_stores_what_objects_create_stores(site):
    thread = Thread.objects.create(site=site, key="/news/bridge")
    parent = Comment.objects.create(
        thread=thread, author_name="Ana", body="First.", status=Comment.Status.PUBLISHED, decided_at=timezone.now()
    )
    fields = {
        "thread": thread,
        "parent": parent,
        "root_id": parent.pk,
        "author_name": "Alice",
        "author_email": "alice@example.org",
        "body": "Ça va? Хвала. 👍",
        "ip_hash": "f" * 64,
        "user_agent": "Mozilla/5.0",
        "trap_filled": True,
        "commenter": "c-123",
        "form_seconds": 12.5,
        "reply_notice": Comment.ReplyNotice.UNCONFIRMED,
        "created_at": timezone.now() - timedelta(minutes=5),
    }
    by_orm = Comment.objects.create(**fields)
    compiled = sql.comment_insert(Comment(**fields))

    assert compiled.pk is not None and compiled.pk != by_orm.pk
    assert not compiled._state.adding and compiled._state.db == "default"
    ours, theirs = row(compiled.pk), row(by_orm.pk)
    assert ours.pop("id") != theirs.pop("id")
    assert ours == theirs
    assert ours["scores"] == {} and ours["reasons"] == [] and ours["status"] == "pending"


@pytest.mark.django_db
def test_the_compiled_insert_refuses_a_saved_comment(site):
    thread = Thread.objects.create(site=site, key="/news/bridge")
    saved = Comment.objects.create(thread=thread, author_name="Ana", body="First.")
    with pytest.raises(ValueError, match="has an id already"):
        sql.comment_insert(saved)
    assert Comment.objects.count() == 1


def test_nothing_listens_to_a_comments_save_signals_nor_overrides_its_save():
    """comment_insert sends no pre_save/post_save and calls no save(): a receiver added for comments, or
    a save() of its own, would be skipped."""
    assert not pre_save.has_listeners(Comment)
    assert not post_save.has_listeners(Comment)
    assert Comment.save is Model.save and Comment.save_base is Model.save_base


@pytest.mark.django_db
def test_the_compiled_insert_takes_the_models_defaults(site):
    thread = Thread.objects.create(site=site, key="/news/bridge")
    before = timezone.now()
    comment = sql.comment_insert(Comment(thread=thread, author_name="Ana", body="Hello."))
    stored = Comment.objects.get(pk=comment.pk)
    assert before <= stored.created_at <= timezone.now()
    assert (stored.status, stored.scores, stored.reasons, stored.by_staff) == ("pending", {}, [], False)


@pytest.mark.django_db
def test_the_compiled_thread_lookup_reads_what_the_orm_reads(site):
    created = timezone.now() - timedelta(days=3)
    Thread.objects.create(site=site, key="/other", title="Other")
    thread = Thread.objects.create(
        site=site, key="/news/bridge", title="Bridge", is_open=False, auto_close=False, created_at=created
    )

    found = sql.thread_by_key(site_id=site.pk, key="/news/bridge")

    assert isinstance(found, Thread) and not found._state.adding
    assert (found.pk, found.site_id, found.key, found.title) == (thread.pk, site.pk, "/news/bridge", "Bridge")
    assert found.is_open is False and found.auto_close is False  # booleans, not SQLite's 0 and 1
    assert found.created_at == created and timezone.is_aware(found.created_at)
    assert sql.thread_by_key(site_id=site.pk, key="/news/none") is None
    assert sql.thread_by_key(site_id=site.pk + 1, key="/news/bridge") is None


@pytest.mark.django_db(transaction=True)
def test_a_submission_is_two_statements_and_no_transaction_around_them(api, site):
    """Counted outside any test transaction, so that BEGIN and COMMIT would show (Django logs them)."""
    body = {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": "Nice piece."}
    assert api.post(URL, body, format="json").status_code == 202  # the site is read and kept; the thread made

    with CaptureQueriesContext(connection) as queries:
        assert api.post(URL, body | {"comment": "Second."}, format="json").status_code == 202
    verbs = [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]
    assert verbs == ["SELECT", "INSERT"], queries.captured_queries
    assert Comment.objects.filter(body="Second.", status=Comment.Status.PENDING).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_idempotency_key_is_stored_with_its_comment_in_one_transaction(api, site):
    body = {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": "Nice piece."}
    assert api.post(URL, body, format="json").status_code == 202

    with CaptureQueriesContext(connection) as queries:
        answer = api.post(URL, body | {"comment": "Keyed."}, format="json", headers={"Idempotency-Key": "k-1"})
    assert answer.status_code == 202
    verbs = [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]
    assert "BEGIN" in verbs and "COMMIT" in verbs, verbs
    begin, commit = verbs.index("BEGIN"), verbs.index("COMMIT")
    assert verbs[begin:commit].count("INSERT") == 2  # the comment and its key, committed together


@pytest.mark.django_db(transaction=True)
def test_a_submission_skips_the_health_check_of_a_kept_connection(api, site, monkeypatch):
    """CONN_HEALTH_CHECKS costs a SELECT 1 round trip before a request's first query; the submission
    reconnects by itself on a dead connection (comments.views.submit_with_one_reconnect), so it skips
    it. Another request still runs it."""
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] and connection.settings_dict["CONN_MAX_AGE"]
    checks = []
    usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or usable())

    def request(call):
        # What request_started does in a server (the test client disconnects it): a kept connection
        # is checked again before the request's first query.
        connection.close_if_unusable_or_obsolete()
        return call()

    body = {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": "Nice piece."}
    assert request(lambda: api.post(URL, body, format="json")).status_code == 202
    checks.clear()
    second = request(lambda: api.post(URL, body | {"comment": "Second."}, format="json"))
    assert second.status_code == 202
    assert checks == []
    thread_page = {"site": site.public_key, "thread": "/news/bridge", "page_size": 7}  # (its thread read first)
    assert request(lambda: api.get(URL, thread_page)).status_code == 200
    assert checks == []
    assert request(lambda: api.get(second.json()["status_url"])).status_code == 200  # another request
    assert checks == [1]


@pytest.mark.django_db(transaction=True)
def test_a_dead_kept_connection_costs_a_submission_and_a_page_one_reconnect(api, site):
    """What the skipped health check would have caught: the backend of the kept connection is gone."""
    from django.db import connections

    body = {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": "Nice piece."}
    assert api.post(URL, body, format="json").status_code == 202

    def kill_the_connection():
        if connection.vendor == "postgresql":
            with connections.create_connection("default").cursor() as other:
                other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
        else:  # SQLite has no backend to lose (a file): Django's own close, after which it opens again
            connection.close()
        connection.close_if_unusable_or_obsolete()  # as request_started does: the check is due again

    kill_the_connection()
    assert api.post(URL, body | {"comment": "Second."}, format="json").status_code == 202
    kill_the_connection()
    page = api.get(URL, {"site": site.public_key, "thread": "/news/bridge", "page_size": 9})
    assert page.status_code == 200
    assert Comment.objects.filter(body="Second.").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_new_thread_and_its_first_comment_are_stored_together(api, site):
    """In one transaction, so that a refused submission leaves no empty thread behind."""
    body = {"site": site.public_key, "thread": "/news/new", "name": "Alice", "comment": "First!"}
    refused = api.post(URL, body | {"parent": 999_999}, format="json")
    assert refused.status_code == 400 and "parent" in refused.json()
    assert not Thread.objects.filter(key="/news/new").exists()

    with CaptureQueriesContext(connection) as queries:
        assert api.post(URL, body, format="json").status_code == 202
    verbs = [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]
    assert verbs[0] == "SELECT" and "BEGIN" in verbs and verbs[-1] == "COMMIT", verbs
    assert Thread.objects.get(key="/news/new").comments.count() == 1
