"""Admin of the compatibility APIs (imported by moderation.admin): API keys and clients' labels.

A new key is shown once, in the message after saving; only its hash and prefix are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse

from moderation import learning, sites
from moderation.compat import services
from moderation.compat.models import ApiKey, TrainingLabel
from moderation.models import ModerationDecision

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups  # django-stubs' type of ModelAdmin.fields


_Row = TypeVar("_Row", bound=Model)


class SiteScoped(admin.ModelAdmin[_Row]):
    """Rows of the sites the user moderates only (``moderation.sites.site_scoped``), like the queue."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[_Row]:
        return sites.site_scoped(super().get_queryset(request), user=request.user, site_field="site_id")


@admin.register(ApiKey)
class ApiKeyAdmin(SiteScoped[ApiKey]):
    list_display = [
        "prefix", "name", "site", "requests_per_minute", "request_count", "month_request_count", "last_used_at",
        "created_at", "revoked_at",
    ]  # fmt: skip
    list_filter = ["site", "revoked_at"]
    search_fields = ["name", "prefix", "site__public_key"]
    readonly_fields = [
        "prefix", "request_count", "month", "month_request_count", "last_used_at", "created_at", "revoked_at",
    ]  # fmt: skip
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return [*self.readonly_fields, "site"] if obj is not None else ["prefix"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> _FieldGroups:
        if obj is None:
            return ["site", "name", "requests_per_minute"]
        return ["site", "name", "prefix", "requests_per_minute", *self.readonly_fields[1:]]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm[ApiKey], change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key = services.api_key_issue(api_key=obj)
        self.message_user(
            request,
            f"The new API key for {obj.site.public_key}: {key}. Copy it now: it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(services.api_key_revoke(api_key_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


@admin.register(TrainingLabel)
class TrainingLabelAdmin(SiteScoped[TrainingLabel]):
    """Labels sent by clients: readable and deletable, never edited. Above them, the moderators' labels
    (kept on their decisions, ``ModerationDecision.labels``), counted the moment they are made."""

    change_list_template = "moderation/admin/traininglabel_change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        decisions = sites.site_scoped(
            ModerationDecision.objects.all(), user=request.user, site_field="comment__thread__site_id"
        )
        counts = learning.moderator_label_counts(decisions=decisions)
        moderators = [(attribute, c[1], c[0], c[1] + c[0]) for attribute, c in counts.items()]
        return super().changelist_view(request, {**(extra_context or {}), "moderator_labels": moderators})

    list_display = ["created_at", "site", "source", "labels", "short_text", "community_id", "client_token"]
    list_filter = ["source", "site", "created_at"]
    search_fields = ["text", "community_id", "client_token"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="text")
    def short_text(self, label: TrainingLabel) -> str:
        return label.text if len(label.text) <= 80 else label.text[:79] + "…"
