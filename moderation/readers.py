"""A commenter's rights over their comments: a copy of them (export), and their erasure.

A commenter is named by one of three things: an e-mail address they proved they read (the signed
link mailed to it, ``moderation.emails.reader_link_token``), the signed commenter token the widget
keeps (``comments.tokens``), or a moderator's choice (the admin, ``manage.py erase_commenter``).

Erasure follows the site's ``SitePolicy.erasure``: *delete* removes each comment, except one that
others replied to, which stays as the placeholder an author's own deletion leaves (``deleted_at``
set, shown as ``DELETED_TEXT``; published while a reply is on the page, else status ``deleted``), so
the thread keeps its shape; an imported comment's row stays too, emptied, with status ``deleted``
and its ``external_id``, so that importing the same file again does not bring it back. *anonymise*
keeps the text and removes the author. Either way every other row that holds the commenter's text
or identity is covered, in the same transaction:

- ``Comment``: name, e-mail, address hash, user agent, commenter id, the reply-notice subscription
  (and, deleted, the text, scores, reasons with their highlighted words: the stored explanations);
- ``CommentEdit``: the author's edits (their texts, pending ones included, and their reasons) go with
  a deleted comment; an anonymised comment's keep their texts, not the identity in their reasons;
- ``ShadowDecision``: what shadow mode would have done (its reasons quote blocked words and name a
  blocked identity) goes with a deleted comment; an anonymised one's loses the identity;
- ``ModelVersion``: a deleted comment's text quoted in a model version's replay (its examples);
- ``ModerationDecision``: the moderators' notes and the labels (their words no longer train the
  models); the decision itself stays, or goes with a deleted comment;
- ``CommentEvent``: the comment's story keeps its lines (who changed what, when) but, emptied, none
  of their details (scores, reasons with highlighted words, identities); anonymised, no identity in
  their reasons; an ``erased`` line says what happened, and nothing of whose;
- ``Notification``: the webhook payloads (name, text) and the delivery log's last answer; e-mails not
  yet sent to the commenter (export and erase links, reply-notice confirmations, notices of replies);
- ``CommenterFlag``: trust and blocks that name the commenter (token, address hash and name, e-mail);
- ``Report``: of a deleted comment, deleted; of an anonymised comment, the reason (it may name the
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

from comments.models import Comment, CommentEdit, IdempotencyKey, Report, Site
from comments.status import DELETED_TEXT, Status
from moderation.commenters import commenter_identities
from moderation.models import (
    CommenterFlag,
    CommentEvent,
    Erasure,
    ModelVersion,
    ModerationDecision,
    Notification,
    ShadowDecision,
    SitePolicy,
)
from moderation.notifications import READER_EVENTS, REPLY_CONFIRM, REPLY_NOTICE, reader_link_notify
from moderation.policy import ReasonCode
from moderation.services import listings_changed
from moderation.story import event_new, events_record

DELETED = DELETED_TEXT  # an erased comment's placeholder is an author's deletion's: one notion
# Who erased, in the story: the reader themselves, a moderator in the admin, or the command.
ERASED_BY = {
    Erasure.Via.EMAIL_LINK: CommentEvent.Actor.READER,
    Erasure.Via.COMMENTER_TOKEN: CommentEvent.Actor.READER,
    Erasure.Via.ADMIN: CommentEvent.Actor.PERSON,
    Erasure.Via.COMMAND: CommentEvent.Actor.SYSTEM,
}
ON_THE_PAGE = (Status.PUBLISHED, Status.HELD, Status.PENDING)  # a reply that keeps its parent's placeholder shown
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
        everywhere = Comment.objects.all()
        if self.site_id is not None:
            everywhere = everywhere.filter(thread__site_id=self.site_id)
        mine = everywhere
        if self.email:
            by_address = everywhere.filter(author_email__iexact=self.email.strip())
            # An author's deletion took the address off the comment but not the commenter id of the
            # browser that posted it: such a comment, posted from a browser that posted with this
            # address, is theirs too (it keeps no name or text, only that id, an address hash, a user agent).
            browsers = by_address.exclude(commenter="").values("commenter")
            mine = everywhere.filter(
                Q(author_email__iexact=self.email.strip())
                | Q(deleted_at__isnull=False, author_email="", commenter__in=browsers)
            )
        if self.commenter:
            mine = mine.filter(commenter=self.commenter)
        return mine


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
    rows = (
        commenter.comments()
        .select_related("thread__site", "shadow")
        .prefetch_related("edits")
        .order_by("created_at", "pk")
    )
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
            "decided": _iso(comment.decided_at),
            "edited": _iso(comment.edited_at),
            "deleted": _iso(comment.deleted_at),
            "edits": [
                {
                    "comment": edit.body,
                    "status": public_status(edit.state),
                    "created": edit.created_at.isoformat(),
                    "decided": _iso(edit.decided_at),
                }
                for edit in sorted(comment.edits.all(), key=lambda edit: edit.pk)
            ],
            "reply_notice": comment.reply_notice or "none",
            "shadow_mode": _shadow_outcome(comment),
            "imported_as": comment.external_id or None,
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


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _shadow_outcome(comment: Comment) -> str | None:
    """What shadow mode would have done with the comment, as the status API says it; None outside it."""
    try:
        return public_status(comment.shadow.outcome)
    except ShadowDecision.DoesNotExist:
        return None


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
        # Locked: a moderator's decision, a report, an edit or an explanation waits for the erasure,
        # then finds the comment changed (or gone).
        mine = list(commenter.comments().select_for_update(of=("self",)).select_related("thread").order_by("pk"))
        if not mine:
            return Erased()
        erased_ids = {comment.pk for comment in mine}
        identities = {identity for comment in mine for identity in commenter_identities(comment=comment)}
        tree = _Tree.of(mine)
        placeholders: set[int] = set()
        tombstones: set[int] = set()
        anonymised: set[int] = set()
        shown: set[int] = set()
        if mode == SitePolicy.ErasureMode.ANONYMISE:
            anonymised = erased_ids
        else:
            placeholders, shown = tree.placeholders(mine=mine, erased_ids=erased_ids)
            # An imported comment's row stays, emptied, with its external id: a second import of the same
            # file finds it and does not bring the comment back.
            tombstones = {comment.pk for comment in mine if comment.external_id} - placeholders
        emptied = placeholders | tombstones
        removed = erased_ids - emptied - anonymised
        kept = emptied | anonymised
        threads = {comment.thread_id: comment.thread for comment in mine}
        IdempotencyKey.objects.filter(comment_id__in=erased_ids).delete()
        ModerationDecision.objects.filter(comment_id__in=kept).update(note="", labels={})
        _payloads_forget(comment_ids=kept, emptied=emptied)
        _reader_emails_forget(comment_ids=erased_ids)
        _replay_examples_forget(comment_ids=erased_ids - anonymised)
        Report.objects.filter(comment_id__in=emptied).delete()
        # Readers' reports of an anonymised comment still count; their words may name the author.
        Report.objects.filter(comment_id__in=anonymised).update(reason="")
        # The author's edits and what shadow mode would have done: text and what was computed from it.
        CommentEdit.objects.filter(comment_id__in=emptied).delete()
        ShadowDecision.objects.filter(comment_id__in=emptied).delete()
        for model in (CommentEdit, ShadowDecision, Comment):
            _identity_reasons_forget(model, ids=anonymised)
        CommenterFlag.objects.filter(site_id=commenter.site_id, identity__in=identities).delete()
        CommentEvent.objects.filter(comment_id__in=emptied).update(details={})
        _event_reasons_forget(comment_ids=anonymised)
        # A new decided_at also voids the one-click e-mail links of these comments and any late
        # explanation (both check it).
        now = timezone.now()
        anonymous = {
            "author_email": "",
            "ip_hash": "",
            "user_agent": "",
            "commenter": "",
            "reply_notice": Comment.ReplyNotice.NONE,
        }
        if emptied:
            # What an author's deletion leaves (``moderation.services.comment_author_delete``), and no
            # more of the author: on the page while a reply is, else status deleted.
            Comment.objects.filter(pk__in=emptied).update(
                **anonymous,
                author_name="",
                body="",
                scores={},
                model_versions={},
                reasons=[],
                language="",
                script="",
                form_seconds=None,
                decided_at=now,
            )
            Comment.objects.filter(pk__in=emptied, deleted_at__isnull=True).update(deleted_at=now)
            Comment.objects.filter(pk__in=emptied - shown).update(status=Status.DELETED)
        if anonymised:
            Comment.objects.filter(pk__in=anonymised).update(**anonymous, author_name=DELETED)
        Comment.objects.filter(pk__in=removed).delete()
        events_record(
            [
                event_new(
                    comment_id=comment.pk,
                    kind=CommentEvent.Kind.ERASED,
                    actor=ERASED_BY[Erasure.Via(via)],
                    user=actor,
                    from_status=comment.status,
                    to_status=Status.DELETED if comment.pk in emptied - shown else comment.status,
                    details={"mode": mode, "placeholder": comment.pk in placeholders},
                    at=now,
                )
                for comment in mine
                if comment.pk in kept
            ]
        )
        gone = removed | (emptied - shown)
        _placeholders_prune(parent_ids={c.parent_id for c in mine if c.pk in gone and c.parent_id} - erased_ids)
        listings_changed(threads=list(threads.values()))
        result = Erased(len(erased_ids), len(removed) + len(tombstones), len(placeholders), len(anonymised))
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


@dataclass(frozen=True)
class _Tree:
    """The reply chains of some comments: each comment's replies and status."""

    children: dict[int, list[int]]
    status: dict[int, str]

    @classmethod
    def of(cls, comments: list[Comment]) -> _Tree:
        roots = {comment.root_id or comment.pk for comment in comments}
        rows = Comment.objects.filter(Q(pk__in=roots) | Q(root_id__in=roots)).values_list("pk", "parent_id", "status")
        children: dict[int, list[int]] = defaultdict(list)
        status = {}
        for pk, parent_id, state in rows:
            status[pk] = state
            if parent_id is not None:
                children[parent_id].append(pk)
        return cls(children, status)

    def bottom_up(self, start: set[int]) -> list[int]:
        """The comments under ``start`` (and those), each after its replies. Iterative: chains can be
        long, and a recursion limit must not decide an erasure."""
        order: list[int] = []
        seen: set[int] = set()
        stack = [(pk, False) for pk in sorted(start)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in self.children.get(node, []))
        return order

    def placeholders(self, *, mine: list[Comment], erased_ids: set[int]) -> tuple[set[int], set[int]]:
        """The erased comments whose row must stay because a reply under them does (someone else's, or an
        imported comment's emptied row), and of those the ones still on the page: published, with a
        reply on the page (as an author's deletion decides)."""
        imported = {comment.pk for comment in mine if comment.external_id}
        stays: dict[int, bool] = {}  # the row stays
        needed: dict[int, bool] = {}  # the row stays for a reply's sake
        visible: dict[int, bool] = {}  # on the page
        for node in self.bottom_up(erased_ids):
            replies = self.children.get(node, [])
            if node not in erased_ids:
                stays[node] = True
                visible[node] = self.status[node] in ON_THE_PAGE
                continue
            needed[node] = any(stays[child] for child in replies)
            stays[node] = needed[node] or node in imported
            visible[node] = (
                needed[node] and self.status[node] == Status.PUBLISHED and any(visible[child] for child in replies)
            )
        return {pk for pk in erased_ids if needed[pk]}, {pk for pk in erased_ids if visible[pk]}


def _placeholders_prune(*, parent_ids: set[int]) -> None:
    """A placeholder (an author's deletion, an earlier erasure) left without a reply on the page leaves
    it too (status deleted, as an author's deletion without replies does), up the chain."""
    now = timezone.now()
    while parent_ids:
        bare = Comment.objects.filter(pk__in=parent_ids, deleted_at__isnull=False, status=Status.PUBLISHED).exclude(
            replies__status__in=ON_THE_PAGE
        )
        rows = list(bare.values_list("pk", "parent_id"))
        if not rows:
            return
        Comment.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=Status.DELETED, decided_at=now)
        events_record(
            [
                event_new(
                    comment_id=pk,
                    kind=CommentEvent.Kind.PLACEHOLDER_REMOVED,
                    from_status=Status.PUBLISHED,
                    to_status=Status.DELETED,
                    at=now,
                )
                for pk, _ in rows
            ]
        )
        parent_ids = {parent for _, parent in rows if parent is not None}


def _reader_emails_forget(*, comment_ids: set[int]) -> None:
    """E-mails to the commenter not sent yet: confirmations of their reply notices, notices of replies to
    their comments. (Sent ones hold no address: it is read from the comment when sending.)"""
    Notification.objects.exclude(state=Notification.State.DELIVERED).filter(
        Q(event=REPLY_CONFIRM, comment_id__in=comment_ids) | Q(event=REPLY_NOTICE, comment__parent_id__in=comment_ids)
    ).delete()


def _replay_examples_forget(*, comment_ids: set[int]) -> None:
    """A model version's replay quotes up to ten comments it would decide differently: not these."""
    if not comment_ids:
        return
    for row in ModelVersion.objects.select_for_update().exclude(replay={}).only("pk", "replay"):
        examples = list(row.replay.get("examples") or [])
        if not any(example.get("comment") in comment_ids for example in examples):
            continue
        examples = [
            example | {"text": ""} if example.get("comment") in comment_ids else example for example in examples
        ]
        ModelVersion.objects.filter(pk=row.pk).update(replay=row.replay | {"examples": examples})


def _identity_reasons_forget(model: type[Comment] | type[CommentEdit] | type[ShadowDecision], *, ids: set[int]) -> None:
    """Anonymised comments (or their edits, their shadow-mode record): a block reason names the identity."""
    field = "pk" if model is Comment else "comment_id"
    for pk, reasons in list(model.objects.filter(**{f"{field}__in": ids}).values_list("pk", "reasons")):
        if (scrubbed := _reasons_without_identity(reasons)) != reasons:
            model.objects.filter(pk=pk).update(reasons=scrubbed)


def _event_reasons_forget(*, comment_ids: set[int]) -> None:
    """Anonymised comments' stories: the reasons of a scoring (and of what shadow mode would have done)
    may name a blocked identity."""
    for pk, details in list(CommentEvent.objects.filter(comment_id__in=comment_ids).values_list("pk", "details")):
        scrubbed = dict(details)
        if "reasons" in scrubbed:
            scrubbed["reasons"] = _reasons_without_identity(list(scrubbed["reasons"]))
        if "shadow" in scrubbed:
            shadow = dict(scrubbed["shadow"])
            shadow["reasons"] = _reasons_without_identity(list(shadow.get("reasons") or []))
            scrubbed["shadow"] = shadow
        if scrubbed != details:
            CommentEvent.objects.filter(pk=pk).update(details=scrubbed)


def _reasons_without_identity(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An anonymised comment's reasons: a block reason names the identity (an e-mail address, say)."""
    return [
        reason | {"detail": "The commenter was blocked."}
        if reason.get("code") == ReasonCode.BLOCKED_COMMENTER
        else reason
        for reason in reasons
    ]


def _payloads_forget(*, comment_ids: set[int], emptied: set[int]) -> None:
    """Take the author (and, for emptied rows, the text and what was computed from it) out of the
    outbox rows of comments that stay, and the receivers' answers out of the delivery log."""
    for row in Notification.objects.filter(comment_id__in=comment_ids).only("pk", "comment_id", "payload"):
        payload = dict(row.payload)
        comment = dict(payload.get("comment") or {})
        if comment:
            if row.comment_id in emptied:
                comment.update(name="", comment="", scores={}, reasons=[], model_versions={})
            else:
                comment["name"] = DELETED
                comment["reasons"] = _reasons_without_identity(list(comment.get("reasons") or []))
            payload["comment"] = comment
        Notification.objects.filter(pk=row.pk).update(payload=payload, last_result="")
