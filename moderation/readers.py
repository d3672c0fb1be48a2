"""A commenter's rights over their comments: a copy of them (export), and their erasure.

A commenter is named by one of three things: an e-mail address they proved they read (the signed
link mailed to it, ``moderation.emails.reader_link_token``), the signed commenter token the widget
keeps (``comments.tokens``), or a moderator's choice (the admin, ``manage.py erase_commenter``).

Erasure follows the site's ``SitePolicy.erasure``: *delete* removes each comment, except one that
others replied to, which stays as a "[deleted]" placeholder so the thread keeps its shape;
*anonymise* keeps the text and removes the author. Either way every other row that holds the
commenter's text or identity is covered, in the same transaction:

- ``Comment``: name, e-mail, address hash, user agent, commenter id (and, deleted, the text, scores,
  reasons with their highlighted words: the stored explanations);
- ``ModerationDecision``: the moderators' notes and the labels (their words no longer train the
  models); the decision itself stays, or goes with a deleted comment;
- ``Notification``: the webhook payloads (name, text) and the delivery log's last answer; pending
  e-mails of export and erase links to the address;
- ``CommenterFlag``: trust and blocks that name the commenter (token, address hash and name, e-mail);
- ``Report``: of a placeholder, deleted; of an anonymised comment, the reason (it may name the
  author); ``IdempotencyKey``: deleted (a hash of the submitted name, e-mail and text).

An ``Erasure`` row records that it happened (who asked, how, how many comments), nothing of what.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from comments.models import Comment, IdempotencyKey, Report, Site
from comments.status import Status
from moderation.commenters import commenter_identities
from moderation.models import CommenterFlag, Erasure, ModerationDecision, Notification, SitePolicy
from moderation.notifications import READER_EVENTS, reader_link_notify
from moderation.policy import ReasonCode
from moderation.services import listing_changed

DELETED = "[deleted]"
EXPORT_FORMAT = "moderato-commenter-export-1"


@dataclass(frozen=True)
class Commenter:
    """Whose comments: an e-mail address (any case) or a commenter id; on one site, or on every site."""

    email: str = ""
    commenter: str = ""
    site_id: int | None = None
    comment_id: int | None = None  # a comment with neither: only itself

    @property
    def basis(self) -> str:
        """What names the commenter, in the moderators' words."""
        if self.email:
            return f"e-mail {self.email}"
        if self.commenter:
            return "signed commenter token"
        return f"comment #{self.comment_id} alone (no e-mail, no commenter token)"

    def comments(self) -> QuerySet[Comment]:
        if self.comment_id is not None:
            return Comment.objects.filter(pk=self.comment_id)
        if not (self.email or self.commenter):
            return Comment.objects.none()
        mine = Comment.objects.all()
        if self.email:
            mine = mine.filter(author_email__iexact=self.email.strip())
        if self.commenter:
            mine = mine.filter(commenter=self.commenter)
        return mine.filter(thread__site_id=self.site_id) if self.site_id is not None else mine


def commenter_of_comment(comment: Comment) -> Commenter:
    """The author of a comment on its site: by e-mail address when it has one (what a reader proves
    with a mailed link), else by commenter token, else the comment alone."""
    site_id = comment.thread.site_id
    if comment.author_email.strip():
        return Commenter(email=comment.author_email.strip().lower(), site_id=site_id)
    if comment.commenter:
        return Commenter(commenter=comment.commenter, site_id=site_id)
    return Commenter(site_id=site_id, comment_id=comment.pk)


def email_check(email: str) -> str:
    """The address, stripped, or a ValidationError keyed by ``email``."""
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": ["Enter a valid e-mail address."]}) from None
    return email


def public_status(status: str) -> str:
    """As the status API says it: a rejected comment reads held (a spammer learns nothing)."""
    return Status.HELD.value if status == Status.REJECTED.value else status


def commenter_export(*, commenter: Commenter) -> dict[str, Any]:
    """Everything stored about the commenter's comments, as JSON-ready data."""
    rows = commenter.comments().select_related("thread__site").order_by("created_at", "pk")
    comments = [
        {
            "id": comment.pk,
            "site": comment.thread.site.public_key,
            "thread": comment.thread.key,
            "parent": comment.parent_id,
            "status": public_status(comment.status),
            "name": comment.author_name,
            "email": comment.author_email,
            "comment": comment.body,
            "created": comment.created_at.isoformat(),
            "decided": comment.decided_at.isoformat() if comment.decided_at else None,
            "language": comment.language,
            "user_agent": comment.user_agent,
            "address_hash": comment.ip_hash,
        }
        for comment in rows
    ]
    return {
        "format": EXPORT_FORMAT,
        "exported": timezone.now().isoformat(),
        "count": len(comments),
        "comments": comments,
    }


def reader_link_request(*, site: Site, email: str, purpose: str) -> bool:
    """Queue the e-mail with an export or erase link (``purpose``) for a reader; return whether one was
    queued. Nothing is sent to an address with no comment on the site: the form cannot be used to mail
    strangers, and its answer (the same either way) tells nobody whether an address commented."""
    email = email_check(email)
    if purpose not in READER_EVENTS.values():
        raise ValidationError({"request": ['Choose "export" or "erase".']})
    if not Commenter(email=email, site_id=site.pk).comments().exists():
        return False
    with transaction.atomic():
        reader_link_notify(site_id=site.pk, email=email, purpose=purpose)
    return True


@dataclass(frozen=True)
class Erased:
    comments: int = 0
    deleted: int = 0
    placeholders: int = 0
    anonymised: int = 0

    def __add__(self, other: Erased) -> Erased:
        return Erased(
            self.comments + other.comments,
            self.deleted + other.deleted,
            self.placeholders + other.placeholders,
            self.anonymised + other.anonymised,
        )


def commenter_erase(*, commenter: Commenter, via: Erasure.Via, actor: Any = None) -> Erased:
    """Erase the commenter's comments, site by site, as each site's policy says; record each erasure."""
    site_ids = sorted(set(commenter.comments().values_list("thread__site_id", flat=True)))
    total = Erased()
    for site_id in site_ids:
        of_site = Commenter(commenter.email, commenter.commenter, site_id, commenter.comment_id)
        total += _site_erase(commenter=of_site, via=via, actor=actor)
    if commenter.email:  # links not yet sent to the address
        Notification.objects.filter(event__in=list(READER_EVENTS), payload__to=commenter.email.strip().lower()).delete()
    return total


def _site_erase(*, commenter: Commenter, via: Erasure.Via, actor: Any) -> Erased:
    assert commenter.site_id is not None
    with transaction.atomic():
        mode = SitePolicy.objects.filter(site_id=commenter.site_id).values_list("erasure", flat=True).first()
        mode = mode or SitePolicy.ErasureMode.DELETE
        # Locked: a moderator's decision, a report or an explanation waits for the erasure, then finds
        # the comment changed (or gone).
        mine = list(commenter.comments().select_for_update(of=("self",)).select_related("thread").order_by("pk"))
        if not mine:
            return Erased()
        erased_ids = {comment.pk for comment in mine}
        identities = {identity for comment in mine for identity in commenter_identities(comment=comment)}
        if mode == SitePolicy.ErasureMode.ANONYMISE:
            placeholders: set[int] = set()
            anonymised = erased_ids
            deleted: set[int] = set()
        else:
            placeholders = _replied_to_by_others(mine=mine, erased_ids=erased_ids)
            anonymised = set()
            deleted = erased_ids - placeholders
        threads = {comment.thread_id: comment.thread for comment in mine}
        kept = placeholders | anonymised
        IdempotencyKey.objects.filter(comment_id__in=erased_ids).delete()
        ModerationDecision.objects.filter(comment_id__in=kept).update(note="", labels={})
        _payloads_forget(comment_ids=kept, placeholders=placeholders)
        Report.objects.filter(comment_id__in=placeholders).delete()
        # Readers' reports of an anonymised comment still count; their words may name the author.
        Report.objects.filter(comment_id__in=anonymised).update(reason="")
        CommenterFlag.objects.filter(site_id=commenter.site_id, identity__in=identities).delete()
        # A new decided_at also voids the one-click e-mail links of these comments and any late
        # explanation (both check it).
        now = timezone.now()
        anonymous = {"author_name": DELETED, "author_email": "", "ip_hash": "", "user_agent": "", "commenter": ""}
        if placeholders:
            Comment.objects.filter(pk__in=placeholders).update(
                **anonymous,
                body=DELETED,
                scores={},
                model_versions={},
                reasons=[],
                language="",
                script="",
                form_seconds=None,
                decided_at=now,
            )
        for comment in mine:
            if comment.pk in anonymised:
                Comment.objects.filter(pk=comment.pk).update(
                    **anonymous, reasons=_reasons_without_identity(comment.reasons)
                )
        if deleted:
            parents = {comment.parent_id for comment in mine if comment.pk in deleted and comment.parent_id}
            Comment.objects.filter(pk__in=deleted).delete()
            _placeholders_prune(parent_ids=parents - deleted)
        for thread in threads.values():
            listing_changed(thread=thread)
        result = Erased(len(erased_ids), len(deleted), len(placeholders), len(anonymised))
        Erasure.objects.create(
            site_id=commenter.site_id,
            via=via,
            actor=actor if actor is not None and actor.is_authenticated else None,
            mode=mode,
            comments=result.comments,
            deleted=result.deleted,
            placeholders=result.placeholders,
            anonymised=result.anonymised,
        )
    return result


def _replied_to_by_others(*, mine: list[Comment], erased_ids: set[int]) -> set[int]:
    """The commenter's comments under which some reply stays (one not being erased): they become
    placeholders; the rest, whose replies (if any) are all erased too, are deleted."""
    roots = {comment.root_id or comment.pk for comment in mine}
    rows = Comment.objects.filter(Q(pk__in=roots) | Q(root_id__in=roots)).values_list("pk", "parent_id")
    children: dict[int, list[int]] = defaultdict(list)
    for pk, parent_id in rows:
        if parent_id is not None:
            children[parent_id].append(pk)
    keeps: dict[int, bool] = {}

    def keeps_a_reply(pk: int) -> bool:
        # Iterative post-order: chains can be long, and a recursion limit must not decide an erasure.
        stack = [(pk, False)]
        while stack:
            node, expanded = stack.pop()
            if node in keeps:
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend((child, False) for child in children.get(node, []) if child not in keeps)
                continue
            keeps[node] = any(child not in erased_ids or keeps[child] for child in children.get(node, []))
        return keeps[pk]

    return {comment.pk for comment in mine if keeps_a_reply(comment.pk)}


def _placeholders_prune(*, parent_ids: set[int]) -> None:
    """Delete the placeholders (of an earlier erasure) left without any reply, up the chain."""
    while parent_ids:
        bare = Comment.objects.filter(pk__in=parent_ids, author_name=DELETED, body=DELETED, author_email="").exclude(
            replies__isnull=False
        )
        rows = list(bare.values_list("pk", "parent_id"))
        if not rows:
            return
        Comment.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        parent_ids = {parent for _, parent in rows if parent is not None}


def _reasons_without_identity(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An anonymised comment's reasons: a block reason names the identity (an e-mail address, say)."""
    return [
        reason | {"detail": "The commenter was blocked."}
        if reason.get("code") == ReasonCode.BLOCKED_COMMENTER
        else reason
        for reason in reasons
    ]


def _payloads_forget(*, comment_ids: set[int], placeholders: set[int]) -> None:
    """Take the author (and, for placeholders, the text and what was computed from it) out of the
    outbox rows of comments that stay, and the receivers' answers out of the delivery log."""
    for row in Notification.objects.filter(comment_id__in=comment_ids).only("pk", "comment_id", "payload"):
        payload = dict(row.payload)
        comment = dict(payload.get("comment") or {})
        if comment:
            comment["name"] = DELETED
            if row.comment_id in placeholders:
                comment.update(comment=DELETED, scores={}, reasons=[], model_versions={})
            else:
                comment["reasons"] = _reasons_without_identity(list(comment.get("reasons") or []))
            payload["comment"] = comment
        Notification.objects.filter(pk=row.pk).update(payload=payload, last_result="")
