"""Telling the outside world about decisions, through an outbox: nothing lost, nothing silent.

``decision_notify`` is called by the functions that change a comment's status (``moderation.services``),
never by their callers, so no entry point can forget it, and inside the transaction that writes the
decision: it writes one ``Notification`` row per delivery (the site's webhook; the moderators'
e-mail for a held comment) and queues its delivery for after the commit. A decision and its
notifications are committed together or not at all.

``notification_deliver`` sends one row (claiming it first, so two runs never send at once); a failure
pushes the row's next attempt back (30 s, 1 min, 2 min ... up to 6 h) and ``notifications_sweep``
re-drives every row that is due: a message the broker lost, a worker killed mid-delivery, a receiver
that was down. After ``MODERATO_NOTIFICATION_MAX_ATTEMPTS`` the row is marked failed; the admin's
delivery log shows each row and retries it on demand. Delivery is at least once: the webhook's
``webhook-id`` is the same on every attempt, for the receiver to deduplicate on.
"""

from __future__ import annotations

import datetime as dt
import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from comments.models import Comment
from comments.status import DECIDED, Status
from moderation import emails, metrics, webhooks
from moderation.models import Notification, SitePolicy
from moderation.webhooks import WebhookError

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 30
# A commenter's request for their data or its erasure: an e-mail with a signed link, to the address in
# the payload (forgotten once sent), event -> the link's purpose (moderation.emails.READER_SALTS).
READER_EVENTS = {"reader.export": "export", "reader.erase": "erase"}
LAST_RETRY_SECONDS = 6 * 3600

# E-mail events besides the moderators' "comment.held": readers' reply notices and the daily digest.
REPLY_CONFIRM = "reply.confirm"  # to a comment's author: confirm that you want to hear of replies
REPLY_NOTICE = "comment.reply"  # to the author of the comment a published reply answers (row: the reply)
HELD_DIGEST = "digest.held"  # to a site's moderators: the comments held, once a day


def decision_notify(*, comment_id: int, status: str, comment: Comment | None = None) -> list[Notification]:
    """Write the outbox rows for a decision and queue their delivery after the commit.

    Call it inside the transaction that writes the decision. ``comment``: the comment as the decision
    left it, with its thread, site and policy, when the caller has it (else it is read again).
    """
    if status not in DECIDED:
        return []
    if comment is None:
        comment = Comment.objects.select_related("thread__site__policy").filter(pk=comment_id).first()
        if comment is None:
            return []
    site = comment.thread.site
    try:
        site_policy = site.policy
    except SitePolicy.DoesNotExist:
        return []
    now = timezone.now()
    rows = []
    if site_policy.webhook_url:
        event = f"comment.{status}"
        rows.append(
            Notification(kind=Notification.Kind.WEBHOOK, event=event, payload=comment_payload(comment, event=event))
        )
    if site_policy.email_moderators and not site_policy.email_digest and status == Status.HELD:
        rows.append(Notification(kind=Notification.Kind.EMAIL, event="comment.held"))
    if status == Status.PUBLISHED:
        rows += [Notification(kind=Notification.Kind.EMAIL, event=event) for event in _reader_emails(comment)]
    # The sweep leaves a new row to its first task for a while: re-sending every young row each period
    # queued a second task for most notifications of a busy instance (bench/chaos.py).
    first_sweep = now + timedelta(seconds=settings.MODERATO_SWEEP_AFTER_SECONDS)
    for row in rows:
        row.site, row.comment, row.next_attempt_at = site, comment, first_sweep
        row.save()
        # The app's task class is a DjangoTask (config.celery.OnCommitTask); celery-types types shared tasks as Task.
        notification_deliver_task.delay_on_commit(row.pk)  # type: ignore[attr-defined]
    return rows


def _reader_emails(comment: Comment) -> list[str]:
    """The readers' e-mails a newly published comment calls for: its author's confirmation that they
    want to hear of replies, and the notice to the author of the comment it answers. Each is sent once
    per comment, however often it is published again (after reports, say)."""
    events = []
    if comment.reply_notice == Comment.ReplyNotice.UNCONFIRMED and comment.author_email:
        events.append(REPLY_CONFIRM)
    if comment.parent_id is not None:
        parent = (
            Comment.objects.filter(pk=comment.parent_id, reply_notice=Comment.ReplyNotice.CONFIRMED)
            .exclude(author_email="")
            .values_list("commenter", flat=True)
            .first()
        )
        if parent is not None and not (comment.commenter and parent == comment.commenter):  # not one's own reply
            events.append(REPLY_NOTICE)
    if not events:
        return []
    sent = set(Notification.objects.filter(comment=comment, event__in=events).values_list("event", flat=True))
    return [event for event in events if event not in sent]


def comment_change_notify(*, comment: Comment, event: str) -> list[Notification]:
    """The site's webhook hears of a change that is not a decision (``comment.edited``,
    ``comment.deleted``), through the outbox as decisions are. ``comment``: with thread, site, policy."""
    try:
        site_policy = comment.thread.site.policy
    except SitePolicy.DoesNotExist:
        return []
    if not site_policy.webhook_url:
        return []
    row = Notification.objects.create(
        kind=Notification.Kind.WEBHOOK,
        event=event,
        payload=comment_payload(comment, event=event),
        site=comment.thread.site,
        comment=comment,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.MODERATO_SWEEP_AFTER_SECONDS),
    )
    notification_deliver_task.delay_on_commit(row.pk)  # type: ignore[attr-defined]  # as in decision_notify
    return [row]


def held_digests_queue(*, day: dt.date | None = None) -> int:
    """Write one digest row for each site whose moderators take a daily digest and that has held
    comments; return how many. Once per site and day: the event id names both, so a second run
    (beat firing twice, a retry) adds nothing."""
    day = day or timezone.now().date()
    policies = list(SitePolicy.objects.filter(email_moderators=True, email_digest=True).select_related("site"))
    held_sites = set(
        Comment.objects.filter(status=Status.HELD, thread__site__in=[p.site_id for p in policies])
        .values_list("thread__site_id", flat=True)
        .distinct()
    )
    queued = 0
    for site_policy in policies:
        if site_policy.site_id not in held_sites:
            continue
        try:
            with transaction.atomic():
                row = Notification.objects.create(
                    event_id=f"digest_{site_policy.site_id}_{day:%Y%m%d}",
                    kind=Notification.Kind.EMAIL,
                    event=HELD_DIGEST,
                    site=site_policy.site,
                    payload={"day": day.isoformat()},
                    next_attempt_at=timezone.now() + timedelta(seconds=settings.MODERATO_SWEEP_AFTER_SECONDS),
                )
        except IntegrityError:
            continue  # this day's digest of this site is written already
        notification_deliver_task.delay_on_commit(row.pk)  # type: ignore[attr-defined]  # as above
        queued += 1
    return queued


def comment_payload(comment: Comment, *, event: str) -> dict[str, Any]:
    """The webhook body: the comment as the decision left it."""
    return {
        "event": event,
        "site": comment.thread.site.public_key,
        "comment": {
            "id": comment.pk,
            "thread": comment.thread.key,
            "parent": comment.parent_id,
            "status": comment.status,
            "name": comment.author_name,
            "staff": comment.by_staff,  # a moderator's reply as the site (moderation.staff)
            "comment": comment.body,
            "scores": comment.scores,
            "model_versions": comment.model_versions,
            "reasons": comment.reasons,
            "created": comment.created_at.isoformat(),
            "decided": comment.decided_at.isoformat() if comment.decided_at else None,
        },
    }


def reader_link_notify(*, site_id: int, email: str, purpose: str) -> Notification:
    """Write the outbox row of a reader's export or erase link and queue its delivery after the commit."""
    event = next(event for event, of in READER_EVENTS.items() if of == purpose)
    row = Notification.objects.create(
        kind=Notification.Kind.EMAIL,
        event=event,
        site_id=site_id,
        payload={"to": email.strip().lower()},
        next_attempt_at=timezone.now() + timedelta(seconds=settings.MODERATO_SWEEP_AFTER_SECONDS),
    )
    notification_deliver_task.delay_on_commit(row.pk)  # type: ignore[attr-defined]  # as in decision_notify
    return row


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt a notification is due again."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LAST_RETRY_SECONDS))


def notification_claim(*, notification_id: int) -> Notification | None:
    """Take a due notification for one attempt, or None (delivered, given up, or another run has it).

    The claim moves its next attempt past this one's back-off, so the sweep leaves it alone meanwhile,
    and a worker killed mid-delivery only delays it.
    """
    now = timezone.now()
    # Due, or never tried: the first task after the decision does not wait for the sweep's grace.
    due = Notification.objects.filter(pk=notification_id, state=Notification.State.PENDING).filter(
        Q(next_attempt_at__lte=now) | Q(attempts=0)
    )
    row = due.select_related("site__policy", "comment__thread").first()
    if row is None:
        return None
    # Compare-and-set on the attempts counter: of two runs that read the same row, one claims it.
    claimed = due.filter(attempts=row.attempts).update(
        attempts=row.attempts + 1, last_attempt_at=now, next_attempt_at=now + retry_delay(row.attempts + 1)
    )
    if not claimed:
        return None
    row.attempts += 1
    return row


def notification_deliver(*, notification_id: int) -> str:
    """Make one attempt at a due notification; return "delivered", "retry", "failed" or "skipped"."""
    row = notification_claim(notification_id=notification_id)
    if row is None:
        return "skipped"
    try:
        result = _send(row)
    except (WebhookError, OSError) as exc:
        if row.kind == Notification.Kind.WEBHOOK:
            metrics.WEBHOOK_FAILURES.inc()
        gave_up = row.attempts >= settings.MODERATO_NOTIFICATION_MAX_ATTEMPTS
        given_up: dict[str, Any] = {"payload": {}} if gave_up and row.event in READER_EVENTS else {}
        Notification.objects.filter(pk=row.pk).update(
            last_result=str(exc)[:300],
            state=Notification.State.FAILED if gave_up else Notification.State.PENDING,
            **given_up,
        )
        log = logger.error if gave_up else logger.warning
        log("notification %s (%s) attempt %s failed: %s", row.event_id, row.event, row.attempts, exc)
        return "failed" if gave_up else "retry"
    # A reader's address is kept only until their link is sent.
    forget: dict[str, Any] = {"payload": {}} if row.event in READER_EVENTS else {}
    Notification.objects.filter(pk=row.pk).update(
        state=Notification.State.DELIVERED, delivered_at=timezone.now(), last_result=result[:300], **forget
    )
    if row.kind == Notification.Kind.WEBHOOK:
        metrics.WEBHOOKS_DELIVERED.inc()
    return "delivered"


def _send(row: Notification) -> str:
    if row.event in READER_EVENTS:
        address = str(row.payload.get("to", ""))
        if not address:
            return "no address"
        sent = emails.reader_link_email_send(site_id=row.site_id, email=address, purpose=READER_EVENTS[row.event])
        return f"{sent} e-mail(s) sent"
    if row.kind == Notification.Kind.EMAIL:
        if row.event == HELD_DIGEST:
            return f"{emails.held_digest_send(site_id=row.site_id)} e-mail(s) sent"
        if row.comment_id is None:
            return "no comment"
        if row.event == REPLY_CONFIRM:
            return f"{emails.reply_confirm_email_send(comment_id=row.comment_id)} e-mail(s) sent"
        if row.event == REPLY_NOTICE:
            return f"{emails.reply_notice_email_send(reply_id=row.comment_id)} e-mail(s) sent"
        return f"{emails.held_comment_email_send(comment_id=row.comment_id)} e-mail(s) sent"
    site_policy = row.site.policy
    if not site_policy.webhook_url:
        return "the site has no webhook any more"
    status = webhooks.webhook_post(
        url=site_policy.webhook_url,
        secret=site_policy.webhook_secret,
        event=row.event,
        payload=row.payload,
        event_id=row.event_id,
    )
    return f"HTTP {status}"


def notifications_due(*, limit: int = 500) -> list[int]:
    """Pending notifications whose next attempt is due, oldest first."""
    due = Notification.objects.filter(state=Notification.State.PENDING, next_attempt_at__lte=timezone.now())
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def notifications_retry(*, notification_ids: list[int]) -> int:
    """Make the given notifications due now (a given-up one too) and queue them; return how many."""
    updated = Notification.objects.filter(pk__in=notification_ids).filter(
        Q(state=Notification.State.PENDING) | Q(state=Notification.State.FAILED)
    )
    ids = list(updated.values_list("pk", flat=True))
    Notification.objects.filter(pk__in=ids).update(state=Notification.State.PENDING, next_attempt_at=timezone.now())
    for notification_id in ids:
        notification_deliver_task.delay_on_commit(notification_id)  # type: ignore[attr-defined]  # as above
    return len(ids)


@shared_task(name="moderation.tasks.notification_deliver", acks_late=True)
def notification_deliver_task(notification_id: int) -> str:
    """Deliver one outbox row (one attempt; the sweep brings it back while it fails)."""
    return notification_deliver(notification_id=notification_id)


@shared_task(name="moderation.tasks.held_digests_send", acks_late=True)
def held_digests_send() -> int:
    """Daily (beat): queue the held-comments digest of every site whose moderators chose one."""
    return held_digests_queue()


@shared_task(name="moderation.tasks.notifications_sweep", acks_late=True)
def notifications_sweep() -> int:
    """Queue every notification that is due; return how many."""
    ids = notifications_due()
    for notification_id in ids:
        notification_deliver_task.delay(notification_id)
    if ids:
        logger.info("sweep: re-queued %s notifications", len(ids))
    return len(ids)


# The first release queued these two tasks directly; they stay for one release so that messages
# queued before the upgrade are still delivered (without an outbox row).
@shared_task(
    name="moderation.tasks.held_comment_email",
    acks_late=True,
    autoretry_for=(OSError,),
    max_retries=5,
    retry_backoff=30,
)
def held_comment_email(comment_id: int) -> int:
    return emails.held_comment_email_send(comment_id=comment_id)


@shared_task(name="moderation.tasks.comment_webhook", bind=True, acks_late=True, autoretry_for=(WebhookError,))
def comment_webhook(self: Task[[int, str], bool], comment_id: int, event: str) -> bool:
    comment = Comment.objects.select_related("thread__site__policy").get(pk=comment_id)
    site_policy = comment.thread.site.policy
    if not site_policy.webhook_url:
        return False
    payload = comment_payload(comment, event=event)
    webhooks.webhook_post(url=site_policy.webhook_url, secret=site_policy.webhook_secret, event=event, payload=payload)
    return True
