"""A comment's status: the one list of its values, owned by the public side that stores comments.

Plain Python (no Django), so that the decision policy (``moderation.policy``) names its outcomes
with these values and nothing else.
"""

import enum


class Status(enum.StrEnum):
    PENDING = "pending"  # stored, waiting for its scores
    PUBLISHED = "published"
    HELD = "held"  # waits for a moderator
    REJECTED = "rejected"  # never shown; reads as held to the commenter
    DELETED = "deleted"  # taken down by its author (a comment with replies stays published as "[deleted]")


# What a deleted comment kept for its replies shows in its place (its author's deletion, or an erasure),
# and the name an anonymised comment keeps: the one placeholder.
DELETED_TEXT = "[deleted]"

DECIDED = frozenset({Status.PUBLISHED, Status.HELD, Status.REJECTED})
