"""Pages behind signed e-mail links (a moderator's one-click decision; a reader's reply notices,
confirm and unsubscribe; a reader's export and erase links), and the readers' API the widget calls
(their data, its erasure). Each link that changes anything opens a confirmation page; only its POST
changes anything."""

from __future__ import annotations

import json
from typing import Any

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from comments import services as public
from comments import tokens
from comments.models import Comment, Site
from comments.throttles import SubmitRateThrottle
from moderation import emails, readers, services
from moderation.models import Erasure, ModerationDecision


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


# A reader's links (moderation.emails.reader_link_token): the export downloads at once (a GET that
# changes nothing); the erase link shows a confirmation page and only its POST erases.

READER_PAGE = "moderation/reader_link.html"


def _reader_link(request: HttpRequest, token: str, purpose: str) -> tuple[int, str] | HttpResponse:
    try:
        return emails.reader_link_read(token=token, purpose=purpose)
    except signing.SignatureExpired:
        error = "This link has expired. Ask for a new one under the comments, where you asked for this one."
        return render(request, READER_PAGE, {"error": error, "purpose": purpose}, status=403)
    except signing.BadSignature:
        return render(request, READER_PAGE, {"error": "This link is not valid.", "purpose": purpose}, status=400)


def export_response(export: dict[str, Any], *, site_key: str) -> HttpResponse:
    response = HttpResponse(json.dumps(export, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="comments-{site_key}.json"'
    response["Cache-Control"] = "no-store"
    return response


def reader_export(request: HttpRequest, token: str) -> HttpResponse:
    read = _reader_link(request, token, "export")
    if isinstance(read, HttpResponse):
        return read
    site_id, email = read
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return render(request, READER_PAGE, {"error": "This site no longer exists.", "purpose": "export"}, status=404)
    export = readers.commenter_export(commenter=readers.Commenter(email=email, site_id=site_id))
    return export_response(export, site_key=site.public_key)


@csrf_exempt  # the signed token is the credential, as for the moderators' links
def reader_erase(request: HttpRequest, token: str) -> HttpResponse:
    read = _reader_link(request, token, "erase")
    if isinstance(read, HttpResponse):
        return read
    site_id, email = read
    commenter = readers.Commenter(email=email, site_id=site_id)
    context: dict[str, Any] = {"purpose": "erase", "count": commenter.comments().count(), "done": None}
    if request.method == "POST":
        context["done"] = readers.commenter_erase(commenter=commenter, via=Erasure.Via.EMAIL_LINK)
    return render(request, READER_PAGE, context)


class ReaderRateThrottle(SubmitRateThrottle):
    scope = "reader_rights"


class ReaderRequest(APIView):
    """Ask for a link by e-mail: a copy of one's comments, or their erasure."""

    authentication_classes: list[type] = []
    throttle_classes = [ReaderRateThrottle]

    class ReaderRequestSerializer(serializers.Serializer[dict[str, Any]]):
        site = serializers.CharField(max_length=64)
        email = serializers.EmailField(max_length=254)
        request = serializers.ChoiceField(choices=["export", "erase"])

    @extend_schema(
        operation_id="reader_request",
        request=ReaderRequestSerializer,
        responses={202: inline_serializer("ReaderRequestReceived", {"status": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        """Mail the address a signed link (export: a JSON file of its comments; erase: a confirmation
        page) if comments were posted with it on the site. The answer is the same either way."""
        serializer = self.ReaderRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        site = public.site_get(public_key=data["site"])
        public.site_check_origin(site=site, origin=_cross_origin(request))
        readers.reader_link_request(site=site, email=data["email"], purpose=data["request"])
        return Response({"status": "received"}, status=status.HTTP_202_ACCEPTED)


class CommenterTokenSerializer(serializers.Serializer[dict[str, Any]]):
    site = serializers.CharField(max_length=64)
    commenter_token = serializers.CharField(max_length=400)


def _cross_origin(request: Request) -> str:
    origin = request.headers.get("Origin", "")
    return "" if origin == f"{request.scheme}://{request.get_host()}" else origin


def _token_commenter(request: Request) -> readers.Commenter:
    serializer = CommenterTokenSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    site = public.site_get(public_key=serializer.validated_data["site"])
    public.site_check_origin(site=site, origin=_cross_origin(request))
    commenter = tokens.commenter_token_read(token=serializer.validated_data["commenter_token"], site_id=site.pk)
    if commenter is None:
        raise ValidationError(
            {"commenter_token": ["This commenter token is not valid for this site (expired, or not signed here)."]}
        )
    return readers.Commenter(commenter=commenter, site_id=site.pk)


class ReaderExport(APIView):
    """The comments posted with a commenter token, as JSON (the widget's "Your data")."""

    authentication_classes: list[type] = []
    throttle_classes = [ReaderRateThrottle]

    @extend_schema(operation_id="reader_export", request=CommenterTokenSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        export = readers.commenter_export(commenter=_token_commenter(request))
        return Response(export, headers={"Cache-Control": "no-store"})


class ReaderErase(APIView):
    """Erase the comments posted with a commenter token, as the site's erasure setting says."""

    authentication_classes: list[type] = []
    throttle_classes = [ReaderRateThrottle]

    @extend_schema(
        operation_id="reader_erase",
        request=CommenterTokenSerializer,
        responses={
            200: inline_serializer(
                "ReaderErased",
                {
                    "erased": serializers.IntegerField(),
                    "deleted": serializers.IntegerField(),
                    "placeholders": serializers.IntegerField(),
                    "anonymised": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        erased = readers.commenter_erase(commenter=_token_commenter(request), via=Erasure.Via.COMMENTER_TOKEN)
        body = {
            "erased": erased.comments,
            "deleted": erased.deleted,
            "placeholders": erased.placeholders,
            "anonymised": erased.anonymised,
        }
        return Response(body)
