"""The production stack: docker-compose.yml's structure, and its very commands run natively.

There is no Docker engine here, so the web, worker and beat commands of the compose file are
started as local processes against the configured database and broker, and driven over HTTP.
"""

import socket
import time
from pathlib import Path

import httpx
import pytest
import yaml

from comments.models import Comment, Thread
from tests.conftest import BIN, start_process, stop_process, wait_for_status

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())


def test_it_declares_the_production_services():
    services = COMPOSE["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
        assert "SECRET_KEY" in env
        assert set(services[name]["depends_on"]) == {"db", "redis"}
    assert services["db"]["image"].startswith("postgres") and services["redis"]["image"].startswith("redis")
    assert "gunicorn config.wsgi" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_it_probes_livez_and_shares_the_metrics_volume_between_web_and_worker():
    services = COMPOSE["services"]
    assert "http://127.0.0.1:8000/livez" in " ".join(services["web"]["healthcheck"]["test"])
    assert "-c config/gunicorn.py" in " ".join(services["web"]["command"])  # child_exit forgets a worker's metrics
    assert "metrics" in COMPOSE["volumes"]
    directory = services["web"]["environment"]["MODERATO_METRICS_DIR"]
    for name in ("web", "worker"):
        assert services[name]["environment"]["MODERATO_METRICS_DIR"] == directory
        assert f"metrics:{directory}" in services[name]["volumes"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def native(command: list[str]) -> list[str]:
    """The compose command with this virtualenv's executables, "$$" unescaped as compose does."""
    head, *rest = (arg.replace("$$", "$") for arg in command)
    return [str(BIN / head) if (BIN / head).exists() else head, *rest]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_compose_commands_end_to_end(site, tmp_path):
    services = COMPOSE["services"]
    port = free_port()
    env = {"PORT": str(port), "PATH": f"{BIN}:/usr/bin:/bin", "MODERATO_SWEEP_EVERY_SECONDS": "1",
           "MODERATO_SWEEP_AFTER_SECONDS": "1", "MODERATO_WORKER_HEARTBEAT_SECONDS": "1",
           # The shared metrics volume: one directory for web and worker, empty at the start.
           "MODERATO_METRICS_DIR": str(tmp_path / "metrics")}  # fmt: skip
    schedule = tmp_path / "beat-schedule"
    beat_command = [arg.replace("/app/var/celerybeat-schedule", str(schedule)) for arg in services["beat"]["command"]]
    processes = []
    try:
        processes.append(
            start_process(native(services["web"]["command"]), tmp_path / "web.log", "Booting worker", **env)
        )
        processes.append(start_process(native(services["worker"]["command"]), tmp_path / "worker.log", "ready.", **env))
        processes.append(start_process(native(beat_command), tmp_path / "beat.log", "beat: Starting", **env))
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                if httpx.get(f"{base}/livez").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        payload = {"site": "planet", "thread": "/prod", "name": "Carol", "comment": "A calm and useful article."}
        accepted = httpx.post(f"{base}/api/v1/comments", json=payload, timeout=10).json()
        assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "published"
        # A comment whose task was lost (stored, never queued) is found by beat's sweep.
        lost = Comment.objects.create(thread=Thread.objects.get(key="/prod"), author_name="Dan", body="Good point.")
        assert wait_for_status(lost.pk, {"published", "held", "rejected"}, timeout=20) == "published"
        # The web process answers /metrics and hears from the worker. (What the worker observed is
        # not counted here: the tests' own session worker may be consuming the same queue. The sum
        # across processes is tested in tests/moderation/test_metrics.py and tests/integration.)
        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200 and "moderato_model_info{" in metrics.text
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200, health.text
    finally:
        for process in processes:
            stop_process(process)
