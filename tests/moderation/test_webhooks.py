import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from comments.models import Comment, Thread
from moderation import notifications
from moderation.tasks import comment_webhook
from moderation.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookError,
    webhook_post,
    webhook_sign,
    webhook_verify,
)


class Receiver:
    """A site's webhook endpoint on 127.0.0.1 that answers the given statuses in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses[min(len(receiver.requests), len(receiver.statuses)) - 1]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    receiver = Receiver([200])
    yield receiver
    receiver.server.shutdown()


def test_a_receiver_verifies_the_signature_and_refuses_tampering(receiver):
    webhook_post(url=receiver.url, secret="s3cret", event="comment.held", payload={"comment": {"id": 7}})
    [(headers, body)] = receiver.requests
    timestamp, signature = int(headers[TIMESTAMP_HEADER]), headers[SIGNATURE_HEADER]
    assert webhook_verify(secret="s3cret", timestamp=timestamp, body=body, signature=signature)
    assert not webhook_verify(secret="other", timestamp=timestamp, body=body, signature=signature)
    assert not webhook_verify(secret="s3cret", timestamp=timestamp, body=body + b" ", signature=signature)
    assert not webhook_verify(
        secret="s3cret", timestamp=timestamp, body=body, signature=signature, now=timestamp + 3600
    )
    assert headers["X-Moderato-Event"] == "comment.held"


def test_it_signs_timestamp_and_body_together():
    assert webhook_sign(secret="k", timestamp=1, body=b"{}") != webhook_sign(secret="k", timestamp=2, body=b"{}")


def test_it_raises_on_a_failing_receiver():
    failing = Receiver([500])
    with pytest.raises(WebhookError, match="answered 500"):
        webhook_post(url=failing.url, secret="k", event="e", payload={})
    failing.server.shutdown()
    with pytest.raises(WebhookError, match="could not be reached"):
        webhook_post(url=failing.url, secret="k", event="e", payload={}, timeout=1)


@pytest.fixture
def held_comment(site):
    thread = Thread.objects.create(site=site, key="/a")
    return Comment.objects.create(
        thread=thread, author_name="Al", body="text", status="held", decided_at=thread.created_at, scores={"SPAM": 0.7}
    )


def test_it_sends_the_comment_state_signed_with_the_site_secret(site, held_comment, receiver):
    site.policy.webhook_url = receiver.url
    site.policy.save()
    assert notifications.comment_webhook_send(comment_id=held_comment.pk, event="comment.held")
    [(headers, body)] = receiver.requests
    assert webhook_verify(
        secret=site.policy.webhook_secret,
        timestamp=int(headers[TIMESTAMP_HEADER]),
        body=body,
        signature=headers[SIGNATURE_HEADER],
    )
    payload = json.loads(body)
    assert payload["event"] == "comment.held" and payload["site"] == "planet"
    assert payload["comment"]["id"] == held_comment.pk and payload["comment"]["scores"] == {"SPAM": 0.7}


def test_it_sends_nothing_for_a_site_without_webhook(held_comment):
    assert notifications.comment_webhook_send(comment_id=held_comment.pk, event="comment.held") is False


def test_it_retries_a_failing_receiver_until_it_answers(site, held_comment):
    flaky = Receiver([503, 502, 200])
    site.policy.webhook_url = flaky.url
    site.policy.save()
    assert comment_webhook.apply(args=[held_comment.pk, "comment.held"]).get() is True
    assert len(flaky.requests) == 3
    flaky.server.shutdown()
