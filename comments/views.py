"""The public REST API: post a reply, follow it, read published threads and counts."""

from __future__ import annotations

import contextlib
import copy
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView, exception_handler

from comments import selectors, services, tokens
from comments.models import Comment, CommentEdit
from comments.signals import comment_status_requested
from comments.status import DELETED_TEXT, Status
from comments.throttles import ReportRateThrottle, SubmitRateThrottle, request_client_address

COMMENT_MESSAGE = "Please enter your comment!"
NAME_MESSAGE = "Please enter your name here"
COMMENT_MAX_LENGTH = 5000
MAX_PAGE_SIZE = 100
MAX_COUNT_THREADS = 100


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render Django ValidationErrors raised by services as 400s keyed by field."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    return exception_handler(exc, context)


def no_lone_surrogates(value: str) -> None:
    """Reject text that cannot be encoded as UTF-8 (lone surrogates from JSON escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Contains characters that are not valid Unicode text.") from None


def has_visible_text(value: str) -> bool:
    """Whether a reader would see anything: not only spaces, format characters (zero-width spaces,
    joiners, direction marks), combining marks or control characters."""
    return any(unicodedata.category(character)[0] not in "ZCM" for character in value)


def visible(message: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not has_visible_text(value):
            raise ValidationError(message)

    return check


class Text(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(no_lone_surrogates)


class FlatSerializer(serializers.Serializer[dict[str, Any]]):
    """A serializer of plain fields that copies its declared fields shallowly for each instance.

    DRF deep-copies them, which builds every field and its validators again on every request: a tenth
    of a submission's CPU (bench/submit_profile.py). A plain field keeps no state of its own but what
    binding sets (its name, label, source and parent), and binding sets it on the copy. A field with a
    child or a nested serializer binds that one to itself when built, so it is refused here.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        nested = [
            name
            for name, field in cls._declared_fields.items()
            if isinstance(field, serializers.BaseSerializer | serializers.ListField | serializers.DictField)
        ]
        if nested:
            raise TypeError(f"{cls.__qualname__}: {', '.join(nested)} cannot be copied shallowly")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


def public_status(comment: Comment) -> str:
    """A rejected comment reads as held, so that a spammer learns nothing."""
    return Comment.Status.HELD if comment.status == Comment.Status.REJECTED else comment.status


def status_url(request: Request, comment_id: int) -> str:
    """The comment's address with its status token: its author follows it there before it is published."""
    path = reverse("api-comment-detail", args=[comment_id])
    return request.build_absolute_uri(f"{path}?token={tokens.status_token(comment_id=comment_id)}")


def comment_as_json(comment: Comment) -> dict[str, Any]:
    if comment.deleted_at is not None:  # deleted by its author or erased, kept for its replies
        return {
            "id": comment.pk,
            "parent": comment.parent_id,
            "name": "",
            "comment": DELETED_TEXT,
            "created": comment.created_at.isoformat(),
            "deleted": True,
        }
    rendered = {
        "id": comment.pk,
        "parent": comment.parent_id,
        "name": comment.author_name,
        "comment": comment.body,
        "created": comment.created_at.isoformat(),
    }
    if comment.edited_at is not None:
        rendered["edited"] = comment.edited_at.isoformat()
    if comment.by_staff:
        rendered["staff"] = True
    return rendered


def node_as_json(root: selectors.CommentNode) -> dict[str, Any]:
    """The node and its replies as JSON, built without recursion (the depth is capped, but a stack
    of Python calls should never be what limits it)."""
    top = comment_as_json(root.comment) | {"replies": []}
    stack = [(root, top)]
    while stack:
        node, rendered = stack.pop()
        for reply in node.replies:
            child = comment_as_json(reply.comment) | {"replies": []}
            rendered["replies"].append(child)
            stack.append((reply, child))
    return top


class PublishedCommentSerializer(serializers.Serializer[dict[str, Any]]):
    """Documents the shape of a published comment in a thread listing."""

    id = serializers.IntegerField()
    # A declared field, taken off the class by DRF's metaclass: it does not shadow Field.parent at run time.
    parent = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]
    name = serializers.CharField()
    comment = serializers.CharField()
    created = serializers.DateTimeField()
    edited = serializers.DateTimeField(required=False, help_text="Only when its author's edit was published.")
    deleted = serializers.BooleanField(
        required=False, help_text='Only when its author deleted it: kept as "[deleted]" for its replies.'
    )
    staff = serializers.BooleanField(
        required=False, help_text="Only on a moderator's reply as the site (signed with the site's staff name): true."
    )
    replies = serializers.ListField(child=serializers.DictField(), help_text="Published replies, same shape.")


class ThreadPageSerializer(serializers.Serializer[dict[str, Any]]):
    open = serializers.BooleanField(
        help_text="Whether the thread takes new comments: false once a moderator closed it or the site's "
        "close_after_days did (a POST then answers 400, thread: This thread is closed.)."
    )
    closes_at = serializers.DateTimeField(
        allow_null=True, help_text="When the site's close_after_days closes it (null: never, or closed already)."
    )
    count = serializers.IntegerField(help_text="Published top-level comments.")
    total = serializers.IntegerField(help_text="All published comments, replies included.")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PublishedCommentSerializer(many=True)


class ThreadQuerySerializer(FlatSerializer):
    site = Text(max_length=64)
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=20)


# Thread pages are cached under the thread's listing version (comments.selectors), which is also
# their ETag; browsers and a CDN may keep a page LISTING_MAX_AGE seconds before asking again (a
# removed comment stays visible that long at most), and the answer to asking is usually a 304.
LISTING_PAGE_SECONDS = 300
LISTING_MAX_AGE = 10


def thread_page_response(request: Request, thread_key: str) -> Response:
    query = ThreadQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    site = services.site_get(public_key=query.validated_data["site"])
    page, page_size = query.validated_data["page"], query.validated_data["page_size"]
    thread = with_one_reconnect(lambda: selectors.thread_get(site=site, thread_key=thread_key))
    version = selectors.listing_version(thread=thread) if thread is not None else None
    takes_comments, closes_at = selectors.thread_accepting(site=site, thread=thread)
    headers = {"Cache-Control": f"public, max-age={LISTING_MAX_AGE}"}
    cache_key = ""
    if version is not None:
        listing_tag = f"{version}.{page}.{page_size}.{site.max_reply_depth}"
        # Closing a thread changes no listing version, so its state is in the ETag: a browser's copy that
        # still shows the form is not confirmed with a 304.
        state = "open" if takes_comments else "closed"
        if takes_comments and closes_at:
            state += f"-{int(closes_at.timestamp())}"
        headers["ETag"] = f'W/"{listing_tag}.{state}"'
        if headers["ETag"] in request.headers.get("If-None-Match", ""):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        cache_key = f"thread-page:{thread.pk if thread else 0}:{listing_tag}"
    listing = _cache_get(cache_key)
    if listing is None:
        result = selectors.thread_comments_page(site=site, thread=thread, page=page, page_size=page_size)
        listing = {
            "count": result.count,
            "total": result.total,
            "results": [node_as_json(node) for node in result.nodes],
        }
        _cache_set(cache_key, listing)

    def page_url(number: int) -> str:
        params = request.query_params.copy()
        params["page"] = str(number)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    has_next = page * page_size < listing["count"]
    body = {
        "open": takes_comments,
        "closes_at": closes_at.isoformat() if takes_comments and closes_at else None,
        "count": listing["count"],
        "total": listing["total"],
        "page": page,
        "page_size": page_size,
        "next": page_url(page + 1) if has_next else None,
        "previous": page_url(page - 1) if page > 1 else None,
        "results": listing["results"],
    }
    return Response(body, headers=headers)


def _cache_get(key: str) -> Any:
    if not key:
        return None
    try:
        return cache.get(key)
    except Exception:  # the cache down: build the page from the database
        return None


def _cache_set(key: str, value: Any) -> None:
    if key:
        with contextlib.suppress(Exception):
            cache.set(key, value, timeout=LISTING_PAGE_SECONDS)


T = TypeVar("T")


def with_one_reconnect(call: Callable[[], T]) -> T:
    """Run a request's first query (``call``) on a kept connection without Django's health check of it
    (CONN_HEALTH_CHECKS: a ``SELECT 1`` round trip first): if the connection turns out dead (a restart,
    a killed backend), nothing was committed, so reconnect and run ``call`` once more; a second failure
    is the caller's (503, or 500)."""
    if not connection.in_atomic_block:
        connection.health_check_done = True  # type: ignore[attr-defined]  # (not in django-stubs)
    try:
        return call()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:  # (a test's transaction: no reconnecting inside it)
            raise
        connection.close()
        return call()


def submit_with_one_reconnect(fields: dict[str, Any]) -> services.Submission:
    """Store a submission, on a new connection if the kept one turns out dead (``with_one_reconnect``:
    a third of a submission's statements was the health check)."""
    return with_one_reconnect(lambda: services.comment_submit(**fields))


# Throttled calls: DRF's {"detail": ...} with the seconds to wait in Retry-After.
TOO_MANY_REQUESTS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Too many requests from this address: the Retry-After header says how many seconds to wait.",
)


class CommentCollection(APIView):
    # Anonymous posting: no session authentication, hence no CSRF check for readers.
    authentication_classes: list[type] = []

    def get_throttles(self) -> list[BaseThrottle]:
        return [SubmitRateThrottle()] if self.request.method == "POST" else []

    class SubmitInputSerializer(FlatSerializer):
        site = Text(max_length=64)
        thread = Text(max_length=500)
        name = Text(
            max_length=100,
            error_messages={"required": NAME_MESSAGE, "blank": NAME_MESSAGE, "null": NAME_MESSAGE},
            validators=[visible(NAME_MESSAGE)],
        )
        comment = Text(
            max_length=COMMENT_MAX_LENGTH,
            error_messages={"required": COMMENT_MESSAGE, "blank": COMMENT_MESSAGE, "null": COMMENT_MESSAGE},
            validators=[visible(COMMENT_MESSAGE)],
        )
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True, allow_null=True)
        parent = serializers.IntegerField(  # type: ignore[assignment]  # a declared field, as above
            required=False, allow_null=True, min_value=1, max_value=2**63 - 1
        )
        website = Text(
            max_length=500,
            required=False,
            allow_blank=True,
            default="",
            help_text="The widget's hidden field: leave it out or empty (filled in, the comment is held).",
        )
        commenter_token = Text(
            max_length=400,
            required=False,
            allow_blank=True,
            default="",
            help_text="The commenter_token an earlier submission returned, so that moderators' trust follows the "
            "commenter. Missing or not valid: a new commenter.",
        )
        form_token = Text(
            max_length=400,
            required=False,
            allow_blank=True,
            default="",
            help_text="The widget's form token (GET /api/v1/form-token) from when the reader started writing.",
        )
        notify_replies = serializers.BooleanField(
            required=False,
            default=False,
            help_text="E-mail the author about published replies (needs email; they confirm from an e-mail first).",
        )

    class SubmitOutputSerializer(serializers.Serializer[dict[str, Any]]):
        id = serializers.IntegerField()
        status = serializers.CharField()
        status_url = serializers.URLField(help_text="Carries the status token: keep it to follow the comment.")
        commenter_token = serializers.CharField(
            help_text="Send it with the commenter's next submission, and to edit or delete this comment."
        )
        editable_until = serializers.DateTimeField(
            allow_null=True, help_text="Until when the author may edit or delete it (null: the site allows neither)."
        )

    @extend_schema(
        operation_id="comment_submit",
        request=SubmitInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Repeat a submission safely: the same key and body return the first answer.",
            )
        ],
        responses={
            202: SubmitOutputSerializer,
            400: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request: Request) -> Response:
        """Submit a reply; it is stored, then scored in the background. Follow it at status_url."""
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()
        if len(idempotency_key) > 255:
            raise ValidationError({"Idempotency-Key": ["Ensure this header has no more than 255 characters."]})
        serializer = self.SubmitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        address = request_client_address(request)
        origin = request.headers.get("Origin", "")
        if origin == f"{request.scheme}://{request.get_host()}":
            origin = ""  # same origin: the page is served by this instance
        fields = {
            "site_key": data["site"],
            "thread_key": data["thread"],
            "name": data["name"],
            "body": data["comment"],
            "email": data.get("email") or "",
            "parent_id": data.get("parent"),
            "address": address,
            "user_agent": request.headers.get("User-Agent", ""),
            "origin": origin,
            "idempotency_key": idempotency_key,
            "trap": data["website"],
            "commenter_token": data["commenter_token"],
            "form_token": data["form_token"],
            "notify_replies": data["notify_replies"],
        }
        try:
            submission = submit_with_one_reconnect(fields)
        except services.IdempotencyConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except (OperationalError, InterfaceError):
            return Response(
                {"detail": "The comment could not be stored: the database is unavailable. Try again."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "5"},
            )
        comment = submission.comment
        body = {
            "id": comment.pk,
            "status": Comment.Status.PENDING.value,
            "status_url": status_url(request, comment.pk),
            "commenter_token": submission.commenter_token,
            "editable_until": submission.editable_until,
        }
        headers = {"Idempotent-Replayed": "true"} if submission.replayed else {}
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)

    @extend_schema(
        operation_id="comment_list",
        parameters=[
            OpenApiParameter("site", OpenApiTypes.STR, required=True),
            OpenApiParameter("thread", OpenApiTypes.STR, required=True, description="The thread key."),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: ThreadPageSerializer, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        """List the published comments of a thread (same as /threads/{key}/comments)."""
        thread = Text(max_length=500)
        try:
            thread_key = thread.run_validation(request.query_params.get("thread", serializers.empty))
        except ValidationError as exc:
            raise ValidationError({"thread": exc.detail}) from None
        return thread_page_response(request, thread_key)


COMMENTER_TOKEN_HEADER = "X-Commenter-Token"  # noqa: S105  (a header name)
COMMENTER_TOKEN_PARAMETER = OpenApiParameter(
    COMMENTER_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The commenter_token the comment's submission returned (or commenter_token in the body).",
)


def edit_status(comment: Comment) -> str | None:
    """Its author's latest edit, as the author may see it: pending, published, or held (a rejected edit
    reads as held, as a rejected comment does); None without one."""
    state = comment.edits.order_by("-pk").values_list("state", flat=True).first()
    if state is None:
        return None
    return CommentEdit.State.HELD if state == CommentEdit.State.REJECTED else state


class CommentDetail(APIView):
    class AuthorInputSerializer(FlatSerializer):
        commenter_token = Text(
            max_length=400,
            required=False,
            allow_blank=True,
            default="",
            help_text=f"The comment's commenter_token (or the {COMMENTER_TOKEN_HEADER} header).",
        )

    class EditInputSerializer(AuthorInputSerializer):
        comment = Text(
            max_length=COMMENT_MAX_LENGTH,
            error_messages={"required": COMMENT_MESSAGE, "blank": COMMENT_MESSAGE, "null": COMMENT_MESSAGE},
            validators=[visible(COMMENT_MESSAGE)],
        )

    def get_authenticators(self) -> list[Any]:
        # An author proves who they are with the commenter token: no session, hence no CSRF check.
        if getattr(self, "request", None) is not None and self.request.method in {"PATCH", "DELETE"}:
            return []
        return super().get_authenticators()

    def get_throttles(self) -> list[BaseThrottle]:
        return [SubmitRateThrottle()] if self.request.method == "PATCH" else []

    @staticmethod
    def _author_call(request: Request, token_in_body: str, call: Callable[[str], object]) -> Response | None:
        """Run an author's action with their token (the header's, else the body's); a refusal as its
        answer, None when it went through."""
        token = request.headers.get(COMMENTER_TOKEN_HEADER, "").strip() or token_in_body
        try:
            call(token)
        except Comment.DoesNotExist:
            return Response({"detail": "No such comment."}, status=status.HTTP_404_NOT_FOUND)
        except services.AuthorActionRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except services.AuthorActionConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return None

    @extend_schema(
        operation_id="comment_edit",
        request=EditInputSerializer,
        parameters=[COMMENTER_TOKEN_PARAMETER],
        responses={
            202: inline_serializer(
                "CommentEditAccepted",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "edit_status": serializers.CharField(help_text="pending: the new text is being checked."),
                    "status_url": serializers.URLField(help_text="Follow the edit there (edit_status)."),
                },
            ),
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            429: TOO_MANY_REQUESTS,
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        """Edit one's own published comment within the site's edit window (edit_minutes, 15 by default).

        The new text is checked like a new comment; the published text stays until it is decided.
        403 with a message for a token that is not the author's or once the window is over.
        """
        serializer = self.EditInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data["comment"]
        refused = self._author_call(
            request,
            serializer.validated_data["commenter_token"],
            lambda token: services.comment_author_edit(comment_id=pk, commenter_token=token, body=body),
        )
        if refused is not None:
            return refused
        answer = {
            "id": pk,
            "status": Comment.Status.PUBLISHED.value,
            "edit_status": CommentEdit.State.PENDING.value,
            "status_url": status_url(request, pk),
        }
        return Response(answer, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="comment_delete",
        request=AuthorInputSerializer,
        parameters=[COMMENTER_TOKEN_PARAMETER],
        responses={204: None, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    )
    def delete(self, request: Request, pk: int) -> Response:
        """Delete one's own comment within the site's edit window: "[deleted]" in its place if it has
        replies, else it leaves the page."""
        serializer = self.AuthorInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refused = self._author_call(
            request,
            serializer.validated_data["commenter_token"],
            lambda token: services.comment_author_delete(comment_id=pk, commenter_token=token),
        )
        return refused or Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="comment_status",
        # Public: a moderator's admin session only adds the moderation block.
        auth=[],
        responses={
            200: inline_serializer(
                "CommentStatus",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.ChoiceField(choices=[Status.PENDING, Status.PUBLISHED, Status.HELD]),
                    "status_url": serializers.URLField(),
                    "thread": serializers.CharField(),
                    "comment": PublishedCommentSerializer(required=False, help_text="Only once published."),
                    "edit_status": serializers.CharField(
                        required=False,
                        help_text="With the status token, once its author edited it: their latest edit's status, "
                        "pending, published or held (a rejected edit reads held).",
                    ),
                    "moderation": serializers.DictField(
                        required=False, help_text="Only for moderators: real status, scores, reasons."
                    ),
                },
            ),
            404: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        """Follow a submitted comment: pending, published or held (rejected reads as held).

        A comment the thread listing shows answers anyone; any other only with the ``token`` of the
        status_url its submission returned (or to a moderator of its site), else 404 as if it did
        not exist, so that ids reveal neither held comments nor their threads.
        """
        not_found = Response({"detail": "No such comment."}, status=status.HTTP_404_NOT_FOUND)
        comment = Comment.objects.select_related("thread").filter(pk=pk).first()
        if comment is None:
            return not_found
        # The moderation app adds its block for the site's moderators (comments.signals).
        extras: dict[str, Any] = {}
        for _receiver, extra in comment_status_requested.send(sender=Comment, comment=comment, user=request.user):
            if extra:
                # Receivers return a dict or None (comments.signals); the stubs type a response as str.
                extras.update(cast("dict[str, Any]", extra))
        token = request.query_params.get("token", "")
        author = tokens.status_token_valid(comment_id=comment.pk, token=token)
        if not (extras or ((author or selectors.comment_listed(comment=comment)) and comment.status != Status.DELETED)):
            return not_found
        body: dict[str, Any] = {
            "id": comment.pk,
            "status": public_status(comment),
            "status_url": status_url(request, comment.pk),
            "thread": comment.thread.key,
        }
        if comment.status == Comment.Status.PUBLISHED:
            body["comment"] = comment_as_json(comment)
        if author and comment.deleted_at is None and (edit := edit_status(comment)) is not None:
            body["edit_status"] = edit
        return Response(body | extras)


class FormToken(APIView):
    """The widget fetches one when the reader starts writing and sends it with the comment."""

    authentication_classes: list[type] = []

    class FormTokenQuerySerializer(FlatSerializer):
        site = Text(max_length=64)

    @extend_schema(
        operation_id="form_token",
        parameters=[OpenApiParameter("site", OpenApiTypes.STR, required=True)],
        responses={
            200: inline_serializer("FormToken", {"form_token": serializers.CharField()}),
            400: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request: Request) -> Response:
        """A signed timestamp: a comment sent within seconds of it is held (the site's min_form_seconds)."""
        query = self.FormTokenQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        site = services.site_get(public_key=query.validated_data["site"])
        return Response({"form_token": tokens.form_token_make(site_id=site.pk)}, headers={"Cache-Control": "no-store"})


class CommentReport(APIView):
    authentication_classes: list[type] = []
    throttle_classes = [ReportRateThrottle]

    class ReportInputSerializer(FlatSerializer):
        site = Text(max_length=64)
        reason = Text(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="comment_report",
        request=ReportInputSerializer,
        responses={
            202: inline_serializer("ReportReceived", {"status": serializers.CharField()}),
            400: OpenApiTypes.OBJECT,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        """Report a published comment; enough reports put it back in the moderation queue."""
        serializer = self.ReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.comment_report(
            comment_id=pk,
            site_key=serializer.validated_data["site"],
            reason=serializer.validated_data["reason"],
            address=request_client_address(request),
        )
        return Response({"status": "received"}, status=status.HTTP_202_ACCEPTED)


class ThreadCommentList(APIView):
    @extend_schema(
        operation_id="thread_comment_list",
        auth=[],
        parameters=[
            OpenApiParameter("site", OpenApiTypes.STR, required=True),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: ThreadPageSerializer, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, thread_key: str) -> Response:
        """List a thread's published comments: pages of top-level comments, oldest first, replies nested."""
        try:
            Text(max_length=500).run_validation(thread_key)
        except ValidationError as exc:
            raise ValidationError({"thread": exc.detail}) from None
        return thread_page_response(request, thread_key)


class CommentCounts(APIView):
    class CountsQuerySerializer(serializers.Serializer[dict[str, Any]]):
        site = Text(max_length=64)
        thread = serializers.ListField(child=Text(max_length=500), min_length=1, max_length=MAX_COUNT_THREADS)

    @extend_schema(
        operation_id="comment_counts",
        auth=[],
        parameters=[
            OpenApiParameter("site", OpenApiTypes.STR, required=True),
            OpenApiParameter("thread", OpenApiTypes.STR, required=True, many=True, explode=True),
        ],
        responses={
            200: inline_serializer(
                "CommentCounts", {"counts": serializers.DictField(child=serializers.IntegerField())}
            ),
            400: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request: Request) -> Response:
        """Count the published comments of each thread, e.g. for a list of articles."""
        query = self.CountsQuerySerializer(
            data={"site": request.query_params.get("site"), "thread": request.query_params.getlist("thread")}
        )
        query.is_valid(raise_exception=True)
        site = services.site_get(public_key=query.validated_data["site"])
        return Response({"counts": selectors.thread_counts(site=site, thread_keys=query.validated_data["thread"])})
