"""E-mail with signed links: to moderators about held comments (one-click approve and reject), and
to a commenter who asked for their data or its erasure.

A moderator's link carries a signed token (comment, action, moderator) that expires; opening it shows
a confirmation page, and only its POST decides, so a mail scanner that follows links decides nothing.
A reader's link carries the site and the address under a salt of its own per purpose (an export
link never erases) and expires after ``MODERATO_READER_LINK_HOURS``; the erase link asks for a
confirmation click too.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.urls import reverse

from comments.models import Comment, Site
from moderation.models import ModerationAction
from moderation.roles import ALL_SITES_PERMISSION, MODERATORS_GROUP

SALT = "moderato.email-action"
READER_SALTS = {"export": "moderato.reader-export", "erase": "moderato.reader-erase"}
READER_PURPOSES = tuple(READER_SALTS)
EMAIL_ACTIONS = (ModerationAction.APPROVE, ModerationAction.REJECT, ModerationAction.SPAM)


def email_action_token(*, comment_id: int, action: ModerationAction, user_id: int, decided: str = "") -> str:
    """A signed link token; ``decided`` is the comment's ``decided_at`` when the e-mail is sent, so the
    link works once: any later decision (this link's, another moderator's, readers' reports) changes it."""
    return signing.dumps({"c": comment_id, "a": action.value, "u": user_id, "d": decided}, salt=SALT, compress=True)


def email_action_read(*, token: str) -> tuple[int, ModerationAction, int, str | None]:
    """Return (comment id, action, user id, decided_at when sent; None for a link of the first release);
    raise signing.BadSignature (or SignatureExpired)."""
    data = signing.loads(token, salt=SALT, max_age=settings.MODERATO_EMAIL_LINK_DAYS * 86400)
    return int(data["c"]), ModerationAction(data["a"]), int(data["u"]), data.get("d")


def decided_stamp(comment: Comment) -> str:
    return comment.decided_at.isoformat() if comment.decided_at else ""


def site_moderators_with_email(*, comment: Comment) -> list[Any]:
    """The site's own moderators, else the moderators given every site; those with an address."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    own = users.filter(moderated_site_policies__site_id=comment.thread.site_id)
    if own.exists():
        return list(own)
    every_site = users.filter(groups__name=MODERATORS_GROUP).distinct()
    return [user for user in every_site if user.has_perm(ALL_SITES_PERMISSION)]


def held_comment_email_send(*, comment_id: int) -> int:
    """E-mail each moderator of the comment's site about it; return how many were sent."""
    comment = Comment.objects.select_related("thread__site__policy").get(pk=comment_id)
    site = comment.thread.site
    if not site.policy.email_moderators or comment.status != Comment.Status.HELD:
        return 0
    reasons = "\n".join(f"- {reason.get('detail', reason.get('code'))}" for reason in comment.reasons) or "-"
    sent = 0
    for user in site_moderators_with_email(comment=comment):
        links = "\n".join(
            f"{action.label}: {settings.MODERATO_PUBLIC_URL}"
            + reverse(
                "moderation-email-action",
                args=[
                    email_action_token(
                        comment_id=comment.pk, action=action, user_id=user.pk, decided=decided_stamp(comment)
                    )
                ],
            )
            for action in EMAIL_ACTIONS
        )
        body = (
            f"A comment on {site.name} ({comment.thread.key}) is held for moderation.\n\n"
            f"{comment.author_name} wrote:\n\n{comment.body}\n\nWhy it is held:\n{reasons}\n\n{links}\n\n"
            f"The links work for {settings.MODERATO_EMAIL_LINK_DAYS} days and ask for one confirmation click.\n"
        )
        sent += send_mail(
            # A line break in a header would make send_mail raise BadHeaderError: names are the commenter's.
            subject=" ".join(f"[{site.name}] Held comment #{comment.pk} by {comment.author_name}".split()),
            message=body,
            from_email=None,
            recipient_list=[user.email],
        )
    return sent


def reader_link_token(*, site_id: int, email: str, purpose: str) -> str:
    """A signed token for a reader's export or erase link (``purpose``), bound to the site and address."""
    return signing.dumps({"s": site_id, "e": email.strip().lower()}, salt=READER_SALTS[purpose], compress=True)


def reader_link_read(*, token: str, purpose: str) -> tuple[int, str]:
    """Return (site id, e-mail address) of a valid link token for this purpose; raise
    signing.SignatureExpired past ``MODERATO_READER_LINK_HOURS``, signing.BadSignature if forged or
    made for another purpose."""
    if len(token) > 1000:
        raise signing.BadSignature("too long")
    data = signing.loads(token, salt=READER_SALTS[purpose], max_age=settings.MODERATO_READER_LINK_HOURS * 3600)
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("e"), str):
        raise signing.BadSignature("unexpected payload")
    return data["s"], data["e"]


def reader_link_email_send(*, site_id: int, email: str, purpose: str) -> int:
    """Mail a reader the signed link they asked for (their data, or erasure); return how many were sent."""
    site = Site.objects.get(pk=site_id)
    token = reader_link_token(site_id=site_id, email=email, purpose=purpose)
    link = settings.MODERATO_PUBLIC_URL + reverse(f"moderation-reader-{purpose}", args=[token])
    hours = settings.MODERATO_READER_LINK_HOURS
    if purpose == "export":
        subject = f"Your comments on {site.name}"
        what = (
            "Someone, hopefully you, asked for the comments posted with this address. The link below "
            "downloads them as a JSON file"
        )
    else:
        subject = f"Erase your comments on {site.name}"
        what = (
            "Someone, hopefully you, asked to erase the comments posted with this address. The link "
            "below asks you to confirm; nothing is erased until you do"
        )
    body = (
        f"{what} ({site.name}).\n\n{link}\n\nThe link works for {hours} hours. If you did not ask for "
        "it, ignore this message: nothing happens.\n"
    )
    return send_mail(subject=" ".join(subject.split()), message=body, from_email=None, recipient_list=[email])
