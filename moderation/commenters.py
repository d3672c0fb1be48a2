"""Who wrote a comment, as the site's rules see them: identities, history, and moderators' flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Q

from comments.models import Comment
from moderation.models import CommenterFlag
from moderation.sites import comment_moderator_check


def commenter_identities(*, comment: Comment) -> list[str]:
    """The identities a commenter flag can name for this comment, the unforgeable ones first."""
    identities = [f"commenter:{comment.commenter}"] if comment.commenter else []
    email = comment.author_email.strip().lower()
    if comment.ip_hash:
        identities += [f"ip:{comment.ip_hash}:{comment.author_name.strip().lower()}", f"ip:{comment.ip_hash}"]
    if email:
        identities.append(f"email:{email}")
    return identities


def same_commenter(*, comment: Comment) -> Q:
    """The comments of the same commenter: the same signed commenter token, or the same address hash
    with the same name or e-mail address. An e-mail address alone is not enough: anyone can type a
    regular's address."""
    same = Q(pk__in=[])
    if comment.commenter:
        same |= Q(commenter=comment.commenter)
    if comment.ip_hash:
        same |= Q(ip_hash=comment.ip_hash, author_name__iexact=comment.author_name.strip())
        if comment.author_email:
            same |= Q(ip_hash=comment.ip_hash, author_email__iexact=comment.author_email.strip())
    return same


def commenter_has_published(*, comment: Comment) -> bool:
    """Whether this commenter has a published comment on the site (``same_commenter``): so a regular's
    typed address cannot skip the first-comment hold."""
    return Comment.objects.filter(
        same_commenter(comment=comment), thread__site_id=comment.thread.site_id, status=Comment.Status.PUBLISHED
    ).exists()


@dataclass(frozen=True)
class CommenterHistory:
    counts: dict[str, int]  # status -> comments on the site, this one included
    first_seen: datetime | None
    flags: dict[str, str]  # identity -> trusted or blocked


def commenter_history(*, comment: Comment) -> CommenterHistory:
    """What the site knows of the comment's author (``same_commenter``), in two queries."""
    site_id = comment.thread.site_id
    mine = Comment.objects.filter(same_commenter(comment=comment) | Q(pk=comment.pk), thread__site_id=site_id)
    statuses = Comment.Status.values
    totals = mine.aggregate(
        first_seen=Min("created_at"), **{status: Count("pk", filter=Q(status=status)) for status in statuses}
    )
    flags = CommenterFlag.objects.filter(site_id=site_id, identity__in=commenter_identities(comment=comment))
    return CommenterHistory(
        counts={status: totals[status] for status in statuses},
        first_seen=totals["first_seen"],
        flags=dict(flags.values_list("identity", "kind")),
    )


def commenter_flag(*, comment_id: int, actor: Any, kind: CommenterFlag.Kind, by: str = "commenter") -> CommenterFlag:
    """Trust or block the author of a comment on its site.

    ``by`` picks the identity: "commenter" (to trust: the signed commenter token, else address hash
    and name; to block: the e-mail address, else the token, else address hash and name), "email"
    (blocks only) or "ip" (the address hash alone, whatever the name).
    """
    comment = Comment.objects.select_related("thread").get(pk=comment_id)
    comment_moderator_check(actor=actor, comment=comment)
    email = comment.author_email.strip().lower()
    name = comment.author_name.strip().lower()
    candidates: list[str]
    if by == "email":
        candidates = [f"email:{email}"] if email and kind == CommenterFlag.Kind.BLOCKED else []
    elif by == "ip":
        candidates = [f"ip:{comment.ip_hash}"] if comment.ip_hash else []
    elif by == "commenter":
        token = [f"commenter:{comment.commenter}"] if comment.commenter else []
        address = [f"ip:{comment.ip_hash}:{name}"] if comment.ip_hash else []
        by_email = [f"email:{email}"] if email else []
        candidates = token + address if kind == CommenterFlag.Kind.TRUSTED else by_email + token + address
    else:
        candidates = []
    if not candidates:
        if kind == CommenterFlag.Kind.TRUSTED:
            raise ValidationError(
                f"Comment #{comment_id} has no signed commenter token or address to trust"
                + (" (an e-mail address can only block)." if by == "email" else ".")
            )
        raise ValidationError(f"Comment #{comment_id} has no {by} to block.")
    flag, _ = CommenterFlag.objects.update_or_create(
        site_id=comment.thread.site_id, identity=candidates[0], defaults={"kind": kind, "created_by": actor}
    )
    return flag
