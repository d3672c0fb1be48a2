"""moderation/health.py: /livez answers alone, /healthz names what fails."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from moderation import health
from moderation.models import WorkerHeartbeat
from moderation.scoring import clear_cache


def test_livez_answers_with_no_database_any_host_and_no_https(settings):
    # No db fixture: a query here would fail the test. An IP host (a load balancer's probe) is not
    # in ALLOWED_HOSTS, and the HTTPS redirect is on, as in production.
    settings.SECURE_SSL_REDIRECT = True
    response = Client(HTTP_HOST="10.0.3.7:8000").get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def alice_worker(db) -> str:
    health.worker_heartbeat_record(hostname="celery@alice", starting=True)
    return "celery@alice"


def healthz() -> tuple[int, dict]:
    response = Client().get("/healthz")
    return response.status_code, response.json()


def test_healthz_is_ok_when_database_broker_a_worker_the_scheduler_and_the_models_answer(alice_worker):
    health.sweep_ran_record()
    status, body = healthz()
    assert status == 200, body
    assert body["status"] == "ok" and "failing" not in body
    assert set(body["checks"]) == {"database", "broker", "workers", "scheduler", "models"}
    assert body["checks"]["workers"]["heard_from"] == 1
    assert set(body["checks"]["models"]["versions"]) == {"toxicity", "spam"}


def test_healthz_is_503_when_no_worker_was_ever_heard_from(db):
    status, body = healthz()
    assert status == 503
    assert body["failing"] == ["workers"]
    assert body["checks"]["workers"] == {"ok": False, "heard_from": 0, "last_heartbeat_seconds_ago": None}


def test_healthz_is_503_when_the_last_heartbeat_is_too_old(alice_worker, settings):
    settings.MODERATO_WORKER_HEARTBEAT_SECONDS = 5
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(seconds=21))
    status, body = healthz()
    assert status == 503 and body["failing"] == ["workers"]
    assert body["checks"]["workers"]["last_heartbeat_seconds_ago"] >= 21
    health.worker_heartbeat_record(hostname=alice_worker)
    assert healthz()[0] == 200


def test_a_worker_that_stops_is_no_longer_counted(alice_worker):
    health.worker_heartbeat_forget(hostname=alice_worker)
    assert not WorkerHeartbeat.objects.exists()
    assert healthz()[0] == 503


def test_healthz_is_503_when_the_redis_broker_is_unreachable_and_tells_no_secret(alice_worker, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2@127.0.0.1:1/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"] == {"ok": False, "error": "ConnectionError"}
    assert b"hunter2" not in response.content and b"127.0.0.1" not in response.content


def test_healthz_pings_a_live_redis(alice_worker, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    status, body = healthz()
    assert status == 200, body
    assert body["checks"]["broker"] == {"ok": True, "transport": "redis"}


def test_healthz_is_503_when_the_file_brokers_folder_is_gone(alice_worker, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    folder = tmp_path / "queue"
    folder.mkdir()
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    assert healthz()[0] == 200
    folder.rmdir()
    status, body = healthz()
    assert status == 503 and body["failing"] == ["broker"]


def test_healthz_is_503_when_the_models_cannot_load(alice_worker, settings, tmp_path):
    settings.MODERATO_ARTIFACTS_DIR = tmp_path  # no artifacts there
    try:
        status, body = healthz()
    finally:
        clear_cache()
    assert status == 503 and body["failing"] == ["models"]
    assert body["checks"]["models"]["ok"] is False


def test_the_heartbeat_keeps_one_row_per_worker_and_forgets_old_ones(db):
    health.worker_heartbeat_record(hostname="celery@bob", starting=True)
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(days=2))
    health.worker_heartbeat_record(hostname="celery@alice", starting=True)
    health.worker_heartbeat_record(hostname="celery@alice")
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["celery@alice"]


def test_healthz_says_degraded_when_the_sweep_has_not_run_lately(alice_worker, settings):
    settings.MODERATO_SWEEP_EVERY_SECONDS = 10
    status, body = healthz()  # never ran: beat is not running
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["scheduler"] == {"ok": True, "last_sweep_seconds_ago": None, "degraded": True}
    from moderation.tasks import pending_comments_sweep

    pending_comments_sweep.apply()
    status, body = healthz()
    assert (status, body["status"]) == (200, "ok")
    assert body["checks"]["workers"]["heard_from"] == 1  # the sweep's row is not a worker
    WorkerHeartbeat.objects.filter(hostname=health.SCHEDULER_ROW).update(seen_at=timezone.now() - timedelta(seconds=61))
    assert healthz()[1]["status"] == "degraded"
