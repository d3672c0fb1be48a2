"""The pages behind e-mailed links: a moderator's one-click decision, a reader's reply notices
(confirm, unsubscribe). Each opens a confirmation page; only its POST changes anything."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from comments.models import Comment
from moderation import emails, services
from moderation.models import ModerationDecision


@csrf_exempt  # the signed token is the credential; the page is reached from an e-mail, not a session
def email_action(request: HttpRequest, token: str) -> HttpResponse:
    try:
        comment_id, action, user_id, decided = emails.email_action_read(token=token)
    except signing.SignatureExpired:
        return render(request, "moderation/email_action.html", {"error": "This link has expired."}, status=410)
    except (signing.BadSignature, ValueError, KeyError):
        return render(request, "moderation/email_action.html", {"error": "This link is not valid."}, status=400)
    comment = Comment.objects.select_related("thread__site").filter(pk=comment_id).first()
    if comment is None:
        return render(request, "moderation/email_action.html", {"error": "The comment no longer exists."}, status=404)
    context = {"comment": comment, "action": action, "done": None}
    if decided is not None and decided != emails.decided_stamp(comment):
        context["error"] = "This link was used, or the comment was decided since it was sent: it works once."
        return render(request, "moderation/email_action.html", context, status=409)
    if request.method == "POST":
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        try:
            if user is None:
                raise PermissionDenied
            decision: ModerationDecision = services.comment_moderate(
                comment_id=comment_id,
                actor=user,
                action=action,
                note="one-click e-mail link",
                expected_status=Comment.Status.HELD,
            )
        except PermissionDenied:
            context["error"] = "This moderator can no longer decide this comment."
            return render(request, "moderation/email_action.html", context, status=403)
        except ValidationError:
            context["error"] = f"This comment was already decided: it is {comment.get_status_display().lower()}."
            return render(request, "moderation/email_action.html", context, status=409)
        context["done"] = decision
    return render(request, "moderation/email_action.html", context)


@csrf_exempt  # the signed token is the credential; mail clients POST the unsubscribe link (RFC 8058)
def reply_notice(request: HttpRequest, token: str) -> HttpResponse:
    template = "moderation/reply_notice.html"
    try:
        comment_id, purpose, tag = emails.reply_link_read(token=token)
    except signing.SignatureExpired:
        return render(request, template, {"error": "This link has expired."}, status=410)
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        return render(request, template, {"error": "This link is not valid."}, status=400)
    comment = Comment.objects.select_related("thread__site").filter(pk=comment_id).first()
    if comment is None or not emails.reply_link_matches(comment=comment, tag=tag):
        return render(request, template, {"error": "The comment of this link no longer exists."}, status=404)
    context = {"comment": comment, "purpose": purpose, "done": False}
    if request.method == "POST":
        if purpose == emails.REPLY_CONFIRM:
            if comment.reply_notice == Comment.ReplyNotice.UNSUBSCRIBED:
                context["error"] = "You unsubscribed from the replies to this comment."
                return render(request, template, context, status=409)
            services.reply_notice_confirm(comment_id=comment.pk)
        else:
            services.reply_notice_stop(comment_id=comment.pk)
        context["done"] = True
    return render(request, template, context)
