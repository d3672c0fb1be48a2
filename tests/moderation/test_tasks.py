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
