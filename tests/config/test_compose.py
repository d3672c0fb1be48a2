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
           "MODERATO_SWEEP_AFTER_SECONDS": "1"}  # fmt: skip
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
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        payload = {"site": "planet", "thread": "/prod", "name": "Carol", "comment": "A calm and useful article."}
        accepted = httpx.post(f"{base}/api/v1/comments", json=payload, timeout=10).json()
        assert wait_for_status(accepted["id"], {"published", "held", "rejected"}) == "published"
        # A comment whose task was lost (stored, never queued) is found by beat's sweep.
        lost = Comment.objects.create(thread=Thread.objects.get(key="/prod"), author_name="Dan", body="Good point.")
        assert wait_for_status(lost.pk, {"published", "held", "rejected"}, timeout=20) == "published"
    finally:
        for process in processes:
            stop_process(process)
