"""End to end through a real Celery worker process, on whichever database and broker are configured."""

import subprocess
import sys

import httpx
import pytest

from comments.models import Comment
from tests.conftest import service_env, wait_for_status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLEAN = "Thanks for the article, I learned a lot about the new bridge."
TOXIC = "You are a worthless idiot and a disgusting piece of trash, shut up"
SPAM = "Earn $5000 a week from home!!! Click http://bit.ly/xyz and DM me on WhatsApp +1 555 0100 now"


def submit(base_url: str, site, body: str, **fields) -> dict:
    payload = {"site": site.public_key, "thread": "/news/bridge", "name": "Alice", "comment": body} | fields
    response = httpx.post(f"{base_url}/api/v1/comments", json=payload, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


def test_it_publishes_a_clean_reply_and_lists_it(worker, live_server, site):
    accepted = submit(live_server.url, site, CLEAN)
    assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "published"
    status = httpx.get(accepted["status_url"]).json()
    assert status["status"] == "published"
    thread = httpx.get(f"{live_server.url}/api/v1/threads/%2Fnews%2Fbridge/comments", params={"site": "planet"}).json()
    assert [c["comment"] for c in thread["results"]] == [CLEAN]
    comment = Comment.objects.get(pk=accepted["id"])
    assert set(comment.scores) >= {"TOXICITY", "SPAM"}
    assert set(comment.model_versions) == set(comment.scores)
    assert comment.decided_at is not None


def test_it_holds_a_toxic_reply_and_does_not_list_it(worker, live_server, site):
    accepted = submit(live_server.url, site, TOXIC)
    assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "held"
    comment = Comment.objects.get(pk=accepted["id"])
    assert "TOXICITY" in {reason["attribute"] for reason in comment.reasons}
    assert httpx.get(accepted["status_url"]).json()["status"] == "held"
    thread = httpx.get(f"{live_server.url}/api/v1/comments", params={"site": "planet", "thread": "/news/bridge"})
    assert thread.json()["total"] == 0


def test_it_rejects_blatant_spam_but_tells_the_public_it_is_held(worker, live_server, site):
    accepted = submit(live_server.url, site, SPAM)
    assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "rejected"
    assert httpx.get(accepted["status_url"]).json()["status"] == "held"


def test_it_nests_a_published_reply_under_its_parent(worker, live_server, site):
    parent = submit(live_server.url, site, CLEAN)
    wait_for_status(parent["id"], {"published"})
    child = submit(live_server.url, site, "I agree, the bridge story was very well researched.", parent=parent["id"])
    assert wait_for_status(child["id"], {"published", "held", "rejected"}) == "published"
    thread = httpx.get(f"{live_server.url}/api/v1/comments", params={"site": "planet", "thread": "/news/bridge"})
    [top] = thread.json()["results"]
    assert [r["id"] for r in top["replies"]] == [child["id"]]


def test_it_keeps_a_comment_posted_while_the_broker_is_down_and_the_sweep_decides_it(worker, site, settings):
    # Another process, whose broker is a dead address, takes the submission.
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client(HTTP_HOST='127.0.0.1').post('/api/v1/comments', {'site': 'planet', 'thread': '/t', 'name': 'Bob',"
        f" 'comment': {CLEAN!r}}}, content_type='application/json')\n"
        "print(r.status_code, r.json()['id'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=service_env(CELERY_BROKER_URL="redis://127.0.0.1:1/0", DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    code, comment_id = result.stdout.split()[-2:]
    assert code == "202"
    comment = Comment.objects.get(pk=int(comment_id))
    assert comment.status == "pending"

    from moderation.tasks import pending_comments_sweep

    settings.MODERATO_SWEEP_AFTER_SECONDS = 0
    assert pending_comments_sweep() == 1
    assert wait_for_status(comment.pk, {"published", "held", "rejected"}) == "published"
    assert pending_comments_sweep() == 0


def test_it_calls_the_site_webhook_after_the_worker_decides(worker, live_server, site):
    import time

    from moderation.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_verify
    from tests.moderation.test_webhooks import Receiver

    receiver = Receiver([200])
    site.policy.webhook_url = receiver.url
    site.policy.save()
    accepted = submit(live_server.url, site, TOXIC)
    wait_for_status(accepted["id"], {"held"})
    deadline = time.monotonic() + 15
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    receiver.server.shutdown()
    [(headers, body)] = receiver.requests
    assert headers["X-Moderato-Event"] == "comment.held"
    from moderation.models import Notification
    from moderation.webhooks import signing_secret, standard_verify

    assert standard_verify(secret=signing_secret(site.policy.webhook_secret), headers=headers, body=body)
    assert Notification.objects.get(comment_id=accepted["id"]).state == "delivered"
    assert webhook_verify(
        secret=site.policy.webhook_secret,
        timestamp=int(headers[TIMESTAMP_HEADER]),
        body=body,
        signature=headers[SIGNATURE_HEADER],
    )


def test_the_sweep_delivers_a_notification_whose_message_was_lost(worker, site):
    import time

    from django.utils import timezone

    from comments.models import Thread
    from moderation.models import Notification
    from moderation.notifications import comment_payload, notifications_sweep
    from tests.moderation.test_webhooks import Receiver

    receiver = Receiver([200])
    site.policy.webhook_url = receiver.url
    site.policy.save()
    thread = Thread.objects.create(site=site, key="/lost")
    comment = Comment.objects.create(
        thread=thread, author_name="Al", body=TOXIC, status="held", decided_at=timezone.now()
    )
    # The decision's outbox row, committed with it, whose delivery message never reached a worker.
    row = Notification.objects.create(
        kind=Notification.Kind.WEBHOOK,
        event="comment.held",
        site=site,
        comment=comment,
        payload=comment_payload(comment, event="comment.held"),
        next_attempt_at=timezone.now(),
    )
    assert notifications_sweep() == 1
    deadline = time.monotonic() + 15
    while Notification.objects.get(pk=row.pk).state != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    receiver.server.shutdown()
    assert Notification.objects.get(pk=row.pk).state == "delivered"
    [(headers, _body)] = receiver.requests
    assert {name.lower(): value for name, value in headers.items()}["webhook-id"] == row.event_id
    assert notifications_sweep() == 0


def test_the_sweep_runs_on_its_own_queue_ahead_of_a_scoring_backlog(worker, site):
    """The sweeps are on the housekeeping queue: the worker takes them between scoring tasks instead of
    after the whole backlog (on one queue, the sweep would wait for all 400 comments)."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    from comments.models import Thread
    from moderation import health
    from moderation.models import WorkerHeartbeat
    from moderation.tasks import comment_score, pending_comments_sweep

    thread = Thread.objects.create(site=site, key="/backlog")
    # Older than the backlog, its task lost: the sweep re-queues it (comments behind the queue's front it
    # leaves alone, their tasks are still queued).
    stale = Comment.objects.create(thread=thread, author_name="B", body=CLEAN)
    backlog = [Comment.objects.create(thread=thread, author_name="A", body=f"{CLEAN} ({n})") for n in range(400)]
    Comment.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=1))
    for comment in backlog:
        comment_score.delay(comment.pk)
    # The flush before this test took the worker's heartbeat row; until its next beat (a second) the
    # sweep would take the worker for gone and queue again the backlog it has taken.
    deadline = time.monotonic() + 10
    while not WorkerHeartbeat.objects.exclude(hostname=health.SCHEDULER_ROW).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pending_comments_sweep.delay(older_than_seconds=600)
    deadline = time.monotonic() + 120
    while not Comment.objects.filter(pk=stale.pk, requeues=1).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    still_pending = Comment.objects.filter(pk__in=[c.pk for c in backlog], status="pending").count()
    assert Comment.objects.filter(pk=stale.pk, requeues=1).exists()
    assert still_pending > 200, f"the sweep ran after {400 - still_pending} of 400 backlog comments"
    assert Comment.objects.filter(requeues__gt=0).count() == 1  # the backlog taken by a live worker: left alone
    wait_for_status(backlog[-1].pk, {"published"}, timeout=120)


def test_the_sweep_leaves_comments_whose_tasks_are_still_queued(site, settings, tmp_path):
    """A backlog waits in a broker of its own (no worker takes it). The sweep re-queues only what is
    not in the queue (a comment older than the queue's front), never the backlog itself."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    from comments.models import Thread
    from moderation import health, services
    from tests.integration.test_reliability import own_broker, publish_scoring

    _, publisher = own_broker(tmp_path)
    # Read the queue where the publisher writes (a key prefix of its own, or a folder of its own).
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS | publisher.conf.broker_transport_options
    )
    thread = Thread.objects.create(site=site, key="/queued")
    # One attempt each from the start, as if scored once before: the drain of the run's shared worker (same
    # database, another broker) claims only fresh comments, so it cannot take these while the sweep looks.
    lost = Comment.objects.create(thread=thread, author_name="L", body=CLEAN, scoring_attempts=1)  # never queued
    backlog = [
        Comment.objects.create(thread=thread, author_name="A", body=f"{CLEAN} {n}", scoring_attempts=1)
        for n in range(5)
    ]
    for comment in backlog:  # a millisecond apart: the file broker orders messages by the millisecond
        publish_scoring(publisher, [comment.pk])
        time.sleep(0.002)
    Comment.objects.filter(thread=thread).update(created_at=timezone.now() - timedelta(minutes=5))
    front = health.oldest_queued_comment()
    assert front == backlog[0].pk
    assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30), still_queued_from=front) == [lost.pk]


def test_a_site_in_shadow_mode_publishes_a_toxic_reply_and_records_that_it_would_have_held_it(
    worker, live_server, site
):
    from moderation.models import ShadowDecision

    site.policy.shadow_mode = True
    site.policy.save()
    accepted = submit(live_server.url, site, TOXIC)
    assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "published"
    thread = httpx.get(f"{live_server.url}/api/v1/comments", params={"site": "planet", "thread": "/news/bridge"})
    assert [c["comment"] for c in thread.json()["results"]] == [TOXIC]
    record = ShadowDecision.objects.get(comment_id=accepted["id"])
    assert (record.outcome, record.applied) == ("held", "published")
    assert "TOXICITY" in {reason["attribute"] for reason in record.reasons}
