"""A comment's story: every change of its state in order, for the moderators' page and the API.

Each function that changes a comment's state writes a ``CommentEvent`` in its own transaction
(``event_new`` then ``events_record``: a batch of decisions adds one statement, not one per comment).
Acts that are a row of their own already, written once, are read alongside instead of copied: the
submission (the comment's ``created_at``: a submission stays at two statements), a reader's report
(``Report``) and an author's new text (``CommentEdit``), so a reader's words stay in the one row that
erasure clears. ``comment_story`` merges them into plain data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Value
from django.utils import timezone

from comments.models import Comment, CommentEdit, Report
from moderation.models import CommentEvent

Actor = CommentEvent.Actor
Kind = CommentEvent.Kind

# Kinds the story reads from rows of their own (see above), next to the stored ``CommentEvent.Kind``.
SUBMITTED = "submitted"
IMPORTED = "imported"
REPORTED = "reported"
EDIT_SENT = "edit_sent"
DERIVED_LABELS = {
    SUBMITTED: "submitted",
    IMPORTED: "imported",
    REPORTED: "reported by a reader",
    EDIT_SENT: "its author sent a new text",
}


def event_new(
    *,
    comment_id: int,
    kind: Kind,
    actor: Actor = Actor.SYSTEM,
    user: Any = None,
    from_status: str = "",
    to_status: str = "",
    decision_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> CommentEvent:
    """An event to write (with ``events_record``); ``user``: a moderator, never an anonymous user."""
    return CommentEvent(
        comment_id=comment_id,
        kind=kind,
        actor=actor,
        user=user if user is not None and user.is_authenticated else None,
        from_status=from_status,
        to_status=to_status,
        decision_id=decision_id,
        details=details or {},
        at=at or timezone.now(),
    )


def events_record(events: list[CommentEvent]) -> None:
    """Write the events in one statement (none for an empty list). Call it inside the transaction that
    made the changes, with only the changes that were written."""
    if events:
        CommentEvent.objects.bulk_create(events)


def scoring_details(
    *,
    scores: dict[str, float],
    versions: dict[str, str],
    reasons: list[dict[str, Any]],
    language: str,
    shadow: tuple[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """What a scoring decided on: the scores, each attribute's model version, the reasons, the language
    detected and, in shadow mode, what Moderato would have done (outcome, reasons)."""
    details: dict[str, Any] = {"scores": scores, "versions": versions, "reasons": reasons, "language": language}
    if shadow is not None:
        details["shadow"] = {"outcome": shadow[0], "reasons": shadow[1]}
    return details


@dataclass(frozen=True)
class StoryEvent:
    """One line of the story, as plain data (``as_dict`` is JSON-ready)."""

    at: datetime
    actor: str  # system, person (a moderator) or reader
    kind: str  # a CommentEvent.Kind, or one of the derived kinds above
    label: str  # the kind in the moderators' words
    user: str | None = None  # the moderator's username: who acted, or who asked (a re-scoring)
    from_status: str = ""
    to_status: str = ""
    note: str = ""  # a moderator's note
    action: str = ""  # a moderator's action (approve, spam ...)
    labels: dict[str, int] = field(default_factory=dict)  # what a moderator's decision teaches the models
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"at": self.at.isoformat()}


def comment_story(comment: Comment) -> list[StoryEvent]:
    """The comment's story, oldest first: its submission, every event, every report and every new text its
    author sent. Two queries however long the story: the events with their moderators and decisions, then
    the reports and the edits together."""
    events = list(comment.events.select_related("user", "decision").order_by("at", "pk"))
    story = [_submission(comment, first=events[0] if events else None)]
    story += [_stored(event) for event in events]
    reports = Report.objects.filter(comment=comment).values_list(Value(REPORTED), "pk", "created_at", "reason")
    edits = CommentEdit.objects.filter(comment=comment).values_list(Value(EDIT_SENT), "pk", "created_at", Value(""))
    for kind, pk, at, reason in sorted(reports.union(edits, all=True), key=lambda row: (row[2], row[1])):
        details = {"reason": reason} if kind == REPORTED else {"edit": pk}
        story.append(StoryEvent(at=at, actor=Actor.READER, kind=kind, label=DERIVED_LABELS[kind], details=details))
    return sorted(story, key=lambda line: line.at)  # (stable: the submission first, events in their order)


def _submission(comment: Comment, *, first: CommentEvent | None) -> StoryEvent:
    """Posted by a reader, or imported (then the status it came with: the first event's starting status,
    else the comment's)."""
    if not comment.external_id:
        return StoryEvent(at=comment.created_at, actor=Actor.READER, kind=SUBMITTED, label=DERIVED_LABELS[SUBMITTED])
    status = first.from_status if first is not None and first.from_status else comment.status
    return StoryEvent(
        at=comment.created_at,
        actor=Actor.SYSTEM,
        kind=IMPORTED,
        label=DERIVED_LABELS[IMPORTED],
        to_status=status,
        details={"source": comment.external_id.partition(":")[0], "external_id": comment.external_id},
    )


def _stored(event: CommentEvent) -> StoryEvent:
    decision = event.decision
    return StoryEvent(
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        label=event.get_kind_display(),
        user=event.user.get_username() if event.user is not None else None,
        from_status=event.from_status,
        to_status=event.to_status,
        note=decision.note if decision is not None else "",
        action=decision.action if decision is not None else "",
        labels=decision.labels if decision is not None else {},
        details=event.details,
    )
