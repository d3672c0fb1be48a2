from typing import Any

import pytest

from comments.models import Comment, Thread
from moderation.tasks import comment_score, pending_comments_sweep


@pytest.fixture
def comment(site):
    thread = Thread.objects.create(site=site, key="/a")
    return Comment.objects.create(thread=thread, author_name="Alice", body="A fine article.")


def test_it_retries_a_failing_scorer_then_holds_the_comment(comment, settings, tmp_path):
    settings.MODERATO_ARTIFACTS_DIR = tmp_path  # no models there: every attempt fails
    result = comment_score.apply(args=[comment.pk])
    assert result.get() == "held"
    comment.refresh_from_db()
    assert comment.status == "held"
    assert comment.scoring_attempts == settings.MODERATO_MAX_SCORING_ATTEMPTS
    assert comment.reasons[0]["code"] == "scoring_failed"


def test_it_skips_a_comment_that_no_longer_exists(db):
    assert comment_score.apply(args=[987654]).get() == "skipped"


def test_it_sweeps_nothing_when_nothing_is_stale(comment):
    assert pending_comments_sweep() == 0


def test_a_comment_whose_last_attempt_was_killed_is_held_saying_the_same_count(comment, settings):
    """A worker killed during the last attempt leaves the comment pending at the maximum: the next run
    holds it, and the count and the reason agree (they once read 4 and 3)."""
    Comment.objects.filter(pk=comment.pk).update(scoring_attempts=settings.MODERATO_MAX_SCORING_ATTEMPTS)
    assert comment_score.apply(args=[comment.pk]).get() == "held"
    comment.refresh_from_db()
    assert comment.scoring_attempts == settings.MODERATO_MAX_SCORING_ATTEMPTS == 3
    assert comment.reasons[0]["detail"] == "Scoring failed 3 times; held for a moderator."


def drop_first_call(monkeypatch, module, name):
    """Make ``module.name`` raise a dropped-connection error on its first call only; return the call list."""
    from django.db import OperationalError

    real = getattr(module, name)
    calls = []

    def drops_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(module, name, drops_once)
    return calls


@pytest.mark.parametrize("where", ["evaluate", "claim"])
def test_a_dropped_database_connection_costs_no_attempt(comment, monkeypatch, where):
    from moderation import services

    broken = {"evaluate": "comment_evaluate", "claim": "comment_claim"}[where]
    calls = drop_first_call(monkeypatch, services, broken)
    assert comment_score.apply(args=[comment.pk]).get() == "published"
    comment.refresh_from_db()
    assert comment.status == "published" and comment.scoring_attempts == 1 and len(calls) == 2


# The drain ------------------------------------------------------------------------------------------

CLEAN = "A fine article, thank you."


@pytest.fixture
def drain_asleep():
    from django.core.cache import cache

    from moderation import tasks

    cache.delete(tasks.DRAIN_WAKEUP_KEY)
    yield
    cache.delete(tasks.DRAIN_WAKEUP_KEY)


@pytest.fixture
def queued(monkeypatch):
    """The messages the drain and the sweep send, recorded instead of sent."""
    from moderation import tasks

    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(tasks.pending_comments_drain, "delay", lambda: sent.append(("drain", ())))
    monkeypatch.setattr(
        tasks.comment_score, "apply_async", lambda args, **options: sent.append(("comment_score", tuple(args)))
    )
    return sent


def test_the_drain_decides_every_fresh_comment_in_batches_and_goes_to_sleep(comment, settings, drain_asleep, queued):
    from django.core.cache import cache

    from moderation import tasks

    settings.MODERATO_SCORING_BATCH = 4
    others = [Comment.objects.create(thread=comment.thread, author_name="B", body=f"{CLEAN} {n}") for n in range(9)]
    assert tasks.pending_comments_drain.apply().get() == 10
    assert not Comment.objects.filter(status="pending").exists()
    assert set(Comment.objects.values_list("scoring_attempts", flat=True)) == {1}
    assert cache.get(tasks.DRAIN_WAKEUP_KEY) is None  # asleep: the next submission wakes a new drain
    assert queued == [] and others


@pytest.mark.parametrize("batch", [1, 500], ids=["after-full-batches", "after-a-batch-not-full"])
def test_a_comment_committed_as_the_drain_goes_to_sleep_is_decided(
    comment, drain_asleep, queued, monkeypatch, settings, batch
):
    """Its submission found the key still set, so queued no drain: the drain's claim after deleting
    the key is what decides it (the drain deletes it after a claim that found nothing)."""
    from moderation import tasks

    settings.MODERATO_SCORING_BATCH = batch

    late: list[Comment] = []
    delete = tasks._wakeup_key_delete

    def delete_then_a_submission_commits() -> None:
        delete()
        if not late:
            late.append(Comment.objects.create(thread=comment.thread, author_name="Late", body=CLEAN))

    monkeypatch.setattr(tasks, "_wakeup_key_delete", delete_then_a_submission_commits)
    assert tasks.pending_comments_drain.apply().get() == 2
    assert Comment.objects.get(pk=late[0].pk).status == "published"


def test_a_drain_lingers_after_a_batch_that_is_not_full_and_takes_what_came_meanwhile_in_one_batch(
    comment, drain_asleep, queued, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """Under a steady load the drain stays awake between batches: the submissions of the linger queue no
    drain, and the next claim takes them together."""
    from comments import services as public
    from moderation import services, tasks

    settings.MODERATO_SCORING_LINGER_MS = 40
    batches: list[int] = []
    score_batch = services.pending_comments_score_batch

    def recorded(**claim: Any) -> services.Batch:
        batch = score_batch(**claim)
        batches.append(batch.claimed)
        return batch

    lingered: list[float] = []

    def comments_arrive(seconds: float) -> None:
        lingered.append(seconds)
        if len(lingered) == 1:
            with django_capture_on_commit_callbacks(execute=True):
                for n in range(3):
                    public.comment_submit(site_key="planet", thread_key="/a", name="Bo", body=f"{CLEAN} {n}")

    monkeypatch.setattr(services, "pending_comments_score_batch", recorded)
    monkeypatch.setattr(tasks.time, "sleep", comments_arrive)
    assert tasks.pending_comments_drain.apply().get() == 4
    assert batches == [1, 3, 0, 0] and lingered == [0.04, 0.04]
    assert queued == []  # the drain was awake: the three submissions queued nothing
    assert not Comment.objects.filter(status="pending").exists()
    assert not tasks.pending_comments_drain_awake()


def test_a_submission_wakes_a_drain_only_when_none_is_awake(
    site, drain_asleep, queued, django_capture_on_commit_callbacks
):
    from comments import services as public
    from moderation import tasks

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            public.comment_submit(site_key="planet", thread_key="/t", name="Al", body=f"{CLEAN} {n}")
    assert queued == [("drain", ())]
    assert tasks.pending_comments_drain_awake()


def test_a_drain_hands_over_to_a_new_one_after_its_slice(comment, drain_asleep, queued, monkeypatch, settings):
    from moderation import tasks

    settings.MODERATO_SCORING_BATCH = 1
    Comment.objects.create(thread=comment.thread, author_name="B", body=CLEAN + " Again.")
    monkeypatch.setattr(tasks, "DRAIN_SLICE_SECONDS", 0)
    assert tasks.pending_comments_drain.apply().get() == 1
    assert queued == [("drain", ())]
    assert tasks.pending_comments_drain_awake()  # the next drain inherits the key
    assert Comment.objects.filter(status="pending").count() == 1


def test_a_comment_that_fails_in_a_batch_goes_to_the_per_comment_task_and_is_held_at_the_limit(
    comment, drain_asleep, queued, monkeypatch, settings
):
    from moderation import services, tasks

    poison = Comment.objects.create(thread=comment.thread, author_name="P", body="POISON")
    scorer = services.get_scorer()

    class Choking:
        versions, attributes = scorer.versions, scorer.attributes

        def score_many(self, texts):
            if "POISON" in texts:
                raise ValueError("the models choke on this text")
            return scorer.score_many(texts)

        def score(self, text):
            return self.score_many([text])[0]

    monkeypatch.setattr(services, "get_scorer", Choking)
    assert tasks.pending_comments_drain.apply().get() == 2
    assert queued == [("comment_score", (poison.pk,))]
    assert Comment.objects.get(pk=comment.pk).status == "published"
    assert comment_score.apply(args=[poison.pk]).get() == "held"  # its retries, then a person
    poison.refresh_from_db()
    assert poison.scoring_attempts == settings.MODERATO_MAX_SCORING_ATTEMPTS == 3
    assert poison.reasons[0]["detail"] == "Scoring failed 3 times; held for a moderator."


def test_a_dropped_database_connection_costs_a_batch_no_attempt(comment, drain_asleep, queued, monkeypatch):
    from moderation import services, tasks

    calls = drop_first_call(monkeypatch, services, "comments_evaluate")
    tasks.pending_comments_drain.apply()
    comment.refresh_from_db()
    assert comment.status == "published" and comment.scoring_attempts == 1 and len(calls) == 2


def test_the_sweep_leaves_fresh_comments_to_an_awake_drain_and_wakes_one_otherwise(
    comment, drain_asleep, queued, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    from moderation import tasks

    tried = Comment.objects.create(thread=comment.thread, author_name="K", body=CLEAN, scoring_attempts=1)
    Comment.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    cache.set(tasks.DRAIN_WAKEUP_KEY, 1, timeout=60)
    assert pending_comments_sweep(older_than_seconds=30) == 1  # a killed drain's claimed comment only
    assert queued == [("comment_score", (tried.pk,))]
    cache.delete(tasks.DRAIN_WAKEUP_KEY)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert pending_comments_sweep(older_than_seconds=30) == 1  # the fresh one; no drain was awake
    assert queued == [("comment_score", (comment.pk,)), ("drain", ())]
