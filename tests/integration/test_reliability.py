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
        app = Celery("publisher", broker=settings.CELERY_BROKER_URL, set_as_current=False)
        app.conf.broker_transport_options = {"global_keyprefix": f"{prefix}:"}
        return env | {"MODERATO_REDIS_PREFIX": prefix}, app
    queue = data_dir / "broker" / "queue"
    queue.mkdir(parents=True)
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS | {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(data_dir / "broker" / "control"),
    }
    app = Celery("publisher", broker="filesystem://", set_as_current=False)
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


def test_it_decides_every_comment_after_a_draining_worker_is_killed(site, tmp_path):
    """The drain claims a batch at a time: killed mid-backlog, it leaves the comments of the batch in
    hand pending with one attempt counted, and the rest unclaimed. The sweep queues the claimed ones
    singly and wakes a new drain for the rest; every comment ends decided, none attempted more than
    the limit."""
    env, publisher = own_broker(tmp_path)
    env |= {"MODERATO_SCORING_BATCH": "50"}  # many batches, each long enough for a kill to land inside
    thread = Thread.objects.create(site=site, key="/drain")
    ids = [
        Comment.objects.create(thread=thread, author_name=f"Reader {n}", body=f"A calm remark about item {n}.").pk
        for n in range(1000)
    ]
    args = [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO", "-n", "victim@%h"]
    pending = Comment.objects.filter(pk__in=ids, status="pending")
    in_hand = pending.filter(scoring_attempts=1)
    decided = Comment.objects.filter(pk__in=ids).exclude(status="pending")
    claimed_at_kill: set[int] = set()
    # Between two batches (a commit, then the next claim) a kill finds nothing in hand: a victim killed
    # there is replaced and killed again, up to 10 times, until a kill lands inside a batch (on a busy
    # machine the kill can come a batch late several times in a row).
    for attempt in range(10):
        publisher.send_task("moderation.tasks.pending_comments_drain", queue="scoring")
        victim = start_process(args, tmp_path / f"victim-{attempt}.log", "ready.", **env)
        deadline = time.monotonic() + 60
        while not (decided.exists() and in_hand.exists()) and time.monotonic() < deadline:
            time.sleep(0.002)
        os.killpg(victim.pid, signal.SIGKILL)  # mid-batch: the comments in hand are gone with it
        victim.wait()
        claimed_at_kill = set(in_hand.values_list("pk", flat=True))
        if claimed_at_kill:
            break
    decided_by_victim = decided.count()
    assert decided_by_victim > 0, "the victim never worked"
    assert claimed_at_kill, "the victim held no claimed comment at the kill: the test tested nothing"
    assert pending.filter(scoring_attempts=0).exists(), "nothing was left unclaimed: the test tested nothing"

    survivor = start_process([*args[:-1], "survivor@%h"], tmp_path / "survivor.log", "ready.", **env)
    try:
        deadline = time.monotonic() + 90
        while pending.exists() and time.monotonic() < deadline:
            # The sweep, publishing to this broker only: the claimed comments singly, and a drain for
            # the fresh ones (what pending_comments_sweep does once the killed drain's key has expired).
            publish_scoring(publisher, services.pending_comments_claim_stale(older_than=timedelta(0), fresh=False))
            publisher.send_task("moderation.tasks.pending_comments_drain", queue="scoring")
            time.sleep(1)
    finally:
        stop_process(survivor)
    assert not pending.exists(), f"{len(ids) - decided_by_victim} were pending after the kill"
    attempts = dict(Comment.objects.filter(pk__in=ids).values_list("pk", "scoring_attempts"))
    assert len(attempts) == len(ids) and all(1 <= n <= 3 for n in attempts.values())
    assert all(attempts[pk] >= 2 for pk in claimed_at_kill)  # the killed batch's attempt stays counted
    assert set(Comment.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"published"}


def test_the_sweep_requeues_at_once_what_a_killed_worker_had_taken_and_leaves_a_live_workers_alone(site, tmp_path):
    """A worker takes scoring messages that it runs later (at a retry's time here; behind a busy pool
    under load) and is killed with them: the broker gives them back only after its visibility timeout
    (10 minutes on Redis; the file broker never). Each comment names the process that took it, so the
    sweep leaves them alone while that worker lives, and re-queues them at its next run once the worker
    has started again without that process, however young the comments are."""
    from django.utils import timezone

    env, publisher = own_broker(tmp_path)
    thread = Thread.objects.create(site=site, key="/taken")
    ids = [
        Comment.objects.create(thread=thread, author_name=f"Reader {n}", body=f"A calm remark about item {n}.").pk
        for n in range(5)
    ]
    args = [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO", "-n", "victim@%h"]
    victim = start_process(args, tmp_path / "victim.log", "ready.", **env)
    try:
        for comment_id in ids:
            publisher.send_task("moderation.tasks.comment_score", args=[comment_id], queue="celery", countdown=600)
        taken = Comment.objects.filter(pk__in=ids, claimed_by__startswith="victim@")
        deadline = time.monotonic() + 30
        while taken.count() < len(ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert taken.count() == len(ids), "the victim did not take the messages: the test tested nothing"
        # Old enough for the back-off, but held by a live process: left alone.
        Comment.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(minutes=5))
        assert services.pending_comments_claim_stale(older_than=timedelta(seconds=30)) == []
        Comment.objects.filter(pk__in=ids).update(created_at=timezone.now())
    finally:
        os.killpg(victim.pid, signal.SIGKILL)  # the messages in hand are gone with it
        victim.wait()
    assert Comment.objects.filter(pk__in=ids, status="pending").count() == len(ids)

    # Started again under the same name, as compose restarts a container: its first beat names new processes.
    survivor = start_process(args, tmp_path / "survivor.log", "ready.", **env)
    try:
        requeued = services.pending_comments_claim_stale(older_than=timedelta(seconds=30))
        assert sorted(requeued) == ids  # a few seconds old: only a dead holder sends them back this soon
        publish_scoring(publisher, requeued)
        deadline = time.monotonic() + 30
        while Comment.objects.filter(pk__in=ids, status="pending").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop_process(survivor)
    assert set(Comment.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"published"}
    assert set(Comment.objects.filter(pk__in=ids).values_list("requeues", flat=True)) == {1}
