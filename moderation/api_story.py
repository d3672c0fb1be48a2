"""A comment's story as the moderation API tells it: the comment, the comment it answers and its direct
replies, its commenter's history on the site, and what happened to it.

Interim: what happened is read from the moderators' decisions (``ModerationDecision``), all that
records a comment's history today. The event history being written alongside (``moderation.story``,
``comment_story``) takes the place of ``decision_events`` when it lands; the rest stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from comments.models import Comment
from moderation.commenters import CommenterHistory, commenter_history
from moderation.models import ModerationDecision

STORY_REPLIES = 20  # direct replies told, as the admin's comment page shows them; more_replies says if there are more


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # "decision"
    actor: str | None  # the moderator's username (None: their account was deleted)
    action: str
    from_status: str
    to_status: str
    labels: dict[str, int]
    note: str


@dataclass(frozen=True)
class Story:
    comment: Comment
    parent: Comment | None
    replies: list[Comment]
    more_replies: bool
    commenter: CommenterHistory
    events: list[Event]  # oldest first


def comment_story_assemble(*, comment: Comment) -> Story:
    """Everything a moderator reads before deciding ``comment`` (read with ``thread``), in six queries."""
    parent = Comment.objects.filter(pk=comment.parent_id).first() if comment.parent_id is not None else None
    replies = list(Comment.objects.filter(parent_id=comment.pk).order_by("created_at", "pk")[: STORY_REPLIES + 1])
    return Story(
        comment=comment,
        parent=parent,
        replies=replies[:STORY_REPLIES],
        more_replies=len(replies) > STORY_REPLIES,
        commenter=commenter_history(comment=comment),
        events=decision_events(comment=comment),
    )


def decision_events(*, comment: Comment) -> list[Event]:
    """The moderators' decisions on the comment, oldest first (until ``moderation.story`` replaces them)."""
    decisions = ModerationDecision.objects.filter(comment_id=comment.pk).select_related("actor")
    return [
        Event(
            at=decision.created_at,
            kind="decision",
            actor=decision.actor.get_username() if decision.actor is not None else None,
            action=decision.action,
            from_status=decision.from_status,
            to_status=decision.to_status,
            labels=decision.labels,
            note=decision.note,
        )
        for decision in decisions.order_by("created_at", "pk")
    ]
