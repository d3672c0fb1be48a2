"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

from celery import Task, shared_task
from django import db
from django.conf import settings

from moderation import health, metrics, services
from moderation.notifications import (
    comment_webhook,
    held_comment_email,
    notification_deliver_task,
    notifications_sweep,
)

__all__ = [
    "comment_score",
    "comment_webhook",
    "held_comment_email",
    "models_retrain",
    "notification_deliver_task",
    "notifications_sweep",
    "pending_comments_sweep",
]

logger = logging.getLogger(__name__)


# Retries are bounded by the comment's own attempts counter (MODERATO_MAX_SCORING_ATTEMPTS), which
# also counts runs lost to a killed worker; a dropped database connection costs no attempt.
DATABASE_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=None)
def comment_score(self: Task[[int], str], comment_id: int) -> str:
    """Score and decide one comment (and notify); safe to run twice or after a moderator has acted."""
    started = time.monotonic()
    try:
        outcome = services.comment_score(comment_id=comment_id)
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


@shared_task(acks_late=True)
def pending_comments_sweep(older_than_seconds: int | None = None) -> int:
    """Re-queue comments left pending too long; return how many were queued.

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
    ids = services.pending_comments_claim_stale(older_than=timedelta(seconds=seconds), still_queued_from=front)
    for comment_id in ids:
        # On the housekeeping queue: a comment whose task was lost does not wait behind the backlog.
        comment_score.apply_async(args=(comment_id,), queue="housekeeping")
    if ids:
        logger.info("sweep: re-queued %s pending comments", len(ids))
    return len(ids)


@shared_task(acks_late=False, time_limit=3600, soft_time_limit=3500)
def models_retrain() -> dict[str, str]:
    """Weekly: a candidate from the labels for each model, promoted only when no gate is worse."""
    from moderation.learning import models_retrain as retrain

    return retrain(promote=True)
