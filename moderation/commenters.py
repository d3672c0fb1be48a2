"""Who wrote a comment, as the site's rules see them: identities, history, and moderators' flags."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from comments.models import Comment
from moderation.models import CommenterFlag
from moderation.sites import moderator_check


def commenter_identities(*, comment: Comment) -> list[str]:
    """The identities a commenter flag can name for this comment, the commenter's own first."""
    email = comment.author_email.strip().lower()
    identities = [f"email:{email}"] if email else []
    if comment.ip_hash:
        identities += [f"ip:{comment.ip_hash}:{comment.author_name.strip().lower()}", f"ip:{comment.ip_hash}"]
    return identities


def commenter_has_published(*, comment: Comment) -> bool:
    """Whether this commenter (e-mail address, else address hash and name) has a published comment here."""
    published = Comment.objects.filter(thread__site_id=comment.thread.site_id, status=Comment.Status.PUBLISHED)
    if comment.author_email:
        return published.filter(author_email__iexact=comment.author_email.strip()).exists()
    return published.filter(ip_hash=comment.ip_hash, author_name__iexact=comment.author_name.strip()).exists()


def commenter_flag(*, comment_id: int, actor: Any, kind: CommenterFlag.Kind, by: str = "commenter") -> CommenterFlag:
    """Trust or block the author of a comment on its site.

    ``by`` picks the identity: "commenter" (e-mail address, else address hash and name),
    "email" or "ip" (the address hash alone, whatever the name).
    """
    comment = Comment.objects.select_related("thread").get(pk=comment_id)
    moderator_check(actor=actor, site_id=comment.thread.site_id)
    email = comment.author_email.strip().lower()
    if by == "email" and email:
        identity = f"email:{email}"
    elif by == "ip" and comment.ip_hash:
        identity = f"ip:{comment.ip_hash}"
    elif by == "commenter":
        identity = commenter_identities(comment=comment)[0] if (email or comment.ip_hash) else ""
    else:
        identity = ""
    if not identity:
        raise ValidationError(f"Comment #{comment_id} has no {by} to flag.")
    flag, _ = CommenterFlag.objects.update_or_create(
        site_id=comment.thread.site_id, identity=identity, defaults={"kind": kind, "created_by": actor}
    )
    return flag
