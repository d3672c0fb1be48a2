"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from datetime import timedelta

from celery import Task, shared_task
from django import db
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from moderation import health, metrics, services
from moderation.notifications import (
    comment_webhook,
    held_comment_email,
    held_digests_send,
    notification_deliver_task,
    notifications_sweep,
)

__all__ = [
    "comment_edit_score",
    "comment_score",
    "comment_webhook",
    "held_comment_email",
    "held_digests_send",
    "models_retrain",
    "notification_deliver_task",
    "notifications_sweep",
    "pending_comments_drain",
    "pending_comments_sweep",
]

logger = logging.getLogger(__name__)


# Retries are bounded by the comment's own attempts counter (MODERATO_MAX_SCORING_ATTEMPTS), which
# also counts runs lost to a killed worker; a dropped database connection costs no attempt.
DATABASE_RETRIES = 5


def _holder(task: Task[..., object]) -> services.Holder | None:
    """This worker process, as its heartbeat names it (None when run in the caller's process)."""
    hostname = task.request.hostname
    if task.request.is_eager or not hostname:
        return None
    return services.Holder(hostname=hostname, pid=os.getpid())


def comment_score_taken(*, comment_id: int, hostname: str) -> None:
    """A worker's main process has taken a comment's scoring message from the broker (it runs it when a
    process of its pool is free, or at its retry time): that process holds the comment from now.

    Killed before the message runs, the worker takes the message with it until the broker's visibility
    timeout (10 minutes on Redis); the sweep, which sees the holder gone, re-queues the comment at once.
    Never raises: it runs in the worker's event loop.
    """
    try:
        health.connection_refresh()
        services.comment_hold(comment_id=comment_id, holder=services.Holder(hostname=hostname, pid=os.getpid()))
    except db.Error:
        logger.warning("comment %s: its holder not recorded", comment_id, exc_info=True)


def comment_scores_dropped(*, hostname: str) -> None:
    """A worker's main process (re)connected to the broker: the scoring messages it held unstarted were
    dropped with the old connection (``services.comments_holds_drop``). Never raises."""
    try:
        health.connection_refresh()
        dropped = services.comments_holds_drop(holder=services.Holder(hostname=hostname, pid=os.getpid()))
    except db.Error:
        logger.warning("%s: the comments it held not released", hostname, exc_info=True)
        return
    if dropped:
        logger.info("%s: %s comments' scoring messages dropped with the broker connection", hostname, dropped)


@shared_task(bind=True, acks_late=True, max_retries=None)
def comment_score(self: Task[[int], str], comment_id: int) -> str:
    """Score and decide one comment (and notify); safe to run twice or after a moderator has acted."""
    started = time.monotonic()
    try:
        outcome = services.comment_score(comment_id=comment_id, holder=_holder(self))
    except services.ScoringInterrupted as exc:
        # The connection dropped (a database restart, a killed backend): a fresh one, the attempt back,
        # and again soon; the sweep takes over if the database stays away.
        if not db.connection.in_atomic_block:  # (a test's transaction keeps its connection)
            db.connection.close()
        if exc.claimed:
            with contextlib.suppress(db.DatabaseError):
                services.comment_attempt_give_back(comment_id=comment_id)
        logger.warning("comment %s: %s; retrying with a new connection", comment_id, exc)
        if self.request.retries >= DATABASE_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=1) from exc
    except Exception as exc:  # the scorer may fail in any way; bounded retries, then a person
        metrics.comment_scored(outcome="error", seconds=time.monotonic() - started)
        try:
            attempts = services.comment_attempts_get(comment_id=comment_id)
        except db.DatabaseError:  # the connection went with the failure: a new one, and again soon
            if not db.connection.in_atomic_block:
                db.connection.close()
            raise self.retry(exc=exc, countdown=1) from exc
        if attempts < settings.MODERATO_MAX_SCORING_ATTEMPTS:
            raise self.retry(exc=exc, countdown=2**attempts) from exc
        logger.exception("comment %s: giving up after %s attempts", comment_id, attempts)
        outcome = services.comment_scoring_give_up(comment_id=comment_id, attempts=attempts)
    else:
        seconds = time.monotonic() - started
        metrics.comment_scored(outcome=outcome, seconds=seconds)
        logger.info("comment %s: %s in %.3fs", comment_id, outcome, seconds)
    return outcome


# The drain: the common path. A submission wakes it (after its commit) unless it is already awake;
# it claims the fresh pending comments a batch at a time and scores each batch together. After a
# batch that was not full it lingers (MODERATO_SCORING_LINGER_MS) before claiming again, awake, so
# that under a steady load one batch takes the comments of the linger and no submission queues a
# drain: what a batch costs besides its comments (the claim, the reads, the decision statement and
# the commit) is shared by more comments, and a wake-up costs a submission one cache look.
#
# Why no comment committed is left without a drain. The wake-up key says "a drain is queued or
# running"; it is set by a submission that queues a drain (SET NX: only when no key was there) and by
# a running drain after a batch that found comments, and deleted only by a drain, before a claim
# (after a claim that found nothing); a drain ends only after a claim that found
# nothing, made after it deleted the key. Take comment C, committed,
# whose submission then found the key set, so queued nothing. Whoever set the key last before that
# look (a submission that went on to queue a drain, or a drain that was running) leaves a drain that
# will delete it: not before the look (the key was there), so after it; and that drain claims after
# its delete, when C is committed and visible. That claim takes C, or another drain took C first.
# On PostgreSQL a claim can come back empty because a concurrent drain took its candidates: that
# drain claims again after it, so it still sees C. A drain that is killed, or whose message is lost,
# leaves the key to expire (DRAIN_WAKEUP_SECONDS) and the comments to the sweep, as before.
DRAIN_WAKEUP_KEY = "moderato:scoring-drain-awake"
DRAIN_WAKEUP_SECONDS = 10
# A drain hands over to a new one after this long, well within the task time limits, so that a long
# backlog is a chain of short tasks the worker interleaves with the others.
DRAIN_SLICE_SECONDS = 5.0


def pending_comments_drain_wake() -> None:
    """Once the caller's transaction commits, queue a drain unless one is queued or running."""

    def wake() -> None:
        try:
            asleep = cache.add(DRAIN_WAKEUP_KEY, 1, timeout=DRAIN_WAKEUP_SECONDS)
        except Exception:  # the cache is down: a drain too many is harmless, a missing one is not
            logger.warning("scoring drain: the wake-up key cannot be read; queueing a drain", exc_info=True)
            asleep = True
        if not asleep:
            return
        try:
            pending_comments_drain.delay()
        except Exception:
            _wakeup_key_delete()  # none is queued: the next submission queues one
            raise  # logged by the robust on_commit; the sweep finds the comment

    wake.__qualname__ = "moderation.tasks.pending_comments_drain.delay"  # how on_commit logs a failure
    transaction.on_commit(wake, robust=True)


def pending_comments_drain_awake() -> bool:
    """Whether a drain was queued or ran within DRAIN_WAKEUP_SECONDS."""
    try:
        return cache.get(DRAIN_WAKEUP_KEY) is not None
    except Exception:
        return False


def _wakeup_key_set() -> None:
    with contextlib.suppress(Exception):
        cache.set(DRAIN_WAKEUP_KEY, 1, timeout=DRAIN_WAKEUP_SECONDS)


def _wakeup_key_delete() -> None:
    try:
        cache.delete(DRAIN_WAKEUP_KEY)
    except Exception:  # left to expire: submissions until then queue nothing, and wait for the sweep
        logger.warning("scoring drain: the wake-up key cannot be deleted", exc_info=True)


@shared_task(bind=True, acks_late=True, max_retries=None)
def pending_comments_drain(self: Task[[], int]) -> int:
    """Score the fresh pending comments in batches until a claim finds none; return how many it claimed.

    After a batch that was not full it waits MODERATO_SCORING_LINGER_MS before the next claim. After
    DRAIN_SLICE_SECONDS it queues another drain to go on and ends. A comment whose scoring fails in a
    batch goes to the per-comment task (retries, then held); a killed drain leaves its claimed comments
    pending with one attempt counted, for the sweep.
    """
    started = time.monotonic()
    claimed = 0
    key_deleted = False
    key_set = False  # by this drain (the one a submission set may be about to expire)
    try:
        while True:
            batch = services.pending_comments_score_batch(holder=_holder(self))
            claimed += batch.claimed
            if not batch.claimed:
                if key_deleted:
                    break  # the key was deleted before this claim: a later submission queues a drain
                _wakeup_key_delete()
                key_deleted = True
                continue
            if key_deleted or not key_set:  # awake: submissions queue nothing, and the sweep leaves the
                _wakeup_key_set()  # fresh comments to this drain
                key_deleted, key_set = False, True
            _batch_record(batch, started=started)
            if time.monotonic() - started > DRAIN_SLICE_SECONDS:
                pending_comments_drain.delay()  # goes on, with the key
                break
            if batch.claimed < settings.MODERATO_SCORING_BATCH:  # no backlog: let the next batch fill
                time.sleep(settings.MODERATO_SCORING_LINGER_MS / 1000)
    except services.BatchInterrupted as exc:
        if not db.connection.in_atomic_block:  # a fresh connection, as comment_score does
            db.connection.close()
        with contextlib.suppress(db.DatabaseError):
            services.comments_attempts_give_back(comment_ids=exc.claimed)
        logger.warning("scoring drain: %s; retrying with a new connection", exc)
        if self.request.retries >= DATABASE_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=1) from exc
    return claimed


def _batch_record(batch: services.Batch, *, started: float) -> None:
    """One log line and one metric per comment, as the per-comment task writes them; a failed comment
    to the per-comment task, which makes its next attempts (the batch counted the first) and holds it
    after the last."""
    seconds = time.monotonic() - started
    for comment_id, outcome in batch.outcomes.items():
        metrics.comment_scored(outcome=outcome, seconds=seconds)
        # The request id is that of the submission that woke the drain, not necessarily this comment's.
        logger.info(
            "comment %s: %s in a batch of %s", comment_id, outcome, batch.claimed, extra={"comment_id": comment_id}
        )
    for comment_id in batch.failed:
        metrics.comment_scored(outcome="error", seconds=seconds)
        comment_score.apply_async(args=(comment_id,), countdown=2)


@shared_task(bind=True, acks_late=True, max_retries=None)
def comment_edit_score(self: Task[[int], str], edit_id: int) -> str:
    """Score and decide an author's edit (``services.comment_edit_score``); safe to run twice. A failure
    is retried with back-off; the edit's own attempts counter holds it for a person after the last."""
    try:
        outcome = services.comment_edit_score(edit_id=edit_id)
    except Exception as exc:
        if not db.connection.in_atomic_block:
            db.connection.close()
        if self.request.retries >= settings.MODERATO_MAX_SCORING_ATTEMPTS:
            raise  # the sweep brings it back, and the edit's attempts counter holds it then
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    logger.info("edit %s: %s", edit_id, outcome)
    return outcome


def comment_edit_score_later(*, edit_id: int) -> None:
    """Once the caller's transaction commits, queue the edit's scoring (a broker error is logged; the sweep
    finds the edit later)."""

    def queue() -> None:
        comment_edit_score.delay(edit_id)

    queue.__qualname__ = "moderation.tasks.comment_edit_score.delay"
    transaction.on_commit(queue, robust=True)


@shared_task(bind=True, acks_late=True)
def pending_comments_sweep(self: Task[[int | None], int], older_than_seconds: int | None = None) -> int:
    """Re-queue comments whose holder died (at once) or left pending too long; return how many were queued.

    Beat passes its own MODERATO_SWEEP_AFTER_SECONDS, so whichever worker runs the sweep
    applies the scheduler's setting.
    """
    health.sweep_ran_record()
    seconds = settings.MODERATO_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    try:
        front = health.oldest_queued_comment()
    except Exception:  # a broker that cannot be read: sweep as if the queue were empty
        logger.warning("sweep: the broker's queue cannot be read", exc_info=True)
        front = None
    # While a drain is awake it claims the fresh comments itself; when none is, one is woken for them
    # and they are queued singly as well (back-off as ever): the sweep does not rely on the drain.
    awake = pending_comments_drain_awake()
    ids = services.pending_comments_claim_stale(
        older_than=timedelta(seconds=seconds), still_queued_from=front, fresh=not awake, holder=_holder(self)
    )
    if ids and not awake:
        pending_comments_drain_wake()
    for comment_id in ids:
        # On the housekeeping queue: a comment whose task was lost does not wait behind the backlog.
        comment_score.apply_async(args=(comment_id,), queue="housekeeping")
    if ids:
        logger.info("sweep: re-queued %s pending comments", len(ids))
    edits = services.pending_edits_claim_stale(older_than=timedelta(seconds=seconds))
    for edit_id in edits:
        comment_edit_score.apply_async(args=(edit_id,), queue="housekeeping")
    if edits:
        logger.info("sweep: re-queued %s pending edits", len(edits))
    return len(ids)


@shared_task(acks_late=False, time_limit=3600, soft_time_limit=3500)
def models_retrain() -> dict[str, str]:
    """Weekly: a candidate from the labels for each model, promoted only when no gate is worse."""
    from moderation.learning import models_retrain as retrain

    return retrain(promote=True)
