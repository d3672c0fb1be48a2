"""E-mail with signed links: to moderators about held comments (one-click approve and reject), to
readers about replies to their comments, and to a commenter who asked for their data or its erasure.

A moderator's link carries a signed token (comment, action, moderator) that expires; opening it shows
a confirmation page, and only its POST decides, so a mail scanner that follows links decides nothing.
Readers' reply-notice links work the same way: the double opt-in confirmation and the unsubscribe link
(also in the ``List-Unsubscribe`` header, for the mail client's one-click POST, RFC 8058) are signed and
expire, and only a POST changes anything. A reader's export or erase link carries the site and the
address under a salt of its own per purpose (an export link never erases) and expires after
``MODERATO_READER_LINK_HOURS``; the erase link asks for a confirmation click too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage, send_mail
from django.urls import reverse

from comments.models import Comment, Site
from moderation import languages
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


def site_moderators_with_email(*, comment: Comment | None = None, site_id: int | None = None) -> list[Any]:
    """The site's own moderators, else the moderators given every site; those with an address."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    site = comment.thread.site_id if comment is not None else site_id
    assert site is not None, "a comment or a site"
    own = users.filter(moderated_site_policies__site_id=site)
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
        if not languages.language_allowed(user=user, language=comment.language, script=comment.script):
            continue  # a moderator limited to other languages could not decide it
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


REPLY_SALT = "moderato.reply-notice"
REPLY_CONFIRM, REPLY_STOP = "confirm", "stop"
UNSUBSCRIBE_LINK_DAYS = 365  # a reply may come months after the notice that carried the link
DIGEST_COMMENTS = 50


def _address_tag(address: str) -> str:
    """A short hash of an address: a link stops working once the comment's address is gone or changed."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


def reply_link_token(*, comment_id: int, address: str, purpose: str) -> str:
    return signing.dumps({"c": comment_id, "e": _address_tag(address), "p": purpose}, salt=REPLY_SALT)


def reply_link_read(*, token: str) -> tuple[int, str, str]:
    """Return (comment id, purpose, address tag); raise signing.BadSignature (SignatureExpired is one)
    for a forged or expired link. A confirmation link lasts MODERATO_EMAIL_LINK_DAYS, an unsubscribe
    link UNSUBSCRIBE_LINK_DAYS."""
    data = signing.loads(token, salt=REPLY_SALT, max_age=UNSUBSCRIBE_LINK_DAYS * 86400)
    if not isinstance(data, dict) or data.get("p") not in {REPLY_CONFIRM, REPLY_STOP}:
        raise signing.BadSignature("not a reply-notice link")
    if data["p"] == REPLY_CONFIRM:
        signing.loads(token, salt=REPLY_SALT, max_age=settings.MODERATO_EMAIL_LINK_DAYS * 86400)
    return int(data["c"]), str(data["p"]), str(data.get("e", ""))


def reply_link_matches(*, comment: Comment, tag: str) -> bool:
    return bool(comment.author_email) and tag == _address_tag(comment.author_email)


def reply_link_url(*, comment: Comment, purpose: str) -> str:
    token = reply_link_token(comment_id=comment.pk, address=comment.author_email, purpose=purpose)
    return settings.MODERATO_PUBLIC_URL + reverse("moderation-reply-notice", args=[token])


def _one_line(text: str) -> str:
    return " ".join(text.split())  # names are readers': a line break in a header would raise BadHeaderError


def reply_confirm_email_send(*, comment_id: int) -> int:
    """Ask the author of a published comment to confirm that they want to hear of replies (double opt-in)."""
    comment = Comment.objects.select_related("thread__site").get(pk=comment_id)
    if comment.reply_notice != Comment.ReplyNotice.UNCONFIRMED or not comment.author_email:
        return 0
    site = comment.thread.site
    body = (
        f"You asked to be told by e-mail of replies to your comment on {site.name} ({comment.thread.key}).\n\n"
        f"Confirm here (one click on the page it opens):\n{reply_link_url(comment=comment, purpose=REPLY_CONFIRM)}\n\n"
        f"The link works for {settings.MODERATO_EMAIL_LINK_DAYS} days. If you did not ask for this, ignore this "
        "e-mail: nothing will be sent to you.\n"
    )
    return send_mail(
        subject=_one_line(f"[{site.name}] Confirm reply notifications"),
        message=body,
        from_email=None,
        recipient_list=[comment.author_email],
    )


def reply_notice_email_send(*, reply_id: int) -> int:
    """Tell the author of the comment a published reply answers, if they confirmed and still want it,
    with a one-click unsubscribe link and the List-Unsubscribe headers."""
    reply = Comment.objects.select_related("thread__site", "parent").get(pk=reply_id)
    parent = reply.parent
    if (
        parent is None
        or reply.status != Comment.Status.PUBLISHED
        or parent.reply_notice != Comment.ReplyNotice.CONFIRMED
        or not parent.author_email
        or parent.deleted_at is not None
    ):
        return 0
    site = reply.thread.site
    stop = reply_link_url(comment=parent, purpose=REPLY_STOP)
    body = (
        f"{reply.author_name} replied to your comment on {site.name} ({reply.thread.key}):\n\n{reply.body}\n\n"
        f"Stop these e-mails for this comment: {stop}\n"
    )
    message = EmailMessage(
        subject=_one_line(f"[{site.name}] {reply.author_name} replied to your comment"),
        body=body,
        to=[parent.author_email],
        headers={"List-Unsubscribe": f"<{stop}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    return message.send()


def held_digest_send(*, site_id: int) -> int:
    """One e-mail to each of the site's moderators listing its held comments, oldest first (the first
    DIGEST_COMMENTS of them), with a link to each in the admin; none when nothing is held."""
    site = Site.objects.get(pk=site_id)
    held = Comment.objects.filter(thread__site_id=site_id, status=Comment.Status.HELD).select_related("thread")
    bodies: dict[object, str] = {}  # one text per set of languages (None: every language)
    sent = 0
    for user in site_moderators_with_email(site_id=site_id):
        reads = languages.moderator_languages(user=user)
        key = None if reads is None else tuple(sorted(reads))
        if key not in bodies:
            bodies[key] = _digest_body(site=site, held=languages.language_scoped(held, user=user))
        if not bodies[key]:
            continue
        total = bodies[key].partition(" ")[0]
        sent += send_mail(
            subject=_one_line(f"[{site.name}] {total} held comment(s): daily digest"),
            message=bodies[key],
            from_email=None,
            recipient_list=[user.email],
        )
    return sent


def _digest_body(*, site: Site, held: Any) -> str:
    """The digest's text for these held comments, "" when there are none."""
    total = held.count()
    if not total:
        return ""
    lines = []
    for comment in held.order_by("created_at", "pk")[:DIGEST_COMMENTS]:
        reasons = "; ".join(str(r.get("detail", r.get("code"))) for r in comment.reasons) or "-"
        excerpt = _one_line(comment.body)[:200]
        admin_url = settings.MODERATO_PUBLIC_URL + reverse("admin:comments_comment_change", args=[comment.pk])
        lines.append(
            f"#{comment.pk} by {comment.author_name} on {comment.thread.key} ({comment.created_at:%Y-%m-%d %H:%M} UTC)"
            f"\n  {excerpt}\n  Why: {reasons}\n  {admin_url}"
        )
    more = f"\n...and {total - DIGEST_COMMENTS} more." if total > DIGEST_COMMENTS else ""
    queue = settings.MODERATO_PUBLIC_URL + reverse("admin:comments_comment_changelist") + "?status__exact=held"
    body = (
        f"{total} comment(s) on {site.name} wait for a moderator, oldest first:\n\n"
        + "\n\n".join(lines)
        + f"{more}\n\nThe queue: {queue}\n"
    )
    return body
