"""The moderation API (``/api/v1/moderation/``) for newsroom tools: the queue, a comment's story, decisions.

It is the admin's queue by another door: a moderator's token (``moderation.moderator_tokens``) or their
admin session, the same scoping by sites and languages (``sites.site_scoped``, ``languages.language_scoped``:
another moderator's comment is as absent as a missing one), and decisions through
``services.comment_moderate``, the function the admin's buttons call, with the same compare-and-set guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from comments.models import Comment, thread_key_canonical
from comments.views import Text
from ml.vocabulary import Attribute
from moderation import api_story, languages, services, sites
from moderation.models import UNDETERMINED_LANGUAGE, CommentEvent, ModerationAction, ModerationDecision
from moderation.moderator_tokens import MODERATE_PERMISSION, ModeratorTokenAuthentication

TAG = "moderation"
QUEUE_STATUSES = [Comment.Status.HELD, Comment.Status.PENDING, Comment.Status.PUBLISHED, Comment.Status.REJECTED]


class IsStaffModerator(BasePermission):
    """Active staff with ``comments.can_moderate`` (the moderators group), as the admin's queue asks."""

    message = "Only staff moderators (the moderators group) may use the moderation API."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(MODERATE_PERMISSION))


class ModerationApi(APIView):
    """What every view of the moderation API shares: a token or the admin session (whose unsafe requests
    need the CSRF token, as the admin's own do), staff moderators only, and only their comments."""

    authentication_classes: Sequence[type[BaseAuthentication]] = [ModeratorTokenAuthentication, SessionAuthentication]
    permission_classes: Sequence[type[BasePermission]] = [IsStaffModerator]

    @staticmethod
    def moderated_comments(request: Request) -> QuerySet[Comment]:
        """The comments of the user's sites in their languages, with thread and site."""
        rows = sites.site_scoped(Comment.objects.all(), user=request.user, site_field="thread__site_id")
        return languages.language_scoped(rows, user=request.user).select_related("thread__site")

    def moderated_comment(self, request: Request, pk: int) -> Comment:
        comment = self.moderated_comments(request).filter(pk=pk).first()
        if comment is None:
            raise NotFound("No such comment.")
        return comment


# Output shapes.


class ThreadSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    key = serializers.CharField(help_text="The page path or URL.")
    title = serializers.CharField()


class CommentBriefSerializer(serializers.Serializer[Comment]):
    """A comment next to the one told: the one it answers, or a reply to it."""

    id = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=Comment.Status.choices)
    author_name = serializers.CharField()
    body = serializers.CharField()
    language = serializers.CharField(help_text="ISO 639-1, '' when not detected.")
    created_at = serializers.DateTimeField()


class QueueCommentSerializer(serializers.Serializer[Comment]):
    """A comment as the queue shows it."""

    id = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=Comment.Status.choices)
    site = serializers.CharField(source="thread.site.public_key", help_text="The site's public key.")
    thread = ThreadSerializer()
    parent = serializers.IntegerField(  # type: ignore[assignment]  # a declared field, not Field.parent
        source="parent_id", allow_null=True, help_text="The comment it answers (null: top level)."
    )
    author_name = serializers.CharField()
    body = serializers.CharField()
    language = serializers.CharField(help_text="ISO 639-1 code of the detected language; '' when not detected.")
    script = serializers.CharField(help_text="ISO 15924 code of its script, e.g. Latn; '' when not detected.")
    scores = serializers.DictField(
        child=serializers.FloatField(), help_text='Attribute to probability, e.g. {"TOXICITY": 0.91}.'
    )
    model_versions = serializers.DictField(child=serializers.CharField(), help_text="Attribute to model version.")
    reasons = serializers.ListField(
        child=serializers.DictField(),
        help_text="Why it has its status, as stored: each with a code (hold_threshold, blocked_words, "
        "first_comment, reader_reports, ...), a detail, and for a threshold the attribute, score, threshold "
        "and the words that weighed (spans).",
    )
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.SerializerMethodField(help_text="Seconds since it was posted.")
    admin_url = serializers.SerializerMethodField(help_text="Its page in the admin.")

    @extend_schema_field(OpenApiTypes.INT)
    def get_age_seconds(self, comment: Comment) -> int:
        return int((self.context["now"] - comment.created_at).total_seconds())

    @extend_schema_field(OpenApiTypes.URI)
    def get_admin_url(self, comment: Comment) -> str:
        request = self.context["request"]
        return str(request.build_absolute_uri(reverse("admin:comments_comment_change", args=[comment.pk])))


class FlagSerializer(serializers.Serializer[Any]):
    basis = serializers.ChoiceField(
        choices=["commenter", "ip", "email"], help_text="What the flag names: signed token, address hash, e-mail."
    )
    kind = serializers.ChoiceField(choices=["trusted", "blocked"])


class CommenterSerializer(serializers.Serializer[Any]):
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Status to their comments on the site, this one included."
    )
    first_seen = serializers.DateTimeField(allow_null=True)
    flags = FlagSerializer(many=True, help_text="Moderators' trust or block of this commenter on the site.")


class EventSerializer(serializers.Serializer[Any]):
    """One line of the comment's story (``moderation.story.StoryEvent``), as the admin's comment page shows it."""

    at = serializers.DateTimeField()
    actor = serializers.ChoiceField(choices=CommentEvent.Actor.choices, help_text="Who acted.")
    kind = serializers.CharField(
        help_text="What happened: submitted, imported, reported, edit_sent, or one of "
        + ", ".join(CommentEvent.Kind.values)
        + "."
    )
    # A field named like Field.label: DRF's metaclass takes it off the class, mypy does not know that.
    label = serializers.CharField(help_text="The kind in the moderators' words.")  # type: ignore[assignment]
    user = serializers.CharField(
        allow_null=True, help_text="The moderator's username, when a moderator acted or asked."
    )
    from_status = serializers.CharField(help_text="The status before, when it changed ('' otherwise).")
    to_status = serializers.CharField(help_text="The status after, when it changed ('' otherwise).")
    action = serializers.CharField(help_text="A moderator's action (approve, spam ...), '' for other lines.")
    labels = serializers.DictField(
        child=serializers.IntegerField(), help_text='The training label a decision gave, e.g. {"SPAM": 1}; {} for none.'
    )
    note = serializers.CharField(help_text="A moderator's note.")
    details = serializers.DictField(help_text="Scores and model versions, reasons, a report's reason ...")


class StorySerializer(serializers.Serializer[Any]):
    comment = QueueCommentSerializer()
    parent = CommentBriefSerializer(allow_null=True, help_text="The comment it answers.")
    replies = CommentBriefSerializer(
        many=True, help_text=f"Its direct replies, oldest first (the first {api_story.STORY_REPLIES})."
    )
    more_replies = serializers.BooleanField(help_text="Whether it has more direct replies than those.")
    commenter = CommenterSerializer(
        help_text="Its commenter's history on the site (the same signed commenter token, or the same address hash "
        "with the same name or e-mail)."
    )
    history = EventSerializer(many=True, help_text="What happened to it, oldest first: its story.")


class DecisionSerializer(serializers.Serializer[ModerationDecision]):
    id = serializers.IntegerField(source="pk")
    actor = serializers.CharField(source="actor.get_username", allow_null=True)
    action = serializers.ChoiceField(choices=ModerationAction.choices)
    from_status = serializers.ChoiceField(choices=Comment.Status.choices)
    to_status = serializers.ChoiceField(choices=Comment.Status.choices)
    labels = serializers.DictField(child=serializers.IntegerField(), help_text="The training label it gave.")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class DecidedSerializer(serializers.Serializer[Any]):
    comment = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Comment.Status.choices, help_text="Its status now.")
    decision = DecisionSerializer()


class ConflictSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    status = serializers.ChoiceField(choices=Comment.Status.choices, help_text="Its status now.")
    last_decision = DecisionSerializer(allow_null=True, help_text="The latest moderator decision on it, if any.")


# The queue.


class QueueQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=QUEUE_STATUSES, default=Comment.Status.HELD, help_text="held (the queue) unless given."
    )
    site = serializers.SlugField(max_length=64, required=False, help_text="A site's public key.")
    thread = serializers.CharField(max_length=500, required=False, help_text="A thread key, e.g. /news/bridge.")
    language = serializers.RegexField(
        r"^(?:und|[a-z]{2,3})$",
        required=False,
        error_messages={"invalid": "An ISO 639-1 code such as 'bg', or 'und' (not detected)."},
        help_text="The detected language (ISO 639-1), 'und' for comments whose language was not detected.",
    )
    script = serializers.RegexField(
        r"^[A-Z][a-z]{3}$",
        required=False,
        error_messages={"invalid": "An ISO 15924 code such as 'Latn' or 'Cyrl'."},
        help_text="The script (ISO 15924), e.g. Cyrl.",
    )
    attribute = serializers.ChoiceField(
        choices=[attribute.value for attribute in Attribute],
        required=False,
        help_text="Comments with a reason about this attribute (held or rejected at its threshold).",
    )
    page_size = serializers.IntegerField(min_value=1, max_value=100, default=50, help_text="Comments per page.")


class QueuePagination(CursorPagination):
    """Oldest first, by cursor: a page stays right while comments are decided and posted meanwhile."""

    ordering = ("created_at", "pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    cursor_query_description = "Where a page starts: the cursor of the previous answer's next (or previous) link."

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Not a cursor this list gave: start again without it."]}) from None


class ModerationQueue(ModerationApi, ListAPIView[Comment]):
    serializer_class = QueueCommentSerializer
    pagination_class = QueuePagination

    def get_queryset(self) -> QuerySet[Comment]:
        query = QueueQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        rows = self.moderated_comments(self.request).filter(status=wanted["status"])
        if "site" in wanted:
            rows = rows.filter(thread__site__public_key=wanted["site"])
        if "thread" in wanted:
            rows = rows.filter(thread__key=thread_key_canonical(wanted["thread"]))
        if "language" in wanted:
            rows = rows.filter(language="" if wanted["language"] == UNDETERMINED_LANGUAGE else wanted["language"])
        if "script" in wanted:
            rows = rows.filter(script=wanted["script"])
        if "attribute" in wanted:
            # Both SQLite and PostgreSQL render the stored JSON as '"attribute": "<name>"' in text (the admin's
            # reason filter reads codes the same way).
            rows = rows.filter(reasons__icontains=f'"attribute": "{wanted["attribute"]}"')
        return rows

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        operation_id="moderation_queue",
        tags=[TAG],
        parameters=[QueueQuerySerializer],
        responses={
            200: QueueCommentSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A filter that is not valid, by field."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="No token or session, or a token not valid."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="Not a staff moderator."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The queue: held comments (or pending, published, rejected) of the sites and languages this
        moderator moderates, oldest first, with scores, reasons, language, thread, author and age.

        Pages by cursor: follow ``next``. One query per page, whatever its size.
        """
        return super().get(request, *args, **kwargs)


# A comment's story, and deciding it.

NOT_FOUND = OpenApiResponse(OpenApiTypes.OBJECT, description="No such comment, or not one this moderator moderates.")
UNAUTHENTICATED = OpenApiResponse(OpenApiTypes.OBJECT, description="No token or session, or a token not valid.")
FORBIDDEN = OpenApiResponse(
    OpenApiTypes.OBJECT, description="Not a staff moderator (or, with a session, no CSRF token)."
)


class ModerationStory(ModerationApi):
    @extend_schema(
        operation_id="moderation_comment_story",
        tags=[TAG],
        responses={200: StorySerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        """What a moderator reads before deciding: the comment, the comment it answers and its direct replies,
        the commenter's history on the site, and its story so far."""
        story = api_story.comment_story_assemble(comment=self.moderated_comment(request, pk))
        flags = [
            {"basis": identity.partition(":")[0], "kind": kind}
            for identity, kind in sorted(story.commenter.flags.items())
        ]
        body = {
            "comment": story.comment,
            "parent": story.parent,
            "replies": story.replies,
            "more_replies": story.more_replies,
            "commenter": {"counts": story.commenter.counts, "first_seen": story.commenter.first_seen, "flags": flags},
            "history": story.events,
        }
        context = {"request": request, "now": timezone.now()}
        return Response(StorySerializer(body, context=context).data)


class DecideInputSerializer(serializers.Serializer[Any]):
    action = serializers.ChoiceField(
        choices=ModerationAction.choices,
        help_text="approve (publish), reject (no label), spam / toxic (reject and label 1), not_spam / not_toxic "
        "(publish and label 0).",
    )
    expected_status = serializers.ChoiceField(
        choices=Comment.Status.choices,
        help_text="The status the moderator saw (the queue's held): if the comment is no longer in it, someone "
        "decided it meanwhile and nothing changes (409).",
    )
    note = Text(max_length=500, required=False, allow_blank=True, default="", help_text="Kept with the decision.")


class ModerationDecide(ModerationApi):
    @extend_schema(
        operation_id="moderation_comment_decide",
        tags=[TAG],
        request=DecideInputSerializer,
        responses={
            200: DecidedSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A field that is not valid, by field."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(ConflictSerializer, description="No longer in expected_status: nothing changed."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        """Decide a comment as the admin's buttons do (the same service: an audit row, the training label,
        the webhook and e-mails), if it is still in ``expected_status``."""
        given = DecideInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        comment = self.moderated_comment(request, pk)
        try:
            decision = services.comment_moderate(
                comment_id=comment.pk,
                actor=request.user,
                action=ModerationAction(given.validated_data["action"]),
                note=given.validated_data["note"].strip(),
                expected_status=given.validated_data["expected_status"],
            )
        except Comment.DoesNotExist:  # erased since it was read
            raise NotFound("No such comment.") from None
        except DjangoValidationError as exc:
            return Response(conflict(comment_id=comment.pk, message=" ".join(exc.messages)), status.HTTP_409_CONFLICT)
        body = {"comment": comment.pk, "status": decision.to_status, "decision": DecisionSerializer(decision).data}
        return Response(body)


def conflict(*, comment_id: int, message: str) -> dict[str, Any]:
    """Why a decision was refused: the comment's status now and the latest moderator decision on it."""
    current = Comment.objects.values_list("status", flat=True).get(pk=comment_id)
    last = ModerationDecision.objects.filter(comment_id=comment_id).select_related("actor").first()  # newest first
    if last is not None:
        who = last.actor.get_username() if last.actor is not None else "a deleted account"
        message += f" Latest decision: {last.get_action_display()} by {who} at {last.created_at:%Y-%m-%d %H:%M:%S} UTC."
    return {
        "detail": message,
        "status": current,
        "last_decision": DecisionSerializer(last).data if last is not None else None,
    }
