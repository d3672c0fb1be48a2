"""Contract tests with the real ``akismet`` client (PyPI) against our WSGI application, in process."""

import json

import akismet
import httpx
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.wsgi import application
from moderation.compat import services
from moderation.compat.models import ApiKey, TrainingLabel
from tests.moderation.compat.conftest import CLEAN, SPAM

BLOG = "https://planet.example"
THANKS = "Thanks for making the web a better place."
FIELDS = ["blog", "user_ip", "comment_content", "comment_author", "comment_author_email", "user_role", "is_test",
          "honeypot_field_name", "hp", "comment_type"]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


class ToModerato(httpx.BaseTransport):
    """Send the client's requests for rest.akismet.com to our application instead."""

    def __init__(self, host: str = "testserver") -> None:
        self.host = host
        self.inner = httpx.WSGITransport(app=application)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self.host, port=None)
        request.headers["Host"] = self.host
        return self.inner.handle_request(request)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI handler closes database connections after each request; the test's transaction must stay."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def akismet_client(key: str) -> akismet.SyncClient:
    http_client = httpx.Client(transport=ToModerato(), headers={"User-Agent": akismet.USER_AGENT})
    return akismet.SyncClient(config=akismet.Config(key=key, url=BLOG), http_client=http_client)


@pytest.fixture
def client_of_site(key):
    return akismet.SyncClient.validated_client(
        config=akismet.Config(key=key, url=BLOG),
        http_client=httpx.Client(transport=ToModerato(), headers={"User-Agent": akismet.USER_AGENT}),
    )


def test_it_verifies_a_key_for_the_client(client_of_site, key):
    assert client_of_site.verify_key() is True
    assert client_of_site.verify_key(key=key[:-1] + "0" if key[-1] != "0" else key[:-1] + "1", url=BLOG) is False


def test_it_refuses_to_build_a_client_with_a_bad_key(db):
    with pytest.raises(akismet.APIKeyError):
        akismet.SyncClient.validated_client(
            config=akismet.Config(key="mod0123456789", url=BLOG), http_client=httpx.Client(transport=ToModerato())
        )


def test_it_tells_ham_spam_and_blatant_spam_apart(client_of_site):
    assert client_of_site.comment_check(user_ip="203.0.113.5", comment_content=CLEAN) == akismet.CheckResponse.HAM
    assert client_of_site.comment_check(user_ip="203.0.113.5", comment_content=SPAM) == akismet.CheckResponse.DISCARD


def test_it_follows_the_documented_test_values(client_of_site):
    check = client_of_site.comment_check
    assert check(user_ip="203.0.113.5", comment_content=CLEAN, comment_author="viagra-test-123", is_test=True) == (
        akismet.CheckResponse.SPAM
    )
    assert check(
        user_ip="203.0.113.5", comment_content=CLEAN, comment_author_email="akismet-guaranteed-spam@example.com"
    ) == (akismet.CheckResponse.SPAM)
    assert check(user_ip="203.0.113.5", comment_content=SPAM, user_role="administrator") == akismet.CheckResponse.HAM


def test_it_stores_submitted_spam_and_ham_as_labels(client_of_site, site):
    assert client_of_site.submit_spam(user_ip="203.0.113.5", comment_content=SPAM, comment_type="comment") is True
    assert client_of_site.submit_ham(user_ip="203.0.113.5", comment_content=CLEAN, permalink=f"{BLOG}/a") is True
    labels = {label.text: label for label in TrainingLabel.objects.all()}
    assert labels[SPAM].labels == {"SPAM": 1} and labels[CLEAN].labels == {"SPAM": 0}
    assert labels[SPAM].site == site and labels[SPAM].source == "akismet"
    assert labels[CLEAN].client_token == f"{BLOG}/a"


def test_it_stores_no_label_for_a_test_call(client_of_site):
    assert client_of_site.submit_spam(user_ip="203.0.113.5", comment_content=SPAM, is_test=True) is True
    assert not TrainingLabel.objects.exists()


def test_it_reports_usage(client_of_site):
    client_of_site.comment_check(user_ip="203.0.113.5", comment_content=CLEAN)
    usage = client_of_site.usage_limit()
    assert usage == {"limit": "none", "usage": 3, "percentage": "0.00", "throttled": False}  # verify, check, usage


def test_it_gives_the_client_an_error_over_the_rate_limit(site):
    _, key = services.api_key_create(site=site, requests_per_minute=1)
    client = akismet_client(key)
    assert client.comment_check(user_ip="203.0.113.5", comment_content=CLEAN) == akismet.CheckResponse.HAM
    with pytest.raises(akismet.RequestError, match="429"):
        client.comment_check(user_ip="203.0.113.5", comment_content=CLEAN)


def form(key, **fields):
    return {"api_key": key, "blog": BLOG, "user_ip": "203.0.113.5", **fields}


def test_it_answers_429_with_akismets_alert_headers(client, site):
    _, key = services.api_key_create(site=site, requests_per_minute=1)
    client.post("/1.1/comment-check", form(key, comment_content=CLEAN))
    response = client.post("/1.1/comment-check", form(key, comment_content=CLEAN))
    assert response.status_code == 429 and response["X-akismet-alert-code"] and response["Retry-After"]


def test_it_accepts_json_bodies(client, key):
    check = client.post("/1.1/comment-check", json.dumps(form(key, comment_content=SPAM)), "application/json")
    assert check.content == b"true" and check["X-akismet-pro-tip"] == "discard"
    submitted = client.post(
        "/1.1/submit-ham", json.dumps(form(key, comment_content=CLEAN, is_test=False)), "application/json"
    )
    assert submitted.content.decode() == THANKS
    assert TrainingLabel.objects.get().labels == {"SPAM": 0}
    client.post("/1.1/submit-ham", json.dumps(form(key, comment_content=CLEAN, is_test=True)), "application/json")
    assert TrainingLabel.objects.count() == 1


def test_it_takes_the_key_from_the_host_name_where_allowed(client, key, settings):
    settings.ALLOWED_HOSTS = [".akismet.test"]
    fields = {"blog": BLOG, "user_ip": "203.0.113.5", "comment_content": SPAM}
    response = client.post("/1.1/comment-check", fields, HTTP_HOST=f"{key}.akismet.test")
    assert response.content == b"true"
    assert client.post("/1.1/comment-check", fields, HTTP_HOST="other.akismet.test").content == b"invalid"
    assert client.post("/1.1/comment-check", fields, HTTP_HOST="elsewhere.example").status_code == 400


@pytest.mark.parametrize(
    ("url", "fields", "help_text"),
    [
        ("/1.1/comment-check", {"blog": BLOG, "user_ip": "203.0.113.5"}, "api_key"),
        ("/1.1/comment-check", {"api_key": "mod0000", "blog": BLOG, "user_ip": "203.0.113.5"}, "API key"),
        ("/1.1/comment-check", {"api_key": "KEY", "blog": BLOG}, "user_ip"),
        ("/1.1/comment-check", {"api_key": "KEY", "user_ip": "203.0.113.5"}, "blog"),
        ("/1.1/submit-spam", {"api_key": "KEY", "comment_content": SPAM}, "blog"),
        ("/1.1/verify-key", {"blog": BLOG}, "key"),
        ("/1.1/verify-key", {"key": "KEY"}, "blog"),
    ],
)
def test_it_answers_invalid_with_help_for_a_bad_key_or_a_missing_field(client, key, url, fields, help_text):
    fields = {name: key if value == "KEY" else value for name, value in fields.items()}
    response = client.post(url, fields)
    assert response.status_code == 200 and response.content == b"invalid"
    assert help_text in response["X-akismet-debug-help"]
    assert not TrainingLabel.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1]", "application/json"),
        ("[" * 100_000, "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"api_key=%ff%fe&blog=\xff", "application/x-www-form-urlencoded"),
        ("", "application/x-www-form-urlencoded"),
    ],
)
def test_it_answers_invalid_to_unreadable_bodies(client, key, body, content_type):
    response = client.post("/1.1/comment-check", body, content_type=content_type)
    assert response.status_code == 200 and response.content == b"invalid"


def test_it_answers_invalid_to_huge_or_odd_forms(client, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    huge = client.post("/1.1/comment-check", form(key, comment_content="spam " * 5_000))
    assert huge.content == b"invalid"
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    many = client.post("/1.1/comment-check", form(key, **{f"f{n}": "x" for n in range(20)}))
    assert many.content == b"invalid"
    broken = client.post("/1.1/comment-check", b"--x\r\nbroken", content_type="multipart/form-data; boundary=")
    assert broken.content == b"invalid"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8))
def test_it_never_fails_on_any_json_fields(client, key, body):
    response = client.post("/1.1/comment-check", json.dumps({"api_key": key} | body), "application/json")
    assert response.status_code == 200 and response.content in {b"true", b"false", b"invalid"}


def test_it_survives_odd_json_values(client, key):
    body = form(key, comment_content="\ud800 lone surrogate \x00", comment_author=["a"], is_test={"x": 1})
    response = client.post("/1.1/submit-spam", json.dumps(body), "application/json")
    assert response.content.decode() == THANKS
    assert "lone surrogate" in TrainingLabel.objects.get().text


def test_it_answers_405_to_get_on_a_post_call(client, key):
    assert client.get("/1.1/comment-check", form(key)).status_code == 405


def test_it_counts_akismet_calls(client, key):
    client.post("/1.1/verify-key", {"key": key, "blog": BLOG})
    client.post("/1.1/comment-check", form(key, comment_content=CLEAN))
    assert ApiKey.objects.get().request_count == 2


def test_it_stores_a_label_whose_permalink_holds_a_nul(client, key):
    response = client.post("/1.1/submit-spam", form(key, comment_content=SPAM, permalink="https://x.example/\x00a"))
    assert response.status_code == 200
    assert TrainingLabel.objects.get().client_token == "https://x.example/\ufffda"
