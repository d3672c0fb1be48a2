"""Replies as the site: a moderator answers a comment in the site's name, from the queue or its page.

A staff reply is a comment the site writes, so nothing scores it: it is published at once, marked
``by_staff`` (the listing says so, and the widget shows a badge), signed with the site's staff name,
and its reasons say which moderator wrote it. It goes out as a reader's published reply does: the
thread's cached pages are made stale, the site's webhook hears ``comment.published`` and the author of
the comment it answers gets the reply notice they asked for, through the outbox
(``notifications.decision_notify``).

Readers see a reply only under a published comment. A moderator answering a held comment usually
publishes it too (``approve``: the same approval as the decide buttons, with its audit row); without
it the reply waits, published but unlisted, until the comment is. A rejected comment is answered only
together with its approval, and a deleted one not at all. A closed thread is closed to readers: the site
still answers in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from comments.models import Comment
from comments.selectors import comment_listed
from comments.views import COMMENT_MAX_LENGTH, has_visible_text
from ml.language import detect_language
from moderation import policy
from moderation.models import ModerationAction
from moderation.notifications import decision_notify
from moderation.services import comment_moderate, listing_changed
from moderation.sites import comment_moderator_check, site_policy

REPLY_MAX_LENGTH = COMMENT_MAX_LENGTH  # as long as a reader's comment may be
STAFF_NAME_MAX_LENGTH = 100  # Comment.author_name's


@dataclass(frozen=True)
class StaffReply:
    reply: Comment
    parent_status: str  # of the comment it answers, after
    approved: bool  # the comment it answers was approved with it
    listed: bool  # readers see it now (every comment above it is published)


def staff_name(*, comment: Comment) -> str:
    """The name a reply as the site is signed with: the site policy's staff name, else the site's name."""
    site = comment.thread.site
    return (site_policy(site=site).staff_name.strip() or site.name)[:STAFF_NAME_MAX_LENGTH]


def staff_reply_body_clean(body: str) -> str:
    """The reply's text, stripped; a ValidationError keyed by ``body`` says what is wrong with it."""
    body = body.strip()
    if not has_visible_text(body):
        raise ValidationError({"body": ["Write the reply first: it is empty."]})
    if len(body) > REPLY_MAX_LENGTH:
        raise ValidationError(
            {"body": [f"A reply is at most {REPLY_MAX_LENGTH:,} characters long; this one has {len(body):,}."]}
        )
    if "\x00" in body or _has_lone_surrogates(body):
        raise ValidationError({"body": ["The reply contains characters that are not text (NUL, lone surrogates)."]})
    return body


def _has_lone_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def staff_reply_post(
    *, comment_id: int, actor: Any, body: str, approve: bool = False, expected_status: str = ""
) -> StaffReply:
    """Publish ``body`` as the site's reply to the comment; with ``approve``, publish the comment too.

    Only a moderator of the comment's site (and language) may. ``expected_status``: the comment's status
    as the moderator saw it; when approving, a comment whose status changed since is left alone and
    nothing is posted (another moderator's decision is not overridden by a reply).
    """
    body = staff_reply_body_clean(body)
    with transaction.atomic():
        parent = Comment.objects.select_for_update(of=("self",)).select_related("thread__site").get(pk=comment_id)
        comment_moderator_check(actor=actor, comment=parent)
        approved = _parent_ready(parent=parent, actor=actor, approve=approve, expected_status=expected_status)
        language = detect_language(body)
        reply = Comment.objects.create(
            thread=parent.thread,
            parent=parent,
            root_id=parent.root_id or parent.pk,
            author_name=staff_name(comment=parent),
            body=body,
            status=Comment.Status.PUBLISHED,
            reasons=[policy.staff_reply(actor.get_username()).as_dict()],
            decided_at=timezone.now(),
            language=language.code,
            script=language.script,
            by_staff=True,
            staff_user=actor,
        )
        listing_changed(thread=parent.thread)
        decision_notify(comment_id=reply.pk, status=Comment.Status.PUBLISHED, comment=reply)
        return StaffReply(
            reply=reply, parent_status=parent.status, approved=approved, listed=comment_listed(comment=reply)
        )


def _parent_ready(*, parent: Comment, actor: Any, approve: bool, expected_status: str) -> bool:
    """Approve the comment replied to if asked and not published; refuse what readers would never see
    a reply under. Return whether it was approved."""
    if parent.status == Comment.Status.DELETED or parent.deleted_at is not None:
        raise ValidationError(f"Comment #{parent.pk} was deleted: there is nothing to reply to.")
    if parent.status == Comment.Status.PUBLISHED:
        return False
    if not approve:
        if parent.status == Comment.Status.REJECTED:
            raise ValidationError(
                f"Comment #{parent.pk} is rejected: readers would never see a reply under it. Approve it too, "
                "or leave it."
            )
        return False
    comment_moderate(
        comment_id=parent.pk,
        actor=actor,
        action=ModerationAction.APPROVE,
        note="approved with a staff reply",
        expected_status=expected_status,
    )
    parent.status = Comment.Status.PUBLISHED
    return True
