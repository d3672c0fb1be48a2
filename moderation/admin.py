"""The moderators' queue: held comments first, oldest first, with scores, reasons and actions.

Admin actions and the per-comment decide buttons (``CommentAdmin.decide_view``, driven from the
keyboard by ``static/moderation/desk.js``) call ``services.comment_moderate``, the same function
the API uses, so every decision is checked the same way and leaves an audit row.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Case, IntegerField, Model, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from comments.admin import SiteAdmin, ThreadAdmin
from comments.models import Comment, CommentEdit, HeldFirst, Report, Site, Thread
from comments.status import DELETED_TEXT
from ml.language import LANGUAGES as DETECTED_LANGUAGES
from moderation import charts as charts_svg
from moderation import (
    commenters,
    dashboard,
    explaining,
    highlights,
    languages,
    learning,
    moderator_tokens,
    notifications,
    policy,
    readers,
    services,
    shadow,
    sites,
    staff,
    story,
    threads,
)
from moderation.models import (
    UNDETERMINED_LANGUAGE,
    CommenterFlag,
    Erasure,
    ModelVersion,
    ModerationAction,
    ModerationDecision,
    ModeratorLanguages,
    ModeratorToken,
    Notification,
    SitePolicy,
    ThreadPolicy,
)
from moderation.scoring import get_scorer
from moderation.webhooks import signing_secret


class ReadOnlyInline(admin.TabularInline[models.Model, Comment]):
    """Rows shown under a comment that nobody adds, edits or deletes from the admin."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class EditInline(ReadOnlyInline):
    model = CommentEdit
    fields = ("created_at", "state", "body", "reasons", "decided_at")
    readonly_fields = fields
    verbose_name_plural = "Its author's edits (a held one is decided under Comment edits)"


class ReportInline(ReadOnlyInline):
    model = Report
    fields = ("created_at", "reason")
    readonly_fields = fields
    verbose_name_plural = "Reader reports"


_Row = TypeVar("_Row", bound=Model)


class SiteScopedAdmin(admin.ModelAdmin[_Row]):
    """A list a moderator sees only the sites they moderate of (``sites.site_scoped``): every admin of
    rows that belong to a site uses it, with ``site_field`` the path to the site's id."""

    site_field = "site_id"
    # The path from the rows to their comment ("" for comments) when a moderator limited to languages
    # sees only the rows of comments in those (``languages.language_scoped``); None: not about one comment.
    comment_field: str | None = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[_Row]:
        rows = sites.site_scoped(super().get_queryset(request), user=request.user, site_field=self.site_field)
        if self.comment_field is not None:
            rows = languages.language_scoped(rows, user=request.user, comment_field=self.comment_field)
        return rows


class ReadOnlySiteScopedAdmin(SiteScopedAdmin[_Row]):
    """A record nobody adds, edits or deletes from the admin (the audit trail, the delivery log)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TypedListFilter(admin.ListFilter):
    """A filter whose value is typed in, not picked from a list of every value: for what grows with the
    data (threads, sites), whose list made every queue page longer with each new one (a flood of
    comments on 2,000 new pages: 2,000 links on every page). ``templates/moderation/admin/typed_filter.html``
    draws a small GET form that keeps the page's other filters; the admin's autocomplete (``suggest``:
    the field whose ``/admin/autocomplete/`` answers) offers the matching values as one types."""

    parameter_name = ""
    placeholder = ""
    suggest: tuple[str, str, str] | None = None  # (app label, model name, field name) for /admin/autocomplete/
    template = "moderation/admin/typed_filter.html"

    def __init__(
        self, request: HttpRequest, params: dict[str, list[str]], model: type[Model], model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        if self.parameter_name in params:
            self.used_parameters[self.parameter_name] = params.pop(self.parameter_name)[-1].strip()

    def value(self) -> str:
        return str(self.used_parameters.get(self.parameter_name, ""))

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_name]

    def links(self) -> list[tuple[str, str]] | None:
        """The values as links instead of the form, while they are few (None: the form)."""
        return None

    def chosen(self) -> str:
        """What the typed value names, shown above the form ("" for nothing found or nothing typed)."""
        return ""

    def choices(self, changelist: Any) -> Any:
        value = self.value()
        yield {
            "selected": not value,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        links = self.links()
        for key, label in links or []:
            yield {
                "selected": value == key,
                "query_string": changelist.get_query_string({self.parameter_name: key}),
                "display": label,
            }
        if links is None:
            kept = changelist.get_query_string(remove=[self.parameter_name])
            yield {
                "form": True,
                "value": value,
                "chosen": self.chosen() if value else "",
                "hidden": [(name, v) for name, values in QueryDict(kept.lstrip("?")).lists() for v in values],
            }


class ThreadFilter(TypedListFilter):
    """The comments of one thread: its id, or a part of its page path or title."""

    title = "thread"
    parameter_name = "thread"
    placeholder = "page path, title or id"
    suggest = ("comments", "comment", "thread")

    def threads(self) -> QuerySet[Thread]:
        """The threads the value names, on the sites the moderator moderates (another site's stay unnamed)."""
        value = self.value()
        scoped = sites.site_scoped(Thread.objects.all(), user=self.request.user, site_field="site_id")
        if value.isdigit():
            return scoped.filter(pk=int(value))
        return scoped.filter(Q(key__icontains=value) | Q(title__icontains=value))

    def chosen(self) -> str:
        found = list(self.threads()[:2])
        return str(found[0]) if len(found) == 1 else ""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        return queryset.filter(thread__in=self.threads()) if self.value() else queryset


# Up to this many sites a moderator sees are links; past it, the site filter is typed into.
SITE_LINKS_MAX = 10


def site_filter(site_field: str) -> type[TypedListFilter]:
    """A "site" filter over the sites the moderator moderates: their links while they are few, else a
    site's id, or a part of its name or public key, typed in."""

    class ModeratedSiteFilter(TypedListFilter):
        title = "site"
        parameter_name = "site"
        placeholder = "name, key or id"

        def moderated(self) -> QuerySet[Site]:
            return sites.site_scoped(Site.objects.order_by("name"), user=self.request.user, site_field="pk")

        def links(self) -> list[tuple[str, str]] | None:
            first = list(self.moderated()[: SITE_LINKS_MAX + 1])
            return [(str(site.pk), str(site)) for site in first] if len(first) <= SITE_LINKS_MAX else None

        def matching(self) -> QuerySet[Site]:
            value = self.value()
            if value.isdigit():
                return self.moderated().filter(pk=int(value))
            return self.moderated().filter(Q(name__icontains=value) | Q(public_key__icontains=value))

        def chosen(self) -> str:
            found = list(self.matching()[:2])
            return str(found[0]) if len(found) == 1 else ""

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            return queryset.filter(**{f"{site_field}__in": self.matching()}) if self.value() else queryset

    return ModeratedSiteFilter


CommentAction = Callable[["CommentAdmin", HttpRequest, QuerySet[Comment]], None]


def moderation_action(action: ModerationAction) -> CommentAction:
    def run(modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        decided = 0
        for comment_id in queryset.values_list("pk", flat=True):
            services.comment_moderate(comment_id=comment_id, actor=request.user, action=action)
            decided += 1
        modeladmin.message_user(request, f"{action.label}: {decided} comment(s).", messages.SUCCESS)

    run.__name__ = f"moderate_{action.value}"
    return admin.action(description=f"{action.label}: selected comments", permissions=["moderate"])(run)


def commenter_action(kind: CommenterFlag.Kind, by: str, description: str) -> CommentAction:
    def run(modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        bases: Counter[str] = Counter()
        for comment_id in queryset.values_list("pk", flat=True):
            try:
                bases[commenters.commenter_flag(comment_id=comment_id, actor=request.user, kind=kind, by=by).basis] += 1
            except ValidationError as exc:
                modeladmin.message_user(request, " ".join(exc.messages), messages.WARNING)
        by_basis = "; ".join(f"{n} by {basis}" for basis, n in sorted(bases.items()))
        modeladmin.message_user(
            request,
            f"{description}: {sum(bases.values())} commenter(s)" + (f" ({by_basis})." if bases else "."),
            messages.SUCCESS,
        )

    run.__name__ = f"commenter_{kind}_{by}"
    return admin.action(description=description, permissions=["moderate"])(run)


@admin.action(description="Re-score held comments with the active models and thresholds", permissions=["moderate"])
def rescore_held(modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]) -> None:
    held = sites.site_scoped(
        queryset.filter(status=Comment.Status.HELD), user=request.user, site_field="thread__site_id"
    )
    held = languages.language_scoped(held, user=request.user)
    result = services.held_comments_rescore(comment_ids=list(held.values_list("pk", flat=True)), asked_by=request.user)
    changed = Counter(status for status in result.decided.values())
    summary = ", ".join(f"{n} {status}" for status, n in sorted(changed.items())) or "nothing to re-score"
    modeladmin.message_user(request, f"Re-scored: {summary}; {result.kept} kept for a person.", messages.SUCCESS)


def thread_action(control: threads.ThreadControl, *, of_comments: bool) -> Callable[..., None]:
    """An action on the selected threads, or on the threads of the selected comments (the queue)."""

    def run(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]) -> None:
        thread_ids = queryset.values_list("thread_id" if of_comments else "pk", flat=True)
        chosen = sites.site_scoped(
            Thread.objects.filter(pk__in=list(thread_ids)).select_related("site", "policy"),
            user=request.user,
            site_field="site_id",
        )
        verb = threads.CONTROL_VERBS[control]
        changed = 0
        for thread in chosen:
            if threads.thread_control(thread=thread, actor=request.user, control=control):
                modeladmin.log_change(request, thread, f"{verb} thread")
                changed += 1
        modeladmin.message_user(request, f"{verb} thread: {changed} thread(s) changed.", messages.SUCCESS)

    run.__name__ = f"thread_{control.value}" + ("_of_comments" if of_comments else "")
    verb = threads.CONTROL_VERBS[control]
    description = f"{verb} the selected threads"
    if of_comments:
        description = f"Thread: {verb.lower()} the threads of the selected comments"
    return admin.action(description=description, permissions=["moderate"])(run)


def thread_state_html(thread: Thread) -> str:
    """A thread's controls in a few words ("closed", "pre-moderated", its own thresholds), read with the
    thread's site and policy (``select_related``: no query)."""
    state = threads.thread_state(thread=thread, site=thread.site)
    words = state.labels
    if state.takes_comments and state.closes_at is not None:
        words.append(f"closes {state.closes_at:%Y-%m-%d}")
    return format_html_join(" ", '<span class="moderato-thread-state">{}</span>', ((word,) for word in words))


def selected_commenters(request: HttpRequest, queryset: QuerySet[Comment]) -> list[readers.Commenter]:
    """The authors of the selected comments (``readers.commenter_of_comment``), each once, on sites the
    moderator moderates."""
    chosen = sites.site_scoped(queryset, user=request.user, site_field="thread__site_id").select_related("thread")
    found: dict[readers.Commenter, None] = {}
    for comment in chosen:
        sites.moderator_check(actor=request.user, site_id=comment.thread.site_id)
        found[readers.commenter_of_comment(comment)] = None
    return list(found)


@admin.action(
    description="Export the commenters' data (every comment of theirs on the site, JSON)", permissions=["moderate"]
)
def export_commenters(modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]) -> HttpResponse:
    exports = [
        {"commenter": commenter.basis, **readers.commenter_export(commenter=commenter)}
        for commenter in selected_commenters(request, queryset)
    ]
    response = JsonResponse({"commenters": exports}, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = 'attachment; filename="commenters.json"'
    return response


@admin.action(description="Erase the commenters (every comment of theirs on the site)…", permissions=["moderate"])
def erase_commenters(
    modeladmin: "CommentAdmin", request: HttpRequest, queryset: QuerySet[Comment]
) -> HttpResponse | None:
    """Asks first (a page listing each commenter and their comments), then erases as each site says."""
    commenters = selected_commenters(request, queryset)
    if request.POST.get("confirm") != "yes":
        modes: dict[int | None, str] = dict(SitePolicy.objects.values_list("site_id", "erasure"))
        site_names = {site.pk: str(site) for site in Site.objects.filter(pk__in={c.site_id for c in commenters})}
        rows = [
            {
                "basis": commenter.basis,
                "count": commenter.comments().count(),
                "site": site_names.get(commenter.site_id or 0, ""),
                "mode": SitePolicy.ErasureMode(modes.get(commenter.site_id, SitePolicy.ErasureMode.DELETE)).label,
            }
            for commenter in commenters
        ]
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": "Erase the commenters?",
            "rows": rows,
            "ids": queryset.values_list("pk", flat=True),
            "opts": modeladmin.model._meta,
        }
        return TemplateResponse(request, "moderation/admin/erase_commenters.html", context)
    erased = readers.Erased()
    for commenter in commenters:
        erased += readers.commenter_erase(commenter=commenter, via=Erasure.Via.ADMIN, actor=request.user)
    modeladmin.message_user(
        request,
        f"Erased {erased.comments} comment(s) of {len(commenters)} commenter(s): {erased.deleted} deleted, "
        f"{erased.placeholders} kept as {readers.DELETED} (others replied), {erased.anonymised} anonymised.",
        messages.SUCCESS,
    )
    return None


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"
    CODES = [(code.value, label) for code, label in policy.REASON_LABELS.items()]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Comment]) -> list[tuple[str, str]]:
        return self.CODES

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        if self.value() in dict(self.CODES):
            # Both SQLite and PostgreSQL render the JSON as '"code": "<code>"' in text.
            return queryset.filter(reasons__icontains=f'"code": "{self.value()}"')
        return queryset


# The scripts ml.language names (ISO 15924; Zyyy: letters of another script).
DETECTED_SCRIPTS = ["Arab", "Cyrl", "Grek", "Hang", "Hani", "Hebr", "Latn", "Zyyy"]


class LanguageFilter(admin.SimpleListFilter):
    """The comment's detected language: the moderator's own languages when they are limited to some,
    else the languages the models detect (a fixed list: no scan of the comments for their values)."""

    title = "language"
    parameter_name = "language"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Comment]) -> list[tuple[str, str]]:
        entries = languages.moderator_languages(user=request.user)
        codes = sorted({code for code, _ in entries}) if entries is not None else [*DETECTED_LANGUAGES, ""]
        return [(code or UNDETERMINED_LANGUAGE, code or "not detected") for code in codes]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(language="" if value == UNDETERMINED_LANGUAGE else value)


class ScriptFilter(admin.SimpleListFilter):
    """The script the comment is written in (ISO 15924), from the scripts the language detector names."""

    title = "script"
    parameter_name = "script"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Comment]) -> list[tuple[str, str]]:
        return [(script, script) for script in DETECTED_SCRIPTS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        return queryset.filter(script=self.value()) if self.value() else queryset


class ShadowFilter(admin.SimpleListFilter):
    """Shadow mode: the published comments Moderato would have held or rejected, for a moderator to look at."""

    title = "shadow mode: Moderato would have"
    parameter_name = "shadow"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Comment]) -> list[tuple[str, str]]:
        return [("kept_off", "held or rejected"), *((outcome, outcome) for outcome in shadow.OUTCOMES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        if self.value() == "kept_off":
            return queryset.filter(shadow__outcome__in=[policy.Outcome.HELD, policy.Outcome.REJECTED])
        if self.value() in shadow.OUTCOMES:
            return queryset.filter(shadow__outcome=self.value())
        return queryset


class ScoreBandFilter(admin.SimpleListFilter):
    title = "score band"
    parameter_name = "band"
    BANDS = {"low": (0.0, 0.5), "medium": (0.5, 0.8), "high": (0.8, 1.01)}

    @staticmethod
    def attributes() -> list[str]:
        return dashboard.dashboard_attributes()

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Comment]) -> list[tuple[str, str]]:
        return [
            (f"{attribute}:{band}", f"{attribute} {band} ({low:g}-{min(high, 1):g})")
            for attribute in self.attributes()
            for band, (low, high) in self.BANDS.items()
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        attribute, _, band = (self.value() or "").partition(":")
        if attribute in self.attributes() and band in self.BANDS:
            low, high = self.BANDS[band]
            return queryset.filter(**{f"scores__{attribute}__gte": low, f"scores__{attribute}__lt": high})
        return queryset


class ModelVersionFilter(admin.SimpleListFilter):
    title = "model version"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Comment]) -> list[tuple[str, str]]:
        """The versions on the last 200 scored comments (2,000 rows of JSON cost every page 15 to 20 ms), and
        every version the learning loop built."""
        recent = Comment.objects.exclude(model_versions={}).order_by("-pk").values_list("model_versions", flat=True)
        versions = {version for row in recent[:200] for version in row.values()}
        versions |= set(ModelVersion.objects.values_list("version", flat=True))
        return [(version, version) for version in sorted(versions)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Comment]) -> QuerySet[Comment]:
        if self.value():
            return queryset.filter(model_versions__icontains=f'"{self.value()}"')
        return queryset


@admin.register(Comment)
class CommentAdmin(SiteScopedAdmin[Comment]):
    site_field = "thread__site_id"
    comment_field = ""

    list_display = [
        "id", "status_waited", "author", "short_body", "score_bars", "reason_list", "decide",
    ]  # fmt: skip
    list_display_links = ["id", "short_body"]
    list_filter = [
        "status",
        site_filter("thread__site_id"),
        ThreadFilter,
        ReasonFilter,
        ShadowFilter,
        ScoreBandFilter,
        ModelVersionFilter,
        LanguageFilter,
        ScriptFilter,
        "created_at",
    ]
    search_fields = ["body", "author_name", "author_email", "thread__key"]
    list_per_page = 50
    # A big queue: one COUNT per page (the filtered rows), not a second one of every comment, and no
    # "Show counts", which counts every choice of every filter over every comment.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = [
        *(moderation_action(action) for action in ModerationAction),
        commenter_action(
            CommenterFlag.Kind.TRUSTED,
            "commenter",
            "Trust the commenter (skip pre-moderation; by their signed token, else address and name)",
        ),
        commenter_action(CommenterFlag.Kind.BLOCKED, "email", "Block the commenter by e-mail"),
        commenter_action(CommenterFlag.Kind.BLOCKED, "ip", "Block the commenter by address hash"),
        rescore_held,
        export_commenters,
        erase_commenters,
        *(thread_action(control, of_comments=True) for control in threads.ThreadControl),
    ]
    inlines = [EditInline, ReportInline]
    fields = (
        "status", "thread", "thread_context", "author_name", "author_email", "commenter_history", "explanation",
        "score_bars", "reason_list", "model_versions", "language_script", "ip_hash", "user_agent", "created_at",
        "decided_at", "scoring_attempts", "story",
    )  # fmt: skip
    readonly_fields = fields
    change_list_template = "moderation/admin/comment_change_list.html"
    change_form_template = "moderation/admin/comment_change_form.html"

    def get_urls(self) -> list[URLPattern]:
        decide = path(
            "<int:comment_id>/decide/", self.admin_site.admin_view(self.decide_view), name="comments_comment_decide"
        )
        reply = path(
            "<int:comment_id>/reply/",
            self.admin_site.admin_view(self.staff_reply_view),
            name="comments_comment_staff_reply",
        )
        return [decide, reply, *super().get_urls()]

    def decide_view(self, request: HttpRequest, comment_id: int) -> HttpResponse:
        """Decide one comment from its row in the queue or from its page, with an optional note.

        Answers JSON to the queue's script (``Accept: application/json``), which updates the row in
        place; without a script it redirects back to ``next``, the page with its filters and page number.
        """
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        as_json = "application/json" in request.headers.get("Accept", "")
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        if not self.get_queryset(request).filter(pk=comment_id).exists():
            raise Http404  # another site's comment is as absent as a missing one
        answer = DecideAnswer(as_json=as_json, back=self.decide_return_url(request, comment_id), comment_id=comment_id)
        try:
            action = ModerationAction(request.POST.get("action", ""))
        except ValueError:
            return answer.refused(request, self, 400, "Choose an action.")
        expected = request.POST.get("status", "")
        try:
            decision = services.comment_moderate(
                comment_id=comment_id,
                actor=request.user,
                action=action,
                note=request.POST.get("note", "").strip(),
                expected_status=expected if expected in Comment.Status.values else "",
            )
        except ValidationError as exc:
            return answer.refused(request, self, 409, " ".join(exc.messages))
        text = f"{action.label}: comment #{comment_id}" + (f" (note: {decision.note})" if decision.note else "") + "."
        return answer.done(request, self, decision, text)

    def staff_reply_view(self, request: HttpRequest, comment_id: int) -> HttpResponse:
        """Reply to one comment as the site (``staff.staff_reply_post``), from its row in the queue or from
        its page, optionally approving it too; answers as ``decide_view`` does, with the comment's status."""
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        if not self.get_queryset(request).filter(pk=comment_id).exists():
            raise Http404  # another site's comment is as absent as a missing one
        as_json = "application/json" in request.headers.get("Accept", "")
        answer = DecideAnswer(as_json=as_json, back=self.decide_return_url(request, comment_id), comment_id=comment_id)
        expected = request.POST.get("status", "")
        try:
            posted = staff.staff_reply_post(
                comment_id=comment_id,
                actor=request.user,
                body=request.POST.get("body", ""),
                approve=bool(request.POST.get("approve")),
                expected_status=expected if expected in Comment.Status.values else "",
            )
        except ValidationError as exc:  # a bad text is the form's fault (400), a comment's status a conflict
            return answer.refused(request, self, 400 if hasattr(exc, "error_dict") else 409, " ".join(exc.messages))
        reply = posted.reply
        done = f"Approved comment #{comment_id} and replied" if posted.approved else f"Replied to comment #{comment_id}"
        seen = "" if posted.listed else ", and readers see it once the comments above it are published"
        text = f'{done} as "{reply.author_name}": reply #{reply.pk} is published{seen}.'
        return answer.answer(request, self, 200, posted.parent_status, {"action": "reply", "message": text})

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Comment | None:
        """The comment of its page, read with its site and the site's policy in the same query: the reply box
        names the staff name it signs with."""
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        try:
            return self.get_queryset(request).select_related("thread__site__policy").get(pk=int(object_id))
        except (Comment.DoesNotExist, ValueError):
            return None

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "reply_max_length": staff.REPLY_MAX_LENGTH}
        return super().change_view(request, object_id, form_url, context)

    def decide_return_url(self, request: HttpRequest, comment_id: int) -> str:
        """``next`` when it is a page of this site, else the queue; anchored on the comment's row."""
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse("admin:comments_comment_changelist")
        return f"{back.partition('#')[0]}#decide-{comment_id}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Comment]:
        # Held first, oldest first, then by id (so the admin adds no "-pk"): the comment_queue_order index.
        return (
            super()
            .get_queryset(request)
            .select_related("thread__site", "thread__policy", "shadow")
            .order_by(HeldFirst(), "created_at", "id")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # decisions go through the actions, never through edits

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # deleting a comment would delete its audit trail: reject it instead

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("comments.can_moderate")

    @admin.display(description="thread context")
    def thread_context(self, comment: Comment) -> str:
        """The comment it answers and the direct replies to it: what a moderator needs to judge a reply."""
        rows = []
        if comment.parent_id is not None:
            parent = Comment.objects.only("pk", "status", "author_name", "body").get(pk=comment.parent_id)
            rows.append(("replies to", parent.pk, parent.get_status_display(), parent.author_name, parent.body[:300]))
        replies = list(
            Comment.objects.filter(parent_id=comment.pk)
            .order_by("created_at")
            .only("pk", "status", "author_name", "body")[: CONTEXT_REPLIES + 1]
        )
        rows += [
            ("reply", c.pk, c.get_status_display(), c.author_name, c.body[:300]) for c in replies[:CONTEXT_REPLIES]
        ]
        more = format_html("<div>{}</div>", "… and more replies") if len(replies) > CONTEXT_REPLIES else ""
        if not rows:
            return "A top-level comment with no replies."
        return format_html(
            "{}{}",
            format_html_join(
                "",
                '<div class="moderato-context"><b>{}</b> <a href="{}">#{}</a> ({}) {}: {}</div>',
                (
                    (kind, reverse("admin:comments_comment_change", args=[pk]), pk, status, author, body)
                    for kind, pk, status, author, body in rows
                ),
            ),
            more,
        )

    @admin.display(description="commenter on this site")
    def commenter_history(self, comment: Comment) -> str:
        """Published, held and rejected counts of the same commenter on the site, their flags, first seen."""
        history = commenters.commenter_history(comment=comment)
        counts = ", ".join(
            f"{history.counts[status]} {label.lower()}"
            for status, label in Comment.Status.choices
            if history.counts[status] or status not in {Comment.Status.PENDING, Comment.Status.DELETED}
        )
        flags = "; ".join(f"{kind} as {identity.split(':', 1)[0]}" for identity, kind in sorted(history.flags.items()))
        first = history.first_seen.strftime("%Y-%m-%d %H:%M") if history.first_seen else "-"
        same = "signed commenter token" if comment.commenter else "address hash with name or e-mail"
        return format_html(
            "<div>{} (this one included)</div><div>{}</div><div>First seen {}</div>"
            '<div class="moderato-small">The same commenter: the same {}.</div>',
            counts,
            flags or "Neither trusted nor blocked",
            first,
            same if comment.commenter or comment.ip_hash else "- (no token, no address: this comment alone)",
        )

    @admin.display(description="story")
    def story(self, comment: Comment) -> str:
        """Every change of its state, oldest first: when, who, what, and the details (``moderation.story``)."""
        return story_table(story.comment_story(comment))

    @admin.display(description="status", ordering="status")
    def status_waited(self, comment: Comment) -> str:
        """The status with the time waited under it, one column for two on a 1280 px screen."""
        return format_html(
            '<span class="moderato-status">{}</span><span class="moderato-small">{}</span>',
            comment.get_status_display(),
            self.waited(comment),
        )

    @admin.display(description="author", ordering="author_name")
    def author(self, comment: Comment) -> str:
        """The author's name with the thread (a link to its controls, and its state) and the language under it."""
        return format_html(
            '{}<span class="moderato-small moderato-thread"><a href="{}" title="thread controls">{}</a> {}</span>'
            '<span class="moderato-small">{}</span>',
            comment.author_name,
            reverse("admin:comments_thread_change", args=[comment.thread_id]),
            comment.thread,
            thread_state_html(comment.thread),
            self.language_script(comment),
        )

    @admin.display(description="language", ordering="language")
    def language_script(self, comment: Comment) -> str:
        return " ".join(part for part in (comment.language, comment.script) if part) or "-"

    @admin.display(description="comment")
    def short_body(self, comment: Comment) -> str:
        """The start of the text, with the words that pushed a score over a threshold highlighted."""
        return highlighted(comment.body, comment_spans(comment), limit=160)

    @admin.display(description="explanation")
    def explanation(self, comment: Comment) -> str:
        if explaining.reasons_need_spans(comment.reasons) and explaining.comment_explain(comment_id=comment.pk):
            comment.refresh_from_db(fields=["reasons"])  # its task has not run yet: explained for this page
        spans = comment_spans(comment)
        if not spans:
            return "No score reached a threshold."
        weights = format_html_join(
            ", ", "{} ({} {})", ((span["text"], span["attribute"], f"{span['weight']:+.2f}") for span in spans)
        )
        return format_html("<p>{}</p><p>Top words: {}</p>", highlighted(comment.body, spans), weights)

    @admin.display(description="scores")
    def score_bars(self, comment: Comment) -> str:
        if not comment.scores:
            return "-"
        rows = format_html_join(
            "",
            '<span title="{0} {1} ({2})">{0}</span><span class="moderato-bar" title="{0} {1} ({2})">'
            '<span style="width:{3}%;background:{4}"></span></span><span>{1}</span>',
            (
                (name, f"{value:.2f}", comment.model_versions.get(name, "?"), round(value * 100), bar_colour(value))
                for name, value in sorted(comment.scores.items())
            ),
        )
        return format_html('<div class="moderato-scores">{}</div>', rows)

    @admin.display(description="reasons")
    def reason_list(self, comment: Comment) -> str:
        reasons = format_html_join("", "<div>{}</div>", ((reason_text(reason),) for reason in comment.reasons))
        would = getattr(comment, "shadow", None)  # read with the comment (select_related)
        if would is not None and would.outcome != comment.status:
            reasons += format_html(
                '<div class="moderato-shadow">Shadow mode: Moderato would have {} it{}</div>{}',
                would.outcome,
                ":" if would.reasons else ".",
                format_html_join("", "<div>{}</div>", ((reason_text(reason),) for reason in would.reasons)),
            )
        return reasons or "-"

    @admin.display(description="decide")
    def decide(self, comment: Comment) -> str:
        """The decide buttons and a note field; they post with the row's form (``decide-form-<id>``), which the
        template writes after the changelist form, since forms cannot nest."""
        form = f"decide-form-{comment.pk}"
        buttons = format_html_join(
            "",
            '<button type="submit" form="{}" name="action" value="{}" class="moderato-{}" title="{}">{}</button>',
            ((form, action.value, action.value, action.label, label) for action, label in DECIDE_BUTTONS),
        )
        reply_form = f"reply-form-{comment.pk}"
        reply = (
            ""
            if comment.status == Comment.Status.DELETED or comment.deleted_at
            else format_html(
                '<details class="moderato-reply"><summary>Reply as the site (Y)</summary>'
                '<textarea form="{}" name="body" rows="3" maxlength="{}" aria-label="reply as the site"'
                ' class="moderato-reply-body"></textarea>{}'
                '<button type="submit" form="{}" class="moderato-reply-send">Reply</button></details>',
                reply_form,
                staff.REPLY_MAX_LENGTH,
                approve_too(comment, form=reply_form),
                reply_form,
            )
        )
        return format_html(
            '<div class="moderato-decide" id="decide-{0}" data-form="{1}">'
            # Enter in the note must not approve: a disabled first button makes the implicit submission do nothing.
            '<button type="submit" form="{1}" disabled hidden></button>'
            '<input type="text" form="{1}" name="note" maxlength="500" placeholder="note (N)" aria-label="note"'
            ' class="moderato-note">{2}{3}<output class="moderato-result" role="status"></output></div>',
            comment.pk,
            form,
            buttons,
            reply,
        )

    def action_checkbox(self, obj: Comment) -> SafeString:
        """Django's row checkbox, written here: its form widget renders a template for each of the 50 rows."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select"'
            ' aria-label="Select this object for an action - {}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            str(obj),
        )

    @admin.display(description="waited")
    def waited(self, comment: Comment) -> str:
        end = comment.decided_at if comment.status != Comment.Status.HELD else timezone.now()
        return format_html("{}", timesince(comment.created_at, end or timezone.now(), depth=1))


@dataclass(frozen=True)
class DecideAnswer:
    """How ``CommentAdmin.decide_view`` answers: JSON to the queue's script, else a message and a redirect."""

    as_json: bool
    back: str
    comment_id: int

    def done(
        self, request: HttpRequest, modeladmin: "CommentAdmin", decision: ModerationDecision, text: str
    ) -> HttpResponse:
        return self.answer(request, modeladmin, 200, decision.to_status, {"action": decision.action, "message": text})

    def refused(self, request: HttpRequest, modeladmin: "CommentAdmin", code: int, text: str) -> HttpResponse:
        status = Comment.objects.values_list("status", flat=True).get(pk=self.comment_id)
        return self.answer(request, modeladmin, code, status, {"action": "", "error": text})

    def answer(
        self, request: HttpRequest, modeladmin: "CommentAdmin", code: int, status: str, fields: dict[str, str]
    ) -> HttpResponse:
        if not self.as_json:
            text = fields.get("message") or fields["error"]
            modeladmin.message_user(request, text, messages.SUCCESS if code == 200 else messages.ERROR)
            return HttpResponseRedirect(self.back)
        label = Comment.Status(status).label
        return JsonResponse(
            {"comment": self.comment_id, "status": status, "status_label": label, **fields}, status=code
        )


CONTEXT_REPLIES = 20  # direct replies shown under a comment; a flood of replies gets "and more"

# The decide buttons, in the order a moderator reaches for them; A, R and S are the keys of the first three.
DECIDE_BUTTONS = [
    (ModerationAction.APPROVE, "Approve"),
    (ModerationAction.REJECT, "Reject"),
    (ModerationAction.SPAM, "Spam"),
    (ModerationAction.NOT_SPAM, "Not spam"),
    (ModerationAction.TOXIC, "Toxic"),
    (ModerationAction.NOT_TOXIC, "Not toxic"),
]


# The decide column with "{pk}" for the comment's id: the same on every row but the id, so escaped once here,
# not 50 times a page. Enter in the note must not approve: a disabled first button makes the implicit
# submission do nothing.
def approve_too(comment: Comment, *, form: str) -> str:
    """The reply box's "approve it too" checkbox: none under a published comment, ticked under a held or
    pending one (readers see a reply only under a published comment), left to the moderator under a
    rejected one (``staff.staff_reply_post`` refuses a reply there without it)."""
    if comment.status == Comment.Status.PUBLISHED:
        return ""
    return format_html(
        '<label><input type="checkbox" form="{}" name="approve" value="yes"{}> and approve the comment</label>',
        form,
        "" if comment.status == Comment.Status.REJECTED else " checked",
    )


def comment_spans(comment: Comment) -> list[dict[str, Any]]:
    """The explained spans stored with the comment's score reasons that carry meaning (no function words,
    no punctuation: ``highlights``), each with its attribute, without overlaps, in text order."""
    explained = (
        {**span, "attribute": reason.get("attribute", "")}
        for reason in comment.reasons
        for span in highlights.spans_worth_highlighting(reason.get("spans", []), language=comment.language)
    )
    spans = sorted(explained, key=lambda span: (span["begin"], -span["end"], -span["weight"]))
    kept: list[dict[str, Any]] = []
    for span in spans:
        if not kept or span["begin"] >= kept[-1]["end"]:
            kept.append(span)
    return kept


def reason_text(reason: dict[str, Any]) -> str:
    """A stored reason as a moderator reads it: "Held: TOXICITY 0.97, hold threshold 0.50"."""
    outcome = {
        policy.ReasonCode.HOLD_THRESHOLD: ("Held", "hold"),
        policy.ReasonCode.REJECT_THRESHOLD: ("Rejected", "reject"),
    }
    code = reason.get("code", "")
    if code in outcome and {"attribute", "score", "threshold"} <= reason.keys():
        verb, kind = outcome[code]
        # As many decimals as the threshold has (0.965, 0.134), so a score never reads below its threshold.
        digits = 2 if round(reason["threshold"], 2) == reason["threshold"] else 3
        score, threshold = f"{reason['score']:.{digits}f}", f"{reason['threshold']:.{digits}f}"
        return f"{verb}: {reason['attribute']} {score}, {kind} threshold {threshold}"
    return str(reason.get("detail") or code)


def highlighted(text: str, spans: list[dict[str, Any]], limit: int | None = None) -> str:
    """The text, escaped, with each span in <mark>; cut at ``limit`` characters."""
    end = len(text) if limit is None else min(len(text), limit)
    parts: list[str] = []
    position = 0
    for span in spans:
        begin, stop = int(span["begin"]), int(span["end"])
        if begin < position or stop > end:
            continue
        parts.append(conditional_escape(text[position:begin]))
        weight = " ".join(part for part in (span.get("attribute", ""), f"{span['weight']:+.2f}") if part)
        parts.append(format_html('<mark title="{}">{}</mark>', weight, text[begin:stop]))
        position = stop
    parts.append(conditional_escape(text[position:end]))
    if end < len(text):
        parts.append("…")
    return mark_safe("".join(parts))  # noqa: S308  (every part is escaped above)


def story_table(lines: list[story.StoryEvent]) -> str:
    """The story as a table: when, who, what (with the change of status), details."""
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                timezone.localtime(line.at).strftime("%Y-%m-%d %H:%M:%S"),
                story_who(line),
                story_what(line),
                format_html_join("", "<div>{}</div>", ((detail,) for detail in story_details(line))),
            )
            for line in lines
        ),
    )
    return format_html(
        '<table class="moderato-story"><thead><tr><th>when</th><th>who</th><th>what</th><th>details</th></tr>'
        "</thead><tbody>{}</tbody></table>",
        rows,
    )


def story_who(line: story.StoryEvent) -> str:
    if line.actor == story.Actor.PERSON:
        return line.user or "a moderator (account removed)"
    if line.actor == story.Actor.READER:
        return "a reader" if line.kind == story.REPORTED else "the author"
    return f"system (asked by {line.user})" if line.user else "system"


def story_what(line: story.StoryEvent) -> str:
    what = line.label
    if line.action:
        what += f": {ModerationAction(line.action).label}"
    if line.from_status and line.to_status and line.from_status != line.to_status:
        what += f" ({line.from_status} → {line.to_status})"
    elif line.to_status:
        what += f" ({line.to_status})"
    return what


def story_details(line: story.StoryEvent) -> list[str]:
    """The details of one line, each a short sentence: scores with their model versions, reasons, the note."""
    details = line.details
    found: list[str] = []
    if line.note:
        found.append(f"Note: {line.note}")
    if line.labels:
        found.append("Teaches: " + ", ".join(f"{name} {value}" for name, value in sorted(line.labels.items())))
    if "edit" in details:
        found.append(f"Edit #{details['edit']}" + (f": {details['state']}" if details.get("state") else ""))
    versions = details.get("versions") or {}
    found += [
        f"{name} {value:.2f} ({versions.get(name, '?')})"
        for name, value in sorted((details.get("scores") or {}).items())
    ]
    found += [reason_text(reason) for reason in details.get("reasons") or []]
    if details.get("language"):
        found.append(f"Language: {details['language']}")
    if (shadow := details.get("shadow")) and shadow.get("outcome") != line.to_status:
        would = "; ".join(reason_text(reason) for reason in shadow.get("reasons") or [])
        found.append(f"Shadow mode: would have {shadow.get('outcome')} it" + (f": {would}" if would else ""))
    if details.get("reason"):
        found.append(f"Reason: {details['reason']}")
    if details.get("placeholder"):
        found.append(f"Kept as {DELETED_TEXT} for its replies")
    if details.get("mode"):
        found.append(f"Erasure mode: {details['mode']}")
    if details.get("source"):
        found.append(f"From {details['source']} ({details.get('external_id', '')})")
    if details.get("backfilled"):
        found.append("Reconstructed from the rows kept before stories were (its time may be approximate)")
    return found


def bar_colour(value: float) -> str:
    return "#c0392b" if value >= 0.8 else "#e67e22" if value >= 0.5 else "#27ae60"


@admin.register(ModerationDecision)
class ModerationDecisionAdmin(ReadOnlySiteScopedAdmin[ModerationDecision]):
    """The audit trail: readable by moderators (of their sites), editable by nobody."""

    site_field = "comment__thread__site_id"
    comment_field = "comment"

    list_display = ["created_at", "actor", "action", "comment", "from_status", "to_status", "labels", "note"]
    list_filter = ["action", "to_status", "created_at"]
    search_fields = ["comment__body", "note", "actor__username"]


@admin.register(Erasure)
class ErasureAdmin(ReadOnlySiteScopedAdmin[Erasure]):
    """That commenters' comments were erased: who asked, when, how many; never what, nor whose."""

    list_display = ["created_at", "site", "via", "actor", "mode", "comments", "deleted", "placeholders", "anonymised"]
    list_filter = ["via", "mode", site_filter("site_id"), "created_at"]


@admin.register(CommenterFlag)
class CommenterFlagAdmin(SiteScopedAdmin[CommenterFlag]):
    list_display = ["identity", "kind", "basis", "site", "created_by", "created_at"]
    list_filter = ["kind", site_filter("site_id")]
    search_fields = ["identity"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin[ModelVersion]):
    """Model versions with their gates and replay; promote a candidate, roll back in one click."""

    list_display = ["version", "name", "status", "based_on", "labels", "gates_passed", "replay_changed", "created_at"]
    list_filter = ["name", "status"]
    fields = ("name", "version", "status", "based_on", "labels", "gate_table", "replay_summary", "stored_files",
              "created_at", "promoted_at", "promoted_by")  # fmt: skip
    readonly_fields = fields
    actions = ["promote", "roll_back"]
    change_list_template = "moderation/admin/modelversion_change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "shipped": shipped_in_use()})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(boolean=True, description="gates passed")
    def gates_passed(self, row: ModelVersion) -> bool | None:
        passed: bool | None = row.gates.get("passed")
        return passed

    @admin.display(description="replay: decisions changed")
    def replay_changed(self, row: ModelVersion) -> str:
        return f"{row.replay.get('changed', 0)} of {row.replay.get('comments', 0)}" if row.replay else "-"

    @admin.display(description="gates")
    def gate_table(self, row: ModelVersion) -> str:
        checks = row.gates.get("checks", [])
        return format_html(
            "<table><tr><th>gate</th><th>active ({})</th><th>candidate</th><th></th></tr>{}</table>",
            row.gates.get("compared_with", "?"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((c["gate"], c["active"], c["candidate"], "ok" if c["passed"] else "WORSE") for c in checks),
            ),
        )

    @admin.display(description="replay")
    def replay_summary(self, row: ModelVersion) -> str:
        replay = row.replay or {}
        changes = ", ".join(f"{k}: {v}" for k, v in replay.get("changes", {}).items()) or "none"
        return format_html(
            "<p>Of the last {} decided comments, {} would be decided differently ({}).</p><ul>{}</ul>",
            replay.get("comments", 0),
            replay.get("changed", 0),
            changes,
            format_html_join(
                "",
                "<li>#{} {} &rarr; {}: {}</li>",
                ((e["comment"], e["before"], e["after"], e["text"]) for e in replay.get("examples", [])),
            ),
        )

    @admin.display(description="stored files")
    def stored_files(self, row: ModelVersion) -> str:
        files = row.files.order_by("name").values_list("name", "size", "sha256")
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{} ({} bytes, SHA-256 {})</li>", files) or "none: this version cannot be loaded",
        )

    @admin.action(description="Promote: make the selected version active", permissions=["change"])
    def promote(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for row in queryset:
            try:
                learning.model_promote(model_version_id=row.pk, actor=request.user)
                self.message_user(request, f"{row.version} is now active.", messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)

    @admin.action(description="Roll back: retire the active version, reactivate the one before", permissions=["change"])
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for name in sorted(set(queryset.values_list("name", flat=True))):
            try:
                previous = learning.model_rollback(name=name, actor=request.user)
                self.message_user(
                    request, f"{name}: {previous.version if previous else 'the shipped model'} is active."
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)


def shipped_in_use() -> list[dict[str, Any]]:
    """The shipped models scoring now that have no row of their own: read-only rows above the list, so the
    page never says "0 model versions" while models are deciding comments."""
    scorer = get_scorer()
    rows = set(ModelVersion.objects.filter(version__in=scorer.versions.values()).values_list("version", flat=True))
    return [
        {
            "name": name,
            "version": version,
            "attributes": ", ".join(scorer.attributes.get(name, ())),
            "created_at": scorer.models[name].meta.get("created_at", ""),
            "thresholds": ", ".join(
                f"{attribute} {threshold.get('publish')}"
                + (f"/{threshold['reject']}" if threshold.get("reject") is not None else "")
                for attribute, threshold in sorted(scorer.models[name].meta.get("default_thresholds", {}).items())
            ),
        }
        for name, version in sorted(scorer.versions.items())
        if version not in rows
    ]


class SitePolicyInline(admin.StackedInline[SitePolicy, Site]):
    """The moderation policy, on the site's page: created with the site, never deleted apart from it."""

    model = SitePolicy
    can_delete = False
    min_num = max_num = 1
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    filter_horizontal = ["moderators"]
    readonly_fields = ["effective_thresholds", "webhook_signing_secret", "trial_pages"]
    fieldsets = [
        ("Decisions", {"fields": ["thresholds", "effective_thresholds", "report_threshold"]}),
        ("Try before trusting", {"fields": ["shadow_mode", "trial_pages"]}),
        ("Pre-moderation", {"fields": ["hold_all", "hold_first_comment", "hold_links_at"]}),
        ("Bots", {"fields": ["min_form_seconds", "hold_without_form_token"]}),
        ("Word lists and blocks", {"fields": ["blocked_words", "allowed_words", "blocked_email_domains"]}),
        (
            "Moderators and notifications",
            {
                "fields": [
                    "moderators",
                    "staff_name",
                    "email_moderators",
                    "webhook_url",
                    "webhook_secret",
                    "webhook_signing_secret",
                ]
            },
        ),
        ("Readers' data", {"fields": ["erasure"]}),
    ]

    @admin.display(description="signing secret for Standard Webhooks receivers")
    def webhook_signing_secret(self, row: SitePolicy) -> str:
        """The same secret as Standard Webhooks libraries take it (``whsec_`` + base64)."""
        return signing_secret(row.webhook_secret) if row.webhook_secret else "-"

    @admin.display(description="reports")
    def trial_pages(self, row: SitePolicy) -> str:
        if row.pk is None:
            return "-"
        return format_html(
            '<a href="{}">Shadow report</a> (shadow decisions against the moderators\' actions) · '
            '<a href="{}">What if</a> (the last decided comments at other thresholds)',
            reverse("admin:comments_site_shadow_report", args=[row.pk]),
            reverse("admin:comments_site_what_if", args=[row.pk]),
        )

    @admin.display(description="thresholds in force")
    def effective_thresholds(self, row: SitePolicy) -> str:
        """The site's own thresholds over the active models' defaults: what decides its comments now."""
        if row.pk is None:
            return "The active models' defaults."
        own = row.thresholds or {}
        return format_html_join(
            "",
            "<div>{}: hold at {}{}{}</div>",
            (
                (
                    attribute,
                    f"{threshold.publish:g}",
                    f", reject at {threshold.reject:g}" if threshold.reject is not None else "",
                    " (this site's)" if attribute in own else " (default)",
                )
                for attribute, threshold in sorted(sites.site_thresholds(site=row.site).items())
            ),
        )


@admin.register(Notification)
class NotificationAdmin(ReadOnlySiteScopedAdmin[Notification]):
    """The delivery log of the outbox: every webhook and e-mail, its attempts and the last answer."""

    list_display = ["created_at", "event", "kind", "site", "comment", "state", "attempts", "last_result",
                    "next_attempt_at", "delivered_at"]  # fmt: skip
    list_filter = ["state", "kind", "event", site_filter("site_id")]
    search_fields = ["event_id", "last_result"]
    readonly_fields = ("event_id", "kind", "event", "site", "comment", "payload", "state", "attempts",
                       "next_attempt_at", "last_attempt_at", "last_result", "delivered_at", "created_at")  # fmt: skip
    fields = readonly_fields
    actions = ["retry_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).select_related("site", "comment")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("comments.can_moderate")

    @admin.action(description="Retry now: send the selected notifications again", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        retried = notifications.notifications_retry(notification_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{retried} notification(s) queued again.", messages.SUCCESS)


def edit_action(*, approve: bool) -> Callable[..., None]:
    def run(modeladmin: "CommentEditAdmin", request: HttpRequest, queryset: QuerySet[CommentEdit]) -> None:
        decided = 0
        for edit_id in queryset.filter(state=CommentEdit.State.HELD).values_list("pk", flat=True):
            try:
                services.comment_edit_moderate(edit_id=edit_id, actor=request.user, approve=approve)
                decided += 1
            except ValidationError as exc:
                modeladmin.message_user(request, " ".join(exc.messages), messages.WARNING)
        verb = "approved: their text replaces the comment's" if approve else "rejected: the comments keep their text"
        modeladmin.message_user(request, f"{decided} held edit(s) {verb}.", messages.SUCCESS)

    run.__name__ = "edit_approve" if approve else "edit_reject"
    description = "Approve the selected held edits" if approve else "Reject the selected held edits"
    return admin.action(description=description, permissions=["moderate"])(run)


@admin.register(CommentEdit)
class CommentEditAdmin(ReadOnlySiteScopedAdmin[CommentEdit]):
    """Authors' edits of published comments: a held edit waits here, the published text on the page
    until a moderator approves or rejects it."""

    site_field = "comment__thread__site_id"
    comment_field = "comment"
    list_display = ["id", "comment_link", "state", "published_text", "new_text", "reason_summary", "created_at"]
    list_filter = ["state", site_filter("comment__thread__site_id"), "created_at"]
    search_fields = ["body", "comment__body", "comment__author_name"]
    fields = ("comment_link", "state", "published_text", "new_text", "reason_summary", "scores", "created_at",
              "decided_at", "scoring_attempts")  # fmt: skip
    readonly_fields = fields
    actions = [edit_action(approve=True), edit_action(approve=False)]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CommentEdit]:
        held_first = Case(
            When(state=CommentEdit.State.HELD, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return super().get_queryset(request).select_related("comment").order_by(held_first, "created_at")

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("comments.can_moderate")

    @admin.display(description="comment")
    def comment_link(self, edit: CommentEdit) -> str:
        url = reverse("admin:comments_comment_change", args=[edit.comment_id])
        return format_html('<a href="{}">#{} by {}</a>', url, edit.comment_id, edit.comment.author_name)

    @admin.display(description="published text")
    def published_text(self, edit: CommentEdit) -> str:
        return edit.comment.body[:500]

    @admin.display(description="new text")
    def new_text(self, edit: CommentEdit) -> str:
        return edit.body[:500]

    @admin.display(description="why")
    def reason_summary(self, edit: CommentEdit) -> str:
        return "; ".join(str(reason.get("detail", reason.get("code"))) for reason in edit.reasons) or "-"


admin.site.unregister(Thread)


class ThreadPolicyForm(forms.ModelForm[ThreadPolicy]):
    class Meta:
        model = ThreadPolicy
        fields = ["hold_all", "thresholds"]

    def clean_thresholds(self) -> object:
        """Only attributes the active models score (``policy.thread_holds_from_json``); empty is none."""
        value = self.cleaned_data["thresholds"]
        if value is None:
            return {}
        produced, _ = sites.model_default_thresholds()
        try:
            policy.thread_holds_from_json(value, known=produced)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return value


class ThreadPolicyInline(admin.StackedInline[ThreadPolicy, Thread]):
    """The thread's own moderation, on its page; a thread without one follows its site."""

    model = ThreadPolicy
    form = ThreadPolicyForm
    can_delete = False
    max_num = 1
    readonly_fields = ["thresholds_in_force"]
    fields = ["hold_all", "thresholds", "thresholds_in_force"]

    @admin.display(description="thresholds in force")
    def thresholds_in_force(self, row: ThreadPolicy) -> str:
        """The site's thresholds with this thread's own in their place: what decides its comments now."""
        if row.pk is None:
            return "The site's."
        thread = row.thread
        in_force = threads.thread_thresholds(thread=thread, in_force=sites.site_thresholds(site=thread.site))
        return format_html_join(
            "",
            "<div>{}: hold at {}{}{}</div>",
            (
                (
                    attribute,
                    f"{threshold.publish:g}",
                    f", reject at {threshold.reject:g}" if threshold.reject is not None else "",
                    " (this thread's)" if threshold.thread else " (the site's)",
                )
                for attribute, threshold in sorted(in_force.items())
            ),
        )


@admin.register(Thread)
class ModeratedThreadAdmin(SiteScopedAdmin[Thread], ThreadAdmin):
    """The public side's thread list, limited to the moderator's sites, with each thread's controls."""

    list_display = ["key", "title", "site", "state", "created_at"]
    list_filter = [site_filter("site_id"), "is_open"]
    ordering = ["-pk"]  # the newest first, as before; the thread filter's suggestions page through it
    readonly_fields = ["state"]
    inlines = [ThreadPolicyInline]
    actions = [thread_action(control, of_comments=False) for control in threads.ThreadControl]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Thread]:
        return super().get_queryset(request).select_related("site", "policy")

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("comments.can_moderate")

    @admin.display(description="state")
    def state(self, thread: Thread) -> str:
        if thread.pk is None:  # (the add page)
            return "-"
        return thread_state_html(thread) or "open"


admin.site.unregister(Site)


@admin.register(Site)
class ModeratedSiteAdmin(SiteAdmin):
    """The public side's site page with the moderation policy below it."""

    list_display = [*SiteAdmin.list_display[:2], "hold_all", "created_at"]
    inlines = [SitePolicyInline]

    @admin.display(boolean=True, description="holds every comment")
    def hold_all(self, site: Site) -> bool:
        return sites.site_policy(site=site).hold_all

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:site_id>/shadow-report/",
                self.admin_site.admin_view(self.shadow_report_view),
                name="comments_site_shadow_report",
            ),
            path("<int:site_id>/what-if/", self.admin_site.admin_view(self.what_if_view), name="comments_site_what_if"),
            *super().get_urls(),
        ]

    def moderated_site(self, request: HttpRequest, site_id: int) -> Site:
        """The site, if this user moderates it (its reports show its comments)."""
        site = Site.objects.filter(pk=site_id).first()
        if site is None:
            raise Http404
        if not sites.moderator_sees(user=request.user, site_id=site.pk):
            raise PermissionDenied
        return site

    def shadow_report_view(self, request: HttpRequest, site_id: int) -> HttpResponse:
        """How the site's shadow decisions compare with its moderators' later actions (``?days=N``)."""
        site = self.moderated_site(request, site_id)
        form = ShadowReportForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return self.trial_page(request, site, "shadow_report.html", {"form": form}, status=400)
        days = form.cleaned_data["days"] if form.is_bound else shadow.REPORT_DAYS
        report = shadow.shadow_report(site=site, days=days)
        rows = [
            (would, [report.table.get((would, verdict), 0) for verdict in shadow.VERDICTS]) for would in shadow.OUTCOMES
        ]
        context = {"form": form, "report": report, "rows": rows, "verdicts": shadow.VERDICTS}
        return self.trial_page(request, site, "shadow_report.html", context)

    def what_if_view(self, request: HttpRequest, site_id: int) -> HttpResponse:
        """The site's last decided comments decided again at the thresholds in the form (GET: nothing changes)."""
        site = self.moderated_site(request, site_id)
        form = WhatIfForm(request.GET or None, site=site)
        if not form.is_bound:
            return self.trial_page(request, site, "what_if.html", {"form": form})
        if not form.is_valid():
            return self.trial_page(request, site, "what_if.html", {"form": form}, status=400)
        replay = shadow.what_if(site=site, overrides=form.cleaned_data["overrides"], last=form.cleaned_data["last"])
        return self.trial_page(request, site, "what_if.html", {"form": form, "replay": replay})

    def trial_page(
        self, request: HttpRequest, site: Site, template: str, context: dict[str, Any], status: int = 200
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "site_row": site,
            "opts": self.opts,
            "title": f"{'Shadow report' if 'shadow' in template else 'What if'}: {site.name}",
            **context,
        }
        return TemplateResponse(request, f"moderation/admin/{template}", context, status=status)


class ShadowReportForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=shadow.REPORT_DAYS_MAX, initial=shadow.REPORT_DAYS)


class WhatIfForm(forms.Form):
    """How many comments, and a hold and a reject threshold per attribute, filled in with the ones in force."""

    last = forms.IntegerField(min_value=1, max_value=shadow.WHAT_IF_LAST_MAX, initial=shadow.WHAT_IF_LAST)

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.in_force = sites.site_thresholds(site=site)
        for name, threshold in sorted(self.in_force.items()):
            self.fields[f"{name}_hold"] = forms.FloatField(label=f"{name} hold at", initial=threshold.publish)
            self.fields[f"{name}_reject"] = forms.FloatField(
                label=f"{name} reject at", required=False, initial=threshold.reject, help_text="empty: never"
            )

    def attribute_fields(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [(name, self[f"{name}_hold"], self[f"{name}_reject"]) for name in sorted(self.in_force)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw: dict[str, tuple[float, float | None]] = {}
        for name, threshold in self.in_force.items():
            hold, reject = cleaned.get(f"{name}_hold"), cleaned.get(f"{name}_reject")
            if hold is not None and (hold, reject) != (threshold.publish, threshold.reject):
                raw[name] = (hold, reject)
        try:
            cleaned["overrides"] = shadow.threshold_overrides_check(site=self.site, raw=raw)
        except shadow.ThresholdError as exc:
            for name, message in exc.errors.items():
                self.add_error(f"{name}_hold", message)
        return cleaned


from moderation.compat import admin as compat_admin  # noqa: E402, F401  (registers its admin classes)


@admin.register(ModeratorLanguages)
class ModeratorLanguagesAdmin(admin.ModelAdmin[ModeratorLanguages]):
    """Moderators limited to languages (issue 15 item 9): a grant to a person, like the sites they
    moderate, set by whoever may change users; a moderator without a row sees every language."""

    list_display = ["user", "languages"]
    search_fields = ["user__username", "languages"]
    autocomplete_fields = ["user"]


# The dashboard (issue 15 item 5): its own admin page, /admin/dashboard/, linked from the admin index.
DASHBOARD_COLOURS = {"published": "#2e7d32", "held": "#e6a100", "rejected": "#ba2121"}


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Comments waiting per site, decisions per day, agreement with the models, score histograms and the
    active models with their gates, over the sites and languages this moderator sees."""
    if not request.user.has_perm("comments.can_moderate"):
        raise PermissionDenied
    figures = dashboard.dashboard_cached(user=request.user, attributes=dashboard.dashboard_attributes())
    labels = [day.strftime("%d %b") for day in figures.days]
    edges = [i / dashboard.BINS for i in range(dashboard.BINS)]
    charts = {
        "by_model": charts_svg.stacked_bars(
            "Comments per day by the model's decision",
            labels,
            [(status, DASHBOARD_COLOURS[status], counts) for status, counts in figures.by_model.items()],
        ),
        "by_person": charts_svg.stacked_bars(
            "Moderators' decisions per day",
            labels,
            [
                ("published by a person", DASHBOARD_COLOURS["published"], figures.by_person["published"]),
                ("rejected by a person", DASHBOARD_COLOURS["rejected"], figures.by_person["rejected"]),
            ],
        ),
        "agreement": charts_svg.horizontal_bars(
            "How often a person overturns the model, per attribute",
            [(row.attribute, row.overturned, row.upheld) for row in figures.agreement if row.overturned + row.upheld],
        ),
        "histograms": [
            (
                attribute,
                charts_svg.histogram_pair(
                    f"{attribute} scores of published and held comments",
                    edges,
                    [
                        ("published", DASHBOARD_COLOURS["published"], by_status["published"]),
                        ("held", DASHBOARD_COLOURS["held"], by_status["held"]),
                    ],
                ),
            )
            for attribute, by_status in figures.histograms.items()
        ],
    }
    active = list(ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).order_by("name"))
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "figures": figures,
        # Every text in the charts is escaped by moderation/charts.py.
        "charts": {key: mark_safe(value) for key, value in charts.items() if isinstance(value, str)},  # noqa: S308
        "histograms": [(attribute, mark_safe(svg)) for attribute, svg in charts["histograms"]],  # noqa: S308
        "active_models": [
            (row, [(c["gate"], c["active"], c["candidate"], c["passed"]) for c in row.gates.get("checks", [])])
            for row in active
        ],
        "shipped_models": shipped_in_use(),
    }
    return TemplateResponse(request, "moderation/admin/dashboard.html", context)


class ModeratorTokenForm(forms.ModelForm[ModeratorToken]):
    class Meta:
        model = ModeratorToken
        fields = ["user", "name"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None and cleaned.get("user") is not None:
            moderator_tokens.token_holder_check(user=cleaned["user"])  # a refusal lands under the user field
        return cleaned


@admin.register(ModeratorToken)
class ModeratorTokenAdmin(admin.ModelAdmin[ModeratorToken]):
    """Moderators' tokens for the moderation API (issue 15 item 10): a new one is shown once, in the
    message after saving; only its hash and prefix are kept. For superusers (or staff given its permissions)."""

    form = ModeratorTokenForm
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ModeratorToken | None = None) -> tuple[str, ...]:
        return ("user", "name") if obj is None else ("user", "name", *self.get_readonly_fields(request, obj)[1:])

    def get_readonly_fields(self, request: HttpRequest, obj: ModeratorToken | None = None) -> list[str]:
        return [] if obj is None else ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: ModeratorToken, form: forms.ModelForm[ModeratorToken], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key = moderator_tokens.moderator_token_issue(token=obj)
        self.message_user(
            request, f"The new token for {obj.user}: {key}. Copy it now: it is not shown again.", messages.WARNING
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ModeratorToken]) -> None:
        revoked = moderator_tokens.moderator_tokens_revoke(token_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
