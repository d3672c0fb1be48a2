"""Submitting and reporting comments: validation against the site and thread, storage, and the
signals that tell the moderation app (``comments.signals``); nothing here decides a comment."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from comments import sql, tokens
from comments.models import Comment, CommentEdit, IdempotencyKey, Report, Site, Thread, thread_key_canonical
from comments.signals import comment_was_deleted, comment_was_edited, comment_was_posted, comment_was_reported


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was sent before with a different body."""


@dataclass(frozen=True)
class Submission:
    comment: Comment
    replayed: bool
    site_id: int
    edit_minutes: int = 0

    @property
    def editable_until(self) -> str | None:
        """Until when its author may edit or delete it (ISO 8601), or None if the site allows neither."""
        if not self.edit_minutes:
            return None
        return (self.comment.created_at + timedelta(minutes=self.edit_minutes)).isoformat()

    @property
    def commenter_token(self) -> str:
        """The signed commenter token to hand back (renewed: a fresh timestamp on the same id)."""
        if not self.comment.commenter:  # (a comment stored before commenter tokens existed)
            return ""
        return tokens.commenter_token_make(site_id=self.site_id, commenter=self.comment.commenter)


def client_address(*, remote_addr: str, forwarded_for: str, trusted_proxies: int) -> str:
    """Return the client's address, trusting X-Forwarded-For only as far as our own proxies.

    Each trusted proxy appends the address it received the request from, so the client is the
    ``trusted_proxies``-th entry from the right; anything left of it may be forged by the client.
    """
    if trusted_proxies > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            candidate = hops[-min(trusted_proxies, len(hops))]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote_addr


def ip_hash(*, address: str) -> str:
    """Return a keyed hash of an IP address, so the raw address is never stored."""
    if not address:
        return ""
    key = settings.MODERATO_ADDRESS_HASH_KEY.encode()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


# Sites by public key and every site's allowed origins, per process: read on every request, changed
# by an administrator now and then. A change made in this process clears them at once (the
# receivers in comments.apps); other processes see it within MODERATO_SITE_CACHE_SECONDS.
_sites: dict[str, tuple[float, Site]] = {}
_origins: list[tuple[float, frozenset[str]]] = []
SITES_CACHED_AT_MOST = 1000


def site_cache_clear(**_: object) -> None:
    _sites.clear()
    _origins.clear()


def origin_allowed_by_any_site(*, origin: str) -> bool:
    """Whether some site lists this origin."""
    now = time.monotonic()
    if not _origins or now - _origins[0][0] >= settings.MODERATO_SITE_CACHE_SECONDS:
        found = frozenset(o for origins in Site.objects.values_list("allowed_origins", flat=True) for o in origins)
        _origins[:] = [(now, found)]
    return origin in _origins[0][1]


def site_check_origin(*, site: Site, origin: str) -> None:
    """Refuse a browser submission from a page the site does not allow (no Origin: not a browser)."""
    if origin and origin not in site.allowed_origins:
        raise ValidationError({"site": [f"This site does not accept comments from {origin}."]})


def site_get(*, public_key: str) -> Site:
    """The site of a public key (cached, see above: treat it as read-only)."""
    now = time.monotonic()
    cached = _sites.get(public_key)
    if cached is not None and now - cached[0] < settings.MODERATO_SITE_CACHE_SECONDS:
        return cached[1]
    try:
        site = Site.objects.get(public_key=public_key)
    except Site.DoesNotExist:
        raise ValidationError({"site": ["Unknown site."]}) from None
    if len(_sites) >= SITES_CACHED_AT_MOST:
        _sites.clear()
    _sites[public_key] = (now, site)
    return site


def thread_get_or_create(*, site: Site, key: str) -> Thread:
    """The thread a submission goes to; refused if it is unknown (on a site that does not create threads)
    or closed, by a moderator or by its age (``Thread.takes_comments``: no query beyond the thread's)."""
    thread = _thread_take(site=site, key=key, create=True)
    assert thread is not None  # (made if missing)
    return thread


def _thread_take(*, site: Site, key: str, create: bool) -> Thread | None:
    """``thread_get_or_create``; with ``create=False``, None for a thread the site would make."""
    key = thread_key_canonical(key)
    if len(key) > Thread._meta.get_field("key").max_length:  # type: ignore[operator]  # (an int here)
        raise ValidationError({"thread": ["Ensure this field has no more than 499 characters."]})
    thread = _thread_get(site=site, key=key)
    if thread is None:
        if not site.auto_create_threads:
            raise ValidationError({"thread": ["Unknown thread."]})
        if not create:
            return None
        thread, _ = Thread.objects.get_or_create(site=site, key=key)
    if not thread.takes_comments(site, timezone.now()):
        raise ValidationError({"thread": ["This thread is closed."]})
    return thread


def thread_close(*, thread: Thread) -> bool:
    """Close a thread to new comments, whatever its age; return whether that changed it."""
    changed = bool(Thread.objects.filter(pk=thread.pk, is_open=True).update(is_open=False))
    thread.is_open = False
    return changed


def thread_reopen(*, thread: Thread, site: Site) -> bool:
    """Open a thread to new comments again; return whether it was closed. A thread the site's
    ``close_after_days`` had closed stops closing by age (else reopening it would change nothing)."""
    now = timezone.now()
    if thread.takes_comments(site, now):
        return False
    closes_at = thread.closes_at(site)
    auto_close = thread.auto_close and not (closes_at is not None and closes_at <= now)
    Thread.objects.filter(pk=thread.pk).update(is_open=True, auto_close=auto_close)
    thread.is_open, thread.auto_close = True, auto_close
    return True


def _thread_get(*, site: Site, key: str) -> Thread | None:
    """The site's thread of this (canonical) key, or None (``comments.sql``: the ORM's query, compiled
    once per thread; building it on every submission cost three times what running it does)."""
    return sql.thread_by_key(site_id=site.pk, key=key)


def _parent_get(*, thread: Thread, parent_id: int) -> Comment:
    parent = Comment.objects.filter(pk=parent_id, status=Comment.Status.PUBLISHED).first()
    if parent is None:
        raise ValidationError({"parent": ["Unknown parent comment."]})
    if parent.thread_id != thread.pk:
        raise ValidationError({"parent": ["The parent comment belongs to another thread."]})
    return parent


def _request_hash(fields: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def comment_submit(
    *,
    site_key: str,
    thread_key: str,
    name: str,
    body: str,
    email: str = "",
    parent_id: int | None = None,
    address: str = "",
    user_agent: str = "",
    origin: str = "",
    idempotency_key: str = "",
    trap: str = "",
    commenter_token: str = "",
    form_token: str = "",
    notify_replies: bool = False,
) -> Submission:
    """Store a new comment as pending and announce it (``comment_was_posted``: the moderation app
    queues it for scoring once the row is committed).

    With an idempotency key, a repeat of the same submission returns the first comment and
    creates nothing; the same key with other fields raises ``IdempotencyConflict``. ``origin`` is
    the Origin of a cross-origin browser request ("" otherwise), checked against the site's list.
    ``trap`` is the widget's hidden field (``website``): filled in, the comment is stored and held.
    ``commenter_token`` (``comments.tokens``) carries the commenter id on; without a valid one the
    comment gets a new id. ``form_token`` records how long after the widget's form opened it came.
    ``notify_replies`` (with an e-mail address): its author asks to be told of replies, once they
    confirm from the e-mail the moderation app sends when the comment is published.
    """
    if notify_replies and not email:
        raise ValidationError({"notify_replies": ["Give an e-mail address to be told of replies."]})
    site = site_get(public_key=site_key)
    site_check_origin(site=site, origin=origin)
    fields: dict[str, object] = {
        "thread": thread_key,
        "name": name,
        "comment": body,
        "email": email,
        "parent": parent_id,
    }
    if notify_replies:  # (only then: the hashes of keys stored before the field existed stay the same)
        fields["notify_replies"] = True
    request_hash = _request_hash(fields) if idempotency_key else ""
    if idempotency_key:
        replay = _idempotent_replay(site=site, key=idempotency_key, request_hash=request_hash)
        if replay is not None:
            return replay
    try:
        # To a thread that exists, without an idempotency key, the comment's INSERT is the only write:
        # no BEGIN and COMMIT around it and the thread's SELECT (each statement commits by itself), two
        # round trips fewer per submission. A new thread and its first comment, or a comment and its
        # idempotency key, are stored in one transaction, so that a refused submission (an unknown
        # parent, say) leaves no empty thread behind and a key never names a missing comment.
        thread = None if idempotency_key else _thread_take(site=site, key=thread_key, create=False)
        with transaction.atomic() if thread is None else contextlib.nullcontext():
            if thread is None:
                thread = thread_get_or_create(site=site, key=thread_key)
            parent = _parent_get(thread=thread, parent_id=parent_id) if parent_id is not None else None
            comment = sql.comment_insert(
                Comment(
                    thread=thread,
                    parent=parent,
                    root_id=(parent.root_id or parent.pk) if parent else None,
                    author_name=name,
                    author_email=email,
                    body=body,
                    ip_hash=ip_hash(address=address),
                    user_agent=user_agent[:300],
                    trap_filled=bool(trap.strip()),
                    commenter=tokens.commenter_token_read(token=commenter_token, site_id=site.pk)
                    or tokens.commenter_new(),
                    form_seconds=tokens.form_token_seconds(token=form_token, site_id=site.pk),
                    reply_notice=Comment.ReplyNotice.UNCONFIRMED if notify_replies else Comment.ReplyNotice.NONE,
                ),
            )
            if idempotency_key:
                IdempotencyKey.objects.create(
                    site=site, key=idempotency_key, request_hash=request_hash, comment=comment
                )
            comment_was_posted.send(sender=Comment, comment_id=comment.pk)
    except IntegrityError:
        # Another request with the same idempotency key committed first.
        replay = (
            _idempotent_replay(site=site, key=idempotency_key, request_hash=request_hash) if idempotency_key else None
        )
        if replay is None:
            raise
        return replay
    return Submission(comment=comment, replayed=False, site_id=site.pk, edit_minutes=site.edit_minutes)


def _idempotent_replay(*, site: Site, key: str, request_hash: str) -> Submission | None:
    keep_since = timezone.now() - timedelta(hours=settings.MODERATO_IDEMPOTENCY_KEEP_HOURS)
    record = IdempotencyKey.objects.filter(site=site, key=key).select_related("comment").first()
    if record is None:
        return None
    if record.created_at < keep_since:
        record.delete()
        return None
    if record.request_hash != request_hash:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request body.")
    return Submission(comment=record.comment, replayed=True, site_id=site.pk, edit_minutes=site.edit_minutes)


def idempotency_keys_purge() -> int:
    """Delete idempotency keys past their keeping time; return how many."""
    keep_since = timezone.now() - timedelta(hours=settings.MODERATO_IDEMPOTENCY_KEEP_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=keep_since).delete()
    return deleted


# Rows the retention job clears per statement, so that no statement holds its locks long.
RETENTION_BATCH = 5000


@dataclass(frozen=True)
class Retention:
    comments: int  # comments whose address hash or user agent was removed
    reports: int  # reports whose address hash was removed


def retention_purge(*, days: int | None = None) -> Retention:
    """Remove the address hashes and user agents of comments, and the address hashes of reports,
    older than ``days`` (``MODERATO_RETENTION_DAYS``). Text, names and e-mail addresses stay: they are
    the comment. A report's hash becomes ``expired:<id>``, not "", since a report is one per address.
    """
    cutoff = timezone.now() - timedelta(days=days if days is not None else settings.MODERATO_RETENTION_DAYS)
    old_comments = Comment.objects.filter(created_at__lt=cutoff).exclude(ip_hash="", user_agent="")
    comments = 0
    while batch := list(old_comments.values_list("pk", flat=True)[:RETENTION_BATCH]):
        comments += Comment.objects.filter(pk__in=batch).update(ip_hash="", user_agent="")
    old_reports = Report.objects.filter(created_at__lt=cutoff).exclude(ip_hash__startswith="expired:")
    reports = 0
    while batch := list(old_reports.values_list("pk", flat=True)[:RETENTION_BATCH]):
        reports += Report.objects.filter(pk__in=batch).update(
            ip_hash=Concat(Value("expired:"), Cast("pk", output_field=CharField()))
        )
    return Retention(comments=comments, reports=reports)


def comment_report(*, comment_id: int, site_key: str, reason: str = "", address: str = "") -> Comment:
    """Record a reader's report and announce it (``comment_was_reported``: the moderation app puts the
    comment back in the queue at the site's threshold).

    A second report from the same address counts once. Only published comments can be reported.
    """
    site = site_get(public_key=site_key)
    with transaction.atomic():
        comment = (
            Comment.objects.select_for_update()
            .filter(pk=comment_id, thread__site=site, status=Comment.Status.PUBLISHED)
            .first()
        )
        if comment is None:
            raise ValidationError({"comment": ["No published comment with this id on this site."]})
        Report.objects.get_or_create(comment=comment, ip_hash=ip_hash(address=address), defaults={"reason": reason})
        # Reports count from the last decision on: a comment a moderator published again starts afresh.
        reports = Report.objects.filter(comment=comment, created_at__gte=comment.decided_at).count()
        comment_was_reported.send(sender=Comment, comment_id=comment.pk, reports=reports)
    comment.refresh_from_db()
    return comment


class AuthorActionRefused(Exception):
    """An author's edit or deletion that the token or the site's window does not allow (a 403)."""


class AuthorActionConflict(Exception):
    """An edit the comment's state does not allow now (a 409): still being checked, or awaiting moderation."""


def _author_comment(*, comment_id: int, commenter_token: str) -> Comment:
    """The comment, row locked, if the token is its author's and the site's edit window is open; raise
    Comment.DoesNotExist (no such comment, or deleted), AuthorActionRefused. Call inside a transaction."""
    comment = (
        Comment.objects.select_for_update(of=("self",))
        .select_related("thread__site")
        .filter(pk=comment_id, deleted_at__isnull=True)
        .exclude(status=Comment.Status.DELETED)
        .first()
    )
    if comment is None:
        raise Comment.DoesNotExist
    site = comment.thread.site
    commenter = tokens.commenter_token_read(token=commenter_token, site_id=site.pk)
    if not commenter or not comment.commenter or not secrets.compare_digest(commenter, comment.commenter):
        raise AuthorActionRefused("Only the author can change this comment: the commenter token is not theirs.")
    if not site.edit_minutes:
        raise AuthorActionRefused("This site does not let authors edit or delete their comments.")
    if timezone.now() > comment.created_at + timedelta(minutes=site.edit_minutes):
        raise AuthorActionRefused(
            f"A comment can be edited or deleted for {site.edit_minutes} minutes after it was posted; "
            "that time is over."
        )
    return comment


def comment_author_edit(*, comment_id: int, commenter_token: str, body: str) -> CommentEdit:
    """Store its author's new text for a published comment as a pending edit and announce it
    (``comment_was_edited``: the moderation app scores it after the commit). The published text stays
    until the edit is decided."""
    with transaction.atomic():
        comment = _author_comment(comment_id=comment_id, commenter_token=commenter_token)
        if comment.status == Comment.Status.PENDING:
            raise AuthorActionConflict("This comment is still being checked; try again in a moment.")
        if comment.status != Comment.Status.PUBLISHED:  # held or rejected: the author reads both as held
            raise AuthorActionConflict("This comment is awaiting moderation and cannot be edited.")
        latest = comment.edits.order_by("-pk").values_list("body", "state").first()
        current = latest[0] if latest and latest[1] in {CommentEdit.State.PENDING, CommentEdit.State.HELD} else None
        if body == (current if current is not None else comment.body):
            raise ValidationError({"comment": ["This is the comment's text already."]})
        edit = CommentEdit.objects.create(comment=comment, body=body)
        comment_was_edited.send(sender=Comment, comment_id=comment.pk, edit_id=edit.pk)
    return edit


def comment_author_delete(*, comment_id: int, commenter_token: str) -> None:
    """Its author takes the comment down (``comment_was_deleted``: the moderation app does it): "[deleted]"
    in its place when it has replies, else gone from the page."""
    with transaction.atomic():
        comment = _author_comment(comment_id=comment_id, commenter_token=commenter_token)
        comment_was_deleted.send(sender=Comment, comment_id=comment.pk)
