"""Which words pushed a held comment's scores up: computed after the decision, off its path.

Spans cost 20 to 30 times the score, and only a moderator reads them, so a decision is written
without them and ``comment_explain`` adds them to the stored reasons shortly after (a task on the
``explanations`` queue, which every worker consumes after the scoring queue has what it needs).
"""

from __future__ import annotations

import logging

from celery import shared_task

from comments.models import Comment
from moderation.scoring import get_scorer

logger = logging.getLogger(__name__)


def reasons_need_spans(reasons: list[dict[str, object]]) -> bool:
    """Whether some score reason has no explained spans yet."""
    return any("attribute" in reason and "score" in reason and "spans" not in reason for reason in reasons)


def comment_explain(*, comment_id: int) -> bool:
    """Add the spans of the text that pushed each score up to the comment's score reasons.

    Written only if the comment was not decided again meanwhile (its ``decided_at`` unchanged), so a
    late explanation never overwrites a newer decision's reasons; return whether it was written.
    """
    comment = Comment.objects.filter(pk=comment_id).only("body", "reasons", "decided_at").first()
    if comment is None or not reasons_need_spans(comment.reasons):
        return False
    spans = get_scorer().explain(comment.body, top=5)
    reasons = [
        reason | {"spans": spans.get(str(reason["attribute"]), [])}
        if "attribute" in reason and "score" in reason
        else reason
        for reason in comment.reasons
    ]
    return bool(Comment.objects.filter(pk=comment_id, decided_at=comment.decided_at).update(reasons=reasons))


@shared_task(acks_late=True, ignore_result=True)
def comment_explain_task(comment_id: int) -> bool:
    return comment_explain(comment_id=comment_id)


def comment_explain_later(*, comment_id: int) -> None:
    """Queue the explanation once the decision is committed (lost with the broker: the page computes it)."""
    # The app's task class is a DjangoTask (config.celery.OnCommitTask); celery-types types it as Task.
    comment_explain_task.delay_on_commit(comment_id)  # type: ignore[attr-defined]
