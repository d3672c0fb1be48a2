"""No accepted comment is lost when the worker is killed mid-backlog: the sweep finds what it had taken.

The victim and the survivor have a broker of their own (another Redis database, or another
folder), so the test session's shared worker cannot take the backlog and make the test pass for them.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from comments.models import Comment, Thread
from moderation import services
from tests.conftest import BIN, start_process, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def own_broker(tmp_path: Path) -> tuple[dict[str, str], Celery]:
    """(environment for the workers, a Celery app that publishes to the same broker and nowhere else)."""
    data_dir = tmp_path / "var"
    env = {"MODERATO_DATA_DIR": str(data_dir)}
    if settings.CELERY_BROKER_URL.startswith("redis"):
        # The same Redis database under a prefix of its own (never another run's keys, never a FLUSHDB).
        prefix = f"{settings.REDIS_PREFIX}-reliability-{tmp_path.name}"
        app = Celery("publisher", broker=settings.CELERY_BROKER_URL)
        app.conf.broker_transport_options = {"global_keyprefix": f"{prefix}:"}
        return env | {"MODERATO_REDIS_PREFIX": prefix}, app
    queue = data_dir / "broker" / "queue"
    queue.mkdir(parents=True)
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS | {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(data_dir / "broker" / "control"),
    }
    app = Celery("publisher", broker="filesystem://")
    app.conf.broker_transport = settings.CELERY_BROKER_TRANSPORT
    app.conf.broker_transport_options = options
    return env, app


def publish_scoring(publisher: Celery, comment_ids: list[int]) -> None:
    for comment_id in comment_ids:
        publisher.send_task("moderation.tasks.comment_score", args=[comment_id], queue="celery")


def test_it_decides_every_comment_after_the_worker_is_killed(site, tmp_path):
    env, publisher = own_broker(tmp_path)
    thread = Thread.objects.create(site=site, key="/backlog")
    ids = [
        Comment.objects.create(thread=thread, author_name=f"Reader {n}", body=f"A calm remark about item {n}.").pk
        for n in range(60)
    ]
    publish_scoring(publisher, ids)  # queued before the worker starts, so it is killed with tasks in hand
    args = [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=2", "--loglevel=INFO", "-n", "victim@%h"]
    victim = start_process(args, tmp_path / "victim.log", "ready.", **env)
    deadline = time.monotonic() + 30
    while not Comment.objects.filter(pk__in=ids).exclude(status="pending").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(victim.pid, signal.SIGKILL)  # mid-backlog: tasks in hand are gone with it
    victim.wait()
    decided_by_victim = Comment.objects.filter(pk__in=ids).exclude(status="pending").count()
    pending_after_kill = len(ids) - decided_by_victim
    received = (tmp_path / "victim.log").read_text(errors="replace").count("Task moderation.tasks.comment_score[")
    assert decided_by_victim > 0 and received > 0, "the victim never worked"
    assert pending_after_kill > 0, "nothing was pending at the kill: the test tested nothing"

    survivor = start_process([*args[:-1], "survivor@%h"], tmp_path / "survivor.log", "ready.", **env)
    try:
        deadline = time.monotonic() + 60
        while Comment.objects.filter(pk__in=ids, status="pending").exists() and time.monotonic() < deadline:
            # The sweep, publishing to this broker only (what beat runs every period).
            publish_scoring(publisher, services.pending_comments_claim_stale(older_than=timedelta(0)))
            time.sleep(1)
    finally:
        stop_process(survivor)
    assert Comment.objects.filter(pk__in=ids, status="pending").count() == 0, f"{pending_after_kill} were pending"
    assert Comment.objects.filter(pk__in=ids).count() == 60
    assert all(
        attempts <= 3 for attempts in Comment.objects.filter(pk__in=ids).values_list("scoring_attempts", flat=True)
    )
