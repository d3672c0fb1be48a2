"""moderation/metrics.py: what /metrics shows, from the database and from every process's files."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from comments.models import Comment, Thread
from moderation import metrics
from moderation.models import ModerationDecision
from moderation.scoring import get_scorer
from tests.conftest import service_env
from tests.moderation.test_webhooks import Receiver


def scrape(**headers: str) -> dict[tuple[str, frozenset], float]:
    response = Client().get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def thread(site) -> Thread:
    return Thread.objects.create(site=site, key="/m")


def test_it_reads_comments_by_status_and_the_oldest_pending_from_the_database(thread, admin_user):
    now = timezone.now()
    for status, count in {"pending": 2, "published": 3, "held": 1, "rejected": 4}.items():
        for _ in range(count):
            Comment.objects.create(
                thread=thread,
                author_name="Al",
                body="x",
                status=status,
                decided_at=None if status == "pending" else now,
            )
    Comment.objects.filter(status="pending").update(created_at=now - timedelta(seconds=300))
    ModerationDecision.objects.create(
        comment=Comment.objects.filter(status="held").get(),
        actor=admin_user,
        action="approve",
        from_status="held",
        to_status="published",
    )
    samples = scrape()
    assert value(samples, "moderato_database_up") == 1
    assert value(samples, "moderato_comments_submitted_total") == 10
    assert [value(samples, "moderato_comments", status=s) for s in ("pending", "published", "held", "rejected")] == [
        2,
        3,
        1,
        4,
    ]
    assert 300 <= value(samples, "moderato_pending_oldest_age_seconds") < 400
    assert value(samples, "moderato_moderator_decisions_total", action="approve") == 1


def test_it_shows_the_active_model_versions(db):
    samples = scrape()
    versions = {
        dict(labels)["model"]: dict(labels)["version"]
        for (name, labels), v in samples.items()
        if name == "moderato_model_info" and v == 1
    }
    assert versions == get_scorer().versions


def test_it_reads_the_file_brokers_queue_length(db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    for n in range(3):
        (tmp_path / f"{n}_abc.celery.msg").write_text("{}")
    (tmp_path / "9_abc.other.msg").write_text("{}")
    assert value(scrape(), "moderato_broker_queue_messages", queue="celery") == 3


def test_it_reads_the_redis_queue_length(db, settings):
    from moderation import health

    # The run's own key prefix (config.settings), in whichever Redis the run uses (or the local one).
    settings.CELERY_BROKER_URL = settings.REDIS_URL or "redis://127.0.0.1:6379/15"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{settings.REDIS_PREFIX}-metrics:"}
    key = health.redis_queue_key("celery")
    assert key == f"{settings.REDIS_PREFIX}-metrics:celery"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(key)
    client.rpush(key, "a", "b")
    try:
        assert value(scrape(), "moderato_broker_queue_messages", queue="celery") == 2
    finally:
        client.delete(key)


def test_it_leaves_out_the_queue_length_of_an_unreachable_broker(db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    samples = scrape()
    assert not [key for key in samples if key[0] == "moderato_broker_queue_messages"]
    assert value(samples, "moderato_database_up") == 1


def test_it_wants_the_bearer_token_when_one_is_set(db, settings):
    settings.MODERATO_METRICS_TOKEN = "s3cret-metrics"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert value(scrape(HTTP_AUTHORIZATION="Bearer s3cret-metrics"), "moderato_database_up") == 1


def test_it_counts_webhook_failures_and_deliveries(site, thread):
    from moderation import notifications
    from moderation.models import Notification

    held = Comment.objects.create(thread=thread, author_name="Al", body="x", status="held", decided_at=timezone.now())
    flaky = Receiver([503, 502, 200])
    site.policy.webhook_url = flaky.url
    site.policy.save()
    before = scrape()
    [row] = notifications.decision_notify(comment_id=held.pk, status="held")
    for _ in range(3):
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        notifications.notification_deliver(notification_id=row.pk)
    flaky.server.shutdown()
    after = scrape()
    assert value(after, "moderato_webhook_failures_total") - value(before, "moderato_webhook_failures_total") == 2
    assert value(after, "moderato_webhooks_delivered_total") - value(before, "moderato_webhooks_delivered_total") == 1


def run_python(code: str) -> subprocess.Popen[bytes]:
    """Another process of the same deployment (same metrics directory)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup()\nfrom moderation import metrics\n" + code],
        env=service_env(DJANGO_SETTINGS_MODULE="config.settings"),
    )


def test_it_adds_up_what_every_process_observed(db):
    before = scrape()
    other = run_python("metrics.comment_scored(outcome='held', seconds=0.2)\nmetrics.WEBHOOK_FAILURES.inc(3)")
    assert other.wait(timeout=60) == 0
    metrics.comment_scored(outcome="held", seconds=0.1)  # and this process
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("moderato_comments_scored_total", outcome="held") == 2
    assert delta("moderato_scoring_seconds_count") == 2
    assert delta("moderato_scoring_seconds_bucket", le="0.25") == 2
    assert delta("moderato_scoring_seconds_bucket", le="0.1") == 1
    assert delta("moderato_webhook_failures_total") == 3


def test_a_killed_process_stops_counting_among_running_tasks(db):
    task = f"test.task_{os.getpid()}"
    victim = run_python(f"metrics.TASKS_RUNNING.labels(task={task!r}).inc()\nimport time\ntime.sleep(600)")
    try:
        deadline = timezone.now() + timedelta(seconds=60)
        while value(scrape(), "moderato_tasks_running", task=task) != 1:
            assert timezone.now() < deadline, "the other process never showed its running task"
            time.sleep(0.2)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    # Killed: no shutdown hook ran, its file still says 1 until this host's processes are checked.
    assert value(scrape(), "moderato_tasks_running", task=task) == 1
    assert victim.pid in metrics.dead_processes_forget()
    assert value(scrape(), "moderato_tasks_running", task=task) == 0


def test_process_dead_forgets_an_ended_process(db):
    task = f"test.task_{os.getpid()}_done"
    other = run_python(f"metrics.TASKS_RUNNING.labels(task={task!r}).inc()")
    assert other.wait(timeout=60) == 0
    assert value(scrape(), "moderato_tasks_running", task=task) == 1
    metrics.process_dead(other.pid)  # what gunicorn's child_exit and Celery's process shutdown call
    assert value(scrape(), "moderato_tasks_running", task=task) == 0
