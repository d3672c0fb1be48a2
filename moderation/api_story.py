"""A comment's story as the moderation API tells it: the comment, the comment it answers and its direct
replies, its commenter's history on the site, and what happened to it (``moderation.story``, the same
story the admin's comment page shows)."""

from __future__ import annotations

from dataclasses import dataclass

from comments.models import Comment
from moderation.commenters import CommenterHistory, commenter_history
from moderation.story import StoryEvent, comment_story

STORY_REPLIES = 20  # direct replies told, as the admin's comment page shows them; more_replies says if there are more


@dataclass(frozen=True)
class Story:
    comment: Comment
    parent: Comment | None
    replies: list[Comment]
    more_replies: bool
    commenter: CommenterHistory
    events: list[StoryEvent]  # oldest first


def comment_story_assemble(*, comment: Comment) -> Story:
    """Everything a moderator reads before deciding ``comment`` (read with ``thread``), in a few queries
    whatever the number of replies and events."""
    parent = Comment.objects.filter(pk=comment.parent_id).first() if comment.parent_id is not None else None
    replies = list(Comment.objects.filter(parent_id=comment.pk).order_by("created_at", "pk")[: STORY_REPLIES + 1])
    return Story(
        comment=comment,
        parent=parent,
        replies=replies[:STORY_REPLIES],
        more_replies=len(replies) > STORY_REPLIES,
        commenter=commenter_history(comment=comment),
        events=comment_story(comment),
    )
