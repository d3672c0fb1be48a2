import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from comments.models import Comment, Thread
from moderation import notifications
from moderation.models import Notification
from moderation.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookError,
    signing_secret,
    standard_verify,
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


def outbox(comment, status="held"):
    """The decision's outbox rows, as the decision's transaction writes them."""
    return notifications.decision_notify(comment_id=comment.pk, status=status)


def test_it_sends_the_comment_state_signed_both_ways_with_the_site_secret(site, held_comment, receiver):
    site.policy.webhook_url = receiver.url
    site.policy.save()
    [row] = outbox(held_comment)
    assert notifications.notification_deliver(notification_id=row.pk) == "delivered"
    [(headers, body)] = receiver.requests
    assert webhook_verify(
        secret=site.policy.webhook_secret,
        timestamp=int(headers[TIMESTAMP_HEADER]),
        body=body,
        signature=headers[SIGNATURE_HEADER],
    )
    # Standard Webhooks: a receiver holding the whsec_ form of the same secret verifies it too.
    whsec = signing_secret(site.policy.webhook_secret)
    assert whsec.startswith("whsec_") and standard_verify(secret=whsec, headers=headers, body=body)
    assert not standard_verify(secret=signing_secret("other"), headers=headers, body=body)
    assert not standard_verify(secret=whsec, headers=headers, body=body + b" ")
    assert {name.lower(): value for name, value in headers.items()}[ID_HEADER] == row.event_id
    payload = json.loads(body)
    assert payload["event"] == "comment.held" and payload["site"] == "planet"
    assert payload["comment"]["id"] == held_comment.pk and payload["comment"]["scores"] == {"SPAM": 0.7}
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_result) == ("delivered", 1, "HTTP 200")
    assert notifications.notification_deliver(notification_id=row.pk) == "skipped"  # never twice
    assert len(receiver.requests) == 1


def test_it_writes_no_webhook_for_a_site_without_one(held_comment):
    assert outbox(held_comment) == []


def test_a_failing_receiver_is_retried_with_back_off_and_the_same_event_id(site, held_comment):
    flaky = Receiver([503, 502, 200])
    site.policy.webhook_url = flaky.url
    site.policy.save()
    [row] = outbox(held_comment)
    assert notifications.notification_deliver(notification_id=row.pk) == "retry"
    row.refresh_from_db()
    assert row.state == "pending" and row.attempts == 1 and "503" in row.last_result
    assert row.next_attempt_at > row.last_attempt_at  # not due yet: the sweep leaves it
    assert notifications.notifications_due() == [] and notifications.notification_deliver(notification_id=row.pk) == (
        "skipped"
    )
    for _ in range(2):  # time passes: it is due again
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert notifications.notifications_due() == [row.pk]
        notifications.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("delivered", 3)
    event_ids = {value for headers, _ in flaky.requests for name, value in headers.items() if name.lower() == ID_HEADER}
    assert event_ids == {row.event_id} and len(flaky.requests) == 3
    flaky.server.shutdown()


def test_it_gives_up_after_the_last_attempt_and_an_admin_can_retry(site, held_comment, settings):
    settings.MODERATO_NOTIFICATION_MAX_ATTEMPTS = 2
    down = Receiver([500])
    site.policy.webhook_url = down.url
    site.policy.save()
    [row] = outbox(held_comment)
    assert notifications.notification_deliver(notification_id=row.pk) == "retry"
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert notifications.notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.state == "failed" and notifications.notifications_due() == []
    down.statuses = [200]
    assert notifications.notifications_retry(notification_ids=[row.pk]) == 1
    assert notifications.notification_deliver(notification_id=row.pk) == "delivered"
    down.server.shutdown()


def test_the_retry_delay_doubles_up_to_six_hours():
    delays = [notifications.retry_delay(n).total_seconds() for n in range(1, 12)]
    assert delays[:4] == [30, 60, 120, 240] and delays[-1] == 6 * 3600 and delays == sorted(delays)


def test_the_sweep_leaves_a_new_notification_to_its_first_task(site, held_comment, receiver, settings):
    """A busy queue holds the first task for a while: the sweep must not queue a second one meanwhile."""
    site.policy.webhook_url = receiver.url
    site.policy.save()
    [row] = outbox(held_comment)
    assert notifications.notifications_due() == []  # young: the first task has it
    assert notifications.notification_deliver(notification_id=row.pk) == "delivered"  # ... which sends at once
    [other] = outbox(held_comment, status="published")
    Notification.objects.filter(pk=other.pk).update(
        next_attempt_at=timezone.now() - timezone.timedelta(seconds=1)  # its first task was lost
    )
    assert notifications.notifications_due() == [other.pk]
