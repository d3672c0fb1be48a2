"""A first moderation queue; held comments first, oldest first."""

from django.contrib import admin
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest

from comments.models import Comment


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "author_name", "short_body", "thread", "scores", "created_at"]
    list_filter = ["status", "thread__site"]
    search_fields = ["body", "author_name", "author_email"]
    readonly_fields = [
        "thread",
        "parent",
        "root",
        "author_name",
        "author_email",
        "body",
        "scores",
        "model_versions",
        "reasons",
        "ip_hash",
        "user_agent",
        "created_at",
        "decided_at",
        "scoring_attempts",
        "requeued_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Comment]:
        held_first = Case(
            When(status=Comment.Status.HELD, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return super().get_queryset(request).select_related("thread").order_by(held_first, "created_at")

    @admin.display(description="comment")
    def short_body(self, comment: Comment) -> str:
        return comment.body if len(comment.body) <= 80 else comment.body[:79] + "…"
