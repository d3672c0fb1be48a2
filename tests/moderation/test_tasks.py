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


@pytest.mark.parametrize("where", ["evaluate", "claim"])
def test_a_dropped_database_connection_costs_no_attempt(comment, monkeypatch, where):
    from django.db import OperationalError

    from moderation import services

    broken = {"evaluate": "comment_evaluate", "claim": "comment_claim"}[where]
    real = getattr(services, broken)
    calls = []

    def drops_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, broken, drops_once)
    assert comment_score.apply(args=[comment.pk]).get() == "published"
    comment.refresh_from_db()
    assert comment.status == "published" and comment.scoring_attempts == 1 and len(calls) == 2
