"""The production stack: docker-compose.yml's structure, and its very commands run natively.

There is no Docker engine here, so the web, worker and beat commands of the compose file are
started as local processes against the configured database and broker, and driven over HTTP.
"""

import hashlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import User

from comments.models import Comment, Thread
from ml.artifacts import newest_version
from moderation import learning, scoring, services
from moderation.compat.services import api_key_create
from moderation.models import ModelArtifactFile, ModelVersion, ModerationAction
from tests.conftest import BIN, service_env, start_process, stop_process, wait_for_status

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
    # gunicorn is published directly: a forwarded-for header is the client's own, never trusted by default.
    assert services["web"]["environment"]["MODERATO_TRUSTED_PROXIES"] == "${MODERATO_TRUSTED_PROXIES:-0}"
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


def test_gunicorn_keeps_its_workers_heartbeat_files_on_a_tmpfs():
    """A worker touches its heartbeat file at every turn of its loop (6 % of a POST's samples in a
    py-spy profile): on /dev/shm, not the container's disk, as gunicorn's documentation advises."""
    import config.gunicorn

    assert config.gunicorn.worker_tmp_dir == "/dev/shm"


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


SHIPPED = Path(__file__).resolve().parents[2] / "ml" / "artifacts"
NEW_SLUR = "glorbnak"
DECIDED = {"published", "held", "rejected"}


def labels_give(site) -> None:
    """Sixty moderator labels: a local slur the shipped model does not know is toxic, and clean talk."""
    thread = Thread.objects.create(site=site, key="/labels")
    alice = User.objects.create_superuser("alice")
    for i in range(20):
        for text, action in (
            (f"you are a {NEW_SLUR}, comment {i}", ModerationAction.TOXIC),
            (f"you are right about comment {i}, thank you", ModerationAction.NOT_TOXIC),
            (f"you are a star, comment {i} made my day", ModerationAction.NOT_TOXIC),
        ):
            comment = Comment.objects.create(
                thread=thread, author_name="r", body=text, status="held", decided_at=thread.created_at
            )
            services.comment_moderate(comment_id=comment.pk, actor=alice, action=action)


def own_broker(tmp_path: Path, data_dirs: list[Path]) -> dict[str, str]:
    """A broker for these processes alone, as compose's own redis service: no other worker takes their tasks.

    With Redis, a key prefix of their own in the same database; with the embedded file-system broker,
    one folder that every process's ``var/broker`` points to, and one for ``var/cache``.
    """
    if settings.CELERY_BROKER_URL.startswith("redis"):
        # The same Redis database under a prefix of its own: no other worker takes these tasks.
        return {"REDIS_URL": settings.REDIS_URL, "MODERATO_REDIS_PREFIX": f"{settings.REDIS_PREFIX}-{tmp_path.name}"}
    # And one cache, as compose's Redis is both: the scoring drain's wake-up key is set by the web and
    # deleted by the worker.
    for name in ("broker", "cache"):
        shared = tmp_path / name
        shared.mkdir()
        for data_dir in data_dirs:
            (data_dir / name).symlink_to(shared)
    return {}


def corrupt_copy(row: ModelVersion, version: str) -> ModelVersion:
    """A new version with ``row``'s files under another name, one byte of its weights flipped in storage."""
    copy = ModelVersion.objects.create(name=row.name, version=version, status="candidate", based_on=row.version)
    for file in row.files.all():
        content = bytes(file.content)
        if file.name == "meta.json":
            content = content.replace(row.version.encode(), version.encode())
        sha256 = hashlib.sha256(content).hexdigest()
        if file.name == "weights.npz":
            flipped = bytearray(content)
            flipped[len(flipped) // 2] ^= 0xFF
            content = bytes(flipped)  # the recorded hash stays the one of the intact bytes
        ModelArtifactFile.objects.create(
            model_version=copy, name=file.name, content=content, sha256=sha256, size=len(content)
        )
    return copy


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_compose_processes_each_with_its_own_var_score_with_a_promoted_model(site, tmp_path):
    """Web, worker and beat each with a var/ of their own (as in compose), a candidate built and
    promoted by yet another process: the web's Perspective endpoint and the worker's scoring both
    switch to it; a promoted version whose stored bytes are corrupt leaves them on the shipped model."""
    services_ = COMPOSE["services"]
    port = free_port()
    data = {name: tmp_path / f"{name}-var" for name in ("web", "worker", "beat", "exec")}
    for data_dir in data.values():
        data_dir.mkdir()
    common = {"PORT": str(port), "PATH": f"{BIN}:/usr/bin:/bin", "SECRET_KEY": "compose-test-" + "x" * 40,
              "MODERATO_MODEL_REFRESH_SECONDS": "1", **own_broker(tmp_path, list(data.values()))}  # fmt: skip
    beat_command = [
        arg.replace("/app/var/celerybeat-schedule", str(data["beat"] / "celerybeat-schedule"))
        for arg in services_["beat"]["command"]
    ]
    processes = []
    base = f"http://127.0.0.1:{port}"
    _, key = api_key_create(site=site, name="Coral Talk")
    shipped = newest_version(SHIPPED, "toxicity")
    text = f"you {NEW_SLUR}"

    def perspective() -> float:
        body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
        response = httpx.post(f"{base}/v1alpha1/comments:analyze?key={key}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"]

    def submitted(body: str) -> Comment:
        payload = {"site": "planet", "thread": "/prod", "name": "Carol", "comment": body}
        accepted = httpx.post(f"{base}/api/v1/comments", json=payload, timeout=10).json()
        wait_for_status(accepted["id"], DECIDED, timeout=30)
        return Comment.objects.get(pk=accepted["id"])

    try:
        processes.append(
            start_process(
                native(services_["web"]["command"]),
                tmp_path / "web.log",
                "Booting worker",
                MODERATO_DATA_DIR=str(data["web"]),
                **common,
            )
        )
        processes.append(
            start_process(
                native(services_["worker"]["command"]),
                tmp_path / "worker.log",
                "ready.",
                MODERATO_DATA_DIR=str(data["worker"]),
                **common,
            )
        )
        processes.append(
            start_process(
                native(beat_command),
                tmp_path / "beat.log",
                "beat: Starting",
                MODERATO_DATA_DIR=str(data["beat"]),
                **common,
            )
        )
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        scoring.clear_cache()
        shipped_score = scoring.get_scorer().score(text)["TOXICITY"]
        assert perspective() == shipped_score
        assert submitted("A calm and useful article.").model_versions["TOXICITY"] == shipped

        # Built and promoted by a one-off process with a var/ of its own (docker compose run ... retrain).
        labels_give(site)
        retrain = [sys.executable, "manage.py", "retrain", "--model", "toxicity", "--min-labels", "20", "--promote"]
        built = subprocess.run(
            retrain,
            env=service_env(MODERATO_DATA_DIR=str(data["exec"]), **common),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert built.returncode == 0, built.stdout + built.stderr
        promoted = ModelVersion.objects.get(name="toxicity", status="active")
        scoring.active_versions_refresh()
        promoted_score = scoring.get_scorer().score(text)["TOXICITY"]
        assert promoted_score > shipped_score

        deadline = time.monotonic() + 30
        while perspective() != promoted_score and time.monotonic() < deadline:
            time.sleep(0.5)
        assert perspective() == promoted_score
        time.sleep(1.5)  # the worker's own refresh (see below)
        scored = submitted(f"you are a {NEW_SLUR}")
        assert scored.model_versions["TOXICITY"] == promoted.version
        assert scored.scores["TOXICITY"] == pytest.approx(scoring.get_scorer().score(scored.body)["TOXICITY"])
        for name in ("web", "worker"):  # each process copied the version from the database into its own var/
            assert (data[name] / "models" / "toxicity" / promoted.version / "weights.npz").is_file()
            assert promoted.version in (tmp_path / f"{name}.log").read_text(errors="replace")

        # A promoted version whose stored bytes are corrupt: the shipped model scores, nothing fails.
        broken = corrupt_copy(promoted, promoted.version.replace("-local", "-corrupt"))
        learning.model_promote(model_version_id=broken.pk)
        deadline = time.monotonic() + 30
        while perspective() != shipped_score and time.monotonic() < deadline:
            time.sleep(0.5)
        assert perspective() == shipped_score
        # Each process looks the active versions up again within MODERATO_MODEL_REFRESH_SECONDS (1 here):
        # the web's switch says nothing of when the worker last looked.
        time.sleep(1.5)
        held_back = submitted(f"you are a {NEW_SLUR} again")
        assert held_back.model_versions["TOXICITY"] == shipped
        assert not any(reason.get("code") == "scoring_failed" for reason in held_back.reasons)
        for name in ("web", "worker"):
            log = (tmp_path / f"{name}.log").read_text(errors="replace")
            assert f"the active version {broken.version} cannot be loaded" in log
        check = subprocess.run(
            [sys.executable, "manage.py", "check"],
            env=service_env(MODERATO_DATA_DIR=str(data["web"]), **common),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert check.returncode == 0 and "moderation.W001" in check.stdout + check.stderr
    finally:
        for process in processes:
            stop_process(process)
