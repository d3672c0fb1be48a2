"""No accepted comment is lost when the worker is killed mid-backlog: the sweep finds what it had taken."""

import os
import signal
import time

import pytest

from comments import services
from comments.models import Comment
from moderation.tasks import pending_comments_sweep
from tests.conftest import BIN, start_process, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_it_decides_every_comment_after_the_worker_is_killed(site, settings, tmp_path):
    args = [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=2", "--loglevel=INFO", "-n", "victim@%h"]
    ids = [
        services.comment_submit(
            site_key="planet", thread_key="/backlog", name=f"Reader {n}", body=f"A calm remark about item {n}."
        ).comment.pk
        for n in range(60)
    ]
    # The backlog is queued before the worker starts, so it is killed with tasks in hand.
    victim = start_process(args, tmp_path / "victim.log", "ready.")
    deadline = time.monotonic() + 30
    while not Comment.objects.filter(pk__in=ids).exclude(status="pending").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(victim.pid, signal.SIGKILL)  # mid-backlog: tasks in hand are gone with it
    victim.wait()
    pending_after_kill = Comment.objects.filter(pk__in=ids, status="pending").count()

    survivor = start_process([*args[:-1], "survivor@%h"], tmp_path / "survivor.log", "ready.")
    try:
        settings.MODERATO_SWEEP_AFTER_SECONDS = 0
        deadline = time.monotonic() + 60
        while Comment.objects.filter(pk__in=ids, status="pending").exists() and time.monotonic() < deadline:
            pending_comments_sweep()
            time.sleep(1)
    finally:
        stop_process(survivor)
    assert Comment.objects.filter(pk__in=ids, status="pending").count() == 0, f"{pending_after_kill} were pending"
    assert Comment.objects.filter(pk__in=ids).count() == 60
    assert all(
        attempts <= 3 for attempts in Comment.objects.filter(pk__in=ids).values_list("scoring_attempts", flat=True)
    )
