"""config/logging.py: the one formatter (JSON or plain), redaction, and the request id."""

import json
import logging
import sys

import pytest
from django.test import Client

from comments.models import Comment, Thread
from config import logging as moderato_logging
from config.logging import LogFormatter, redact

API_KEY = "mod" + "0123456789abcdef" * 2 + "01234567"


def record(message: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("moderation.tasks", logging.INFO, __file__, 1, message, args, exc_info)
    rec.__dict__.update(extra)
    return rec


def json_line(rec: logging.LogRecord) -> dict:
    return json.loads(LogFormatter("json").format(rec))


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"authenticated with key {API_KEY}", API_KEY),
        ("Authorization: Bearer abc.def.ghi-jkl", "abc.def.ghi-jkl"),
        ("headers Cookie: sessionid=s3ss10n; csrftoken=c5rf", "s3ss10n"),
        ("calling with bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("db at postgres://moderato:hunter2@db:5432/moderato", "hunter2"),
        ("redis://:r3d1spass@redis:6379/0 down", "r3d1spass"),
        ("POST /1.1/comment-check?api_key=k3y-value&blog=x", "k3y-value"),
        ("login password=correct-horse user=alice", "correct-horse"),
        ("{'email_host_password': 'sm7p-pass', 'user': 'bob'}", "sm7p-pass"),
        ('{"webhook_secret": "wh-s3cret", "url": "https://x"}', "wh-s3cret"),
        ("SECRET_KEY=django-insecure-xyz", "django-insecure-xyz"),
        ("X-Api-Key: abcdefgh12345", "abcdefgh12345"),
    ],
)
def test_it_redacts_secrets_from_a_line(line, secret):
    assert secret not in redact(line)
    assert "[redacted]" in redact(line)


def test_it_leaves_ordinary_lines_alone():
    line = "comment 12: held in 0.013s (TOXICITY 0.91 >= 0.8), model toxicity-2026.11.30"
    assert redact(line) == line


def test_it_takes_a_new_rule_added_to_the_list(monkeypatch):
    rule = moderato_logging.Redaction("card", moderato_logging.re.compile(r"\b\d{16}\b"), "[card]")
    monkeypatch.setattr(moderato_logging, "REDACTIONS", [*moderato_logging.REDACTIONS, rule])
    assert redact("paid with 4111111111111111") == "paid with [card]"


def test_it_writes_one_json_object_with_the_fields_and_ids():
    token = moderato_logging.request_id.set("req-1")
    token2 = moderato_logging.comment_id.set(42)
    try:
        line = json_line(record("comment %s: %s", 42, "held", duration_ms=3.5))
    finally:
        moderato_logging.request_id.reset(token)
        moderato_logging.comment_id.reset(token2)
    assert line["message"] == "comment 42: held"
    assert (line["level"], line["logger"], line["request_id"], line["comment_id"]) == (
        "INFO",
        "moderation.tasks",
        "req-1",
        42,
    )
    assert line["duration_ms"] == 3.5
    assert line["time"].endswith("+00:00")


def test_it_redacts_the_message_the_extras_and_the_exception():
    try:
        raise RuntimeError(f"refused key {API_KEY}")
    except RuntimeError:
        url = "https://u:pw123456@hooks.example/x"
        rec = record("posting to %s", url, exc_info=sys.exc_info(), headers={"Authorization": "t"})
    rec.api_key = API_KEY
    text = LogFormatter("json").format(rec)
    line = json.loads(text)
    assert API_KEY not in text and "pw123456" not in text
    assert line["headers"] == {"Authorization": "[redacted]"}
    assert line["api_key"] == "[redacted]"
    assert "RuntimeError: refused key [redacted]" in line["exception"]


def test_it_writes_the_same_fields_as_one_plain_line():
    token = moderato_logging.request_id.set("req-2")
    try:
        text = LogFormatter("plain").format(record("password=abc123 used"))
    finally:
        moderato_logging.request_id.reset(token)
    assert "INFO moderation.tasks [request_id=req-2]: password=[redacted] used" in text


# The request id -------------------------------------------------------------------------------


@pytest.fixture
def captured():
    """The formatted lines of every record logged during the test, as the console would print them."""
    lines: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            lines.append(json.loads(LogFormatter("json").format(rec)))

    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)


def test_it_keeps_a_sane_incoming_request_id_and_returns_it(db, captured):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert response["X-Request-ID"] == "lb-7f3a.42"
    [request_line] = [line for line in captured if line["logger"] == "moderato.request"]
    assert request_line["request_id"] == "lb-7f3a.42"
    assert request_line["status"] == response.status_code
    # django.request logs the 503 after the middleware is done: the id still reaches its line.
    assert {line["request_id"] for line in captured if line["logger"] == "django.request"} <= {"lb-7f3a.42"}
    assert moderato_logging.request_id.get() is None  # nothing left behind for the next request


@pytest.mark.parametrize("incoming", ["", "a b", "x" * 129, 'id"}, "level": "ERROR', "ünï", "-leading-dash"])
def test_it_replaces_an_insane_request_id(db, incoming):
    response = Client().get("/api/v1/comments", {"site": "none", "thread": "/"}, HTTP_X_REQUEST_ID=incoming)
    assert moderato_logging.SANE_REQUEST_ID.fullmatch(response["X-Request-ID"])
    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_it_logs_the_path_without_its_query_string(db, captured):
    Client().get("/api/v1/comments", {"site": "none", "thread": "/", "api_key": "leaky"})
    [request_line] = [line for line in captured if line["logger"] == "moderato.request"]
    assert request_line["message"].startswith("GET /api/v1/comments ")
    assert "leaky" not in json.dumps(captured)


def test_a_task_published_during_a_request_carries_its_id_and_restores_it(site, captured):
    """Eager here; tests/integration/test_observability.py follows it through a real worker."""
    from moderation.tasks import comment_score

    thread = Thread.objects.create(site=site, key="/ids")
    comment = Comment.objects.create(thread=thread, author_name="Alice", body="A fine article.")
    headers: dict = {}
    token = moderato_logging.request_id.set("req-from-web")
    try:
        moderato_logging.task_headers_stamp(headers)
    finally:
        moderato_logging.request_id.reset(token)
    assert headers == {moderato_logging.TASK_HEADER: "req-from-web"}

    comment_score.apply(args=[comment.pk], headers=headers)
    [scored] = [line for line in captured if line["logger"] == "moderation.tasks"]
    assert scored["request_id"] == "req-from-web"
    assert scored["comment_id"] == comment.pk
    assert moderato_logging.request_id.get() is None and moderato_logging.comment_id.get() is None


def test_a_task_outside_any_request_gets_an_id_of_its_own(site, captured):
    from moderation.tasks import comment_score

    thread = Thread.objects.create(site=site, key="/ids")
    comment = Comment.objects.create(thread=thread, author_name="Alice", body="A fine article.")
    comment_score.apply(args=[comment.pk])
    [scored] = [line for line in captured if line["logger"] == "moderation.tasks"]
    assert moderato_logging.SANE_REQUEST_ID.fullmatch(scored["request_id"])


def test_the_embedded_mail_backend_logs_messages_with_their_one_click_links_redacted(caplog):
    from django.core.mail import EmailMessage

    from config.logging import LogFormatter
    from config.mail import LoggingEmailBackend

    body = "Approve (publish): http://127.0.0.1:8000/moderation/email-action/eyJjIjo1fQ:1vPq:abcDEF-_12"
    with caplog.at_level("INFO", logger="moderato.mail"):
        sent = LoggingEmailBackend().send_messages([EmailMessage("Held comment", body, to=["alice@example.org"])])
    assert sent == 1
    [record] = [r for r in caplog.records if r.name == "moderato.mail"]
    line = LogFormatter("json").format(record)
    assert "alice@example.org" in line and "/moderation/email-action/" in line
    assert "eyJjIjo1fQ" not in line and "abcDEF" not in line
