"""Telling the outside world about decisions: the site's signed webhook and the moderators' e-mail.

``decision_notify`` is called by the functions that change a comment's status (``moderation.services``),
never by their callers, so no entry point can forget it. It queues the deliveries after the
surrounding transaction commits; each is a task of its own, retried while the receiver fails.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task

from comments.models import Comment
from comments.status import DECIDED, Status
from moderation import emails, webhooks
from moderation.webhooks import WebhookError

logger = logging.getLogger(__name__)


def decision_notify(*, comment_id: int, status: str) -> None:
    """Queue the site's webhook and, for a held comment, the moderators' e-mail (after commit)."""
    if status not in DECIDED:
        return
    webhook, email = site_notifications(comment_id=comment_id)
    if webhook:
        comment_webhook.delay_on_commit(comment_id, f"comment.{status}")
    if email and status == Status.HELD:
        held_comment_email.delay_on_commit(comment_id)


def site_notifications(*, comment_id: int) -> tuple[bool, bool]:
    """Whether the comment's site wants (webhooks, moderator e-mails)."""
    row = (
        Comment.objects.filter(pk=comment_id)
        .values_list("thread__site__policy__webhook_url", "thread__site__policy__email_moderators")
        .first()
    )
    return (bool(row[0]), bool(row[1])) if row else (False, False)


def comment_webhook_send(*, comment_id: int, event: str) -> bool:
    """POST the comment's current state to its site's webhook; False when the site has none."""
    comment = Comment.objects.select_related("thread__site__policy").get(pk=comment_id)
    site = comment.thread.site
    site_policy = site.policy
    if not site_policy.webhook_url:
        return False
    payload = {
        "event": event,
        "site": site.public_key,
        "comment": {
            "id": comment.pk,
            "thread": comment.thread.key,
            "parent": comment.parent_id,
            "status": comment.status,
            "name": comment.author_name,
            "comment": comment.body,
            "scores": comment.scores,
            "model_versions": comment.model_versions,
            "reasons": comment.reasons,
            "created": comment.created_at.isoformat(),
            "decided": comment.decided_at.isoformat() if comment.decided_at else None,
        },
    }
    webhooks.webhook_post(url=site_policy.webhook_url, secret=site_policy.webhook_secret, event=event, payload=payload)
    return True


# The task names are those of the release that defined them in moderation.tasks, so that messages
# queued before an upgrade still find their task.
@shared_task(
    name="moderation.tasks.held_comment_email",
    acks_late=True,
    autoretry_for=(OSError,),
    max_retries=5,
    retry_backoff=30,
)
def held_comment_email(comment_id: int) -> int:
    """E-mail the site's moderators about a held comment; retried while the mail server fails."""
    return emails.held_comment_email_send(comment_id=comment_id)


@shared_task(
    name="moderation.tasks.comment_webhook",
    bind=True,
    acks_late=True,
    autoretry_for=(WebhookError,),
    max_retries=6,
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
)
def comment_webhook(self: Task, comment_id: int, event: str) -> bool:
    """Deliver one signed event; retried with back-off (about 10 minutes in all) while the receiver fails."""
    return comment_webhook_send(comment_id=comment_id, event=event)
