from django.contrib import admin

from comments.models import Site, Thread


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "public_key", "hold_all", "hold_first_comment", "hold_links_at", "created_at"]
    search_fields = ["name", "public_key"]
    filter_horizontal = ["moderators"]
    fieldsets = [
        (None, {"fields": ["name", "public_key", "allowed_origins", "auto_create_threads"]}),
        ("Decisions", {"fields": ["thresholds", "report_threshold"]}),
        ("Pre-moderation", {"fields": ["hold_all", "hold_first_comment", "hold_links_at"]}),
        ("Word lists and blocks", {"fields": ["blocked_words", "allowed_words", "blocked_email_domains"]}),
        (
            "Moderators and notifications",
            {"fields": ["moderators", "email_moderators", "webhook_url", "webhook_secret"]},
        ),
    ]


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "site", "is_open", "created_at"]
    list_filter = ["site", "is_open"]
    search_fields = ["key", "title"]
