"""The moderators' queue: held comments first, oldest first, with scores, reasons and actions.

Admin actions call ``services.comment_moderate``, the same function the API uses, so every
decision is checked the same way and leaves an audit row.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from comments.models import Comment, Report
from moderation import services, tasks
from moderation.models import CommenterFlag, ModerationAction, ModerationDecision


class DecisionInline(admin.TabularInline):
    model = ModerationDecision
    fields = ["created_at", "actor", "action", "from_status", "to_status", "labels", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "History of decisions"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReportInline(admin.TabularInline):
    model = Report
    fields = ["created_at", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Reader reports"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def moderation_action(action: ModerationAction):  # type: ignore[no-untyped-def]
    def run(modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        decided = 0
        for comment_id in queryset.values_list("pk", flat=True):
            decision = services.comment_moderate(comment_id=comment_id, actor=request.user, action=action)
            tasks.decision_notify(comment_id=comment_id, status=decision.to_status)
            decided += 1
        modeladmin.message_user(request, f"{action.label}: {decided} comment(s).", messages.SUCCESS)

    run.__name__ = f"moderate_{action.value}"
    return admin.action(description=f"{action.label}: selected comments", permissions=["moderate"])(run)


def commenter_action(kind: CommenterFlag.Kind, by: str, description: str):  # type: ignore[no-untyped-def]
    def run(modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        flagged = 0
        for comment_id in queryset.values_list("pk", flat=True):
            try:
                services.commenter_flag(comment_id=comment_id, actor=request.user, kind=kind, by=by)
                flagged += 1
            except ValidationError as exc:
                modeladmin.message_user(request, " ".join(exc.messages), messages.WARNING)
        modeladmin.message_user(request, f"{description}: {flagged} commenter(s).", messages.SUCCESS)

    run.__name__ = f"commenter_{kind}_{by}"
    return admin.action(description=description, permissions=["moderate"])(run)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "author_name", "short_body", "thread", "score_bars", "reason_list", "waited"]
    list_display_links = ["id", "short_body"]
    list_filter = ["status", "thread__site", "created_at"]
    search_fields = ["body", "author_name", "author_email", "thread__key"]
    list_per_page = 50
    actions = [
        *(moderation_action(action) for action in ModerationAction),
        commenter_action(CommenterFlag.Kind.TRUSTED, "commenter", "Trust the commenter (skip pre-moderation)"),
        commenter_action(CommenterFlag.Kind.BLOCKED, "email", "Block the commenter by e-mail"),
        commenter_action(CommenterFlag.Kind.BLOCKED, "ip", "Block the commenter by address hash"),
    ]
    inlines = [ReportInline, DecisionInline]
    fields = [
        "status", "thread", "parent", "author_name", "author_email", "body", "score_bars", "reason_list",
        "model_versions", "ip_hash", "user_agent", "created_at", "decided_at", "scoring_attempts",
    ]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Comment]:
        held_first = Case(
            When(status=Comment.Status.HELD, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        queryset = super().get_queryset(request).select_related("thread").order_by(held_first, "created_at")
        site_ids = services.moderator_site_ids(user=request.user)
        return queryset if site_ids is None else queryset.filter(thread__site_id__in=site_ids)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # decisions go through the actions, never through edits

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("comments.can_moderate")

    @admin.display(description="comment")
    def short_body(self, comment: Comment) -> str:
        return comment.body if len(comment.body) <= 80 else comment.body[:79] + "…"

    @admin.display(description="scores")
    def score_bars(self, comment: Comment) -> str:
        if not comment.scores:
            return "-"
        return format_html_join(
            "",
            '<div title="{0} {1} ({2})" style="white-space:nowrap;font-size:11px">'
            '<span style="display:inline-block;width:70px">{0}</span>'
            '<span style="display:inline-block;width:60px;height:8px;background:#eee;vertical-align:middle">'
            '<span style="display:block;height:8px;width:{3}%;background:{4}"></span></span> {1}</div>',
            (
                (name, f"{value:.2f}", comment.model_versions.get(name, "?"), round(value * 100), bar_colour(value))
                for name, value in sorted(comment.scores.items())
            ),
        )

    @admin.display(description="reasons")
    def reason_list(self, comment: Comment) -> str:
        if not comment.reasons:
            return "-"
        return format_html_join(
            "", "<div>{}</div>", ((reason.get("detail", reason.get("code")),) for reason in comment.reasons)
        )

    @admin.display(description="waited")
    def waited(self, comment: Comment) -> str:
        end = comment.decided_at if comment.status != Comment.Status.HELD else timezone.now()
        return format_html("{}", timesince(comment.created_at, end or timezone.now()))


def bar_colour(value: float) -> str:
    return "#c0392b" if value >= 0.8 else "#e67e22" if value >= 0.5 else "#27ae60"


@admin.register(ModerationDecision)
class ModerationDecisionAdmin(admin.ModelAdmin):
    """The audit trail: readable by moderators, editable by nobody."""

    list_display = ["created_at", "actor", "action", "comment", "from_status", "to_status", "labels", "note"]
    list_filter = ["action", "to_status", "created_at"]
    search_fields = ["comment__body", "note", "actor__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CommenterFlag)
class CommenterFlagAdmin(admin.ModelAdmin):
    list_display = ["identity", "kind", "site", "created_by", "created_at"]
    list_filter = ["kind", "site"]
    search_fields = ["identity"]


from moderation.compat import admin as compat_admin  # noqa: E402, F401  (registers its admin classes)
