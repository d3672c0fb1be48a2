from django.contrib import admin

from comments.models import Site, Thread


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    """The public side's part of a site; the moderation app adds its policy to this page."""

    list_display = ["name", "public_key", "created_at"]
    search_fields = ["name", "public_key"]
    fields = ["name", "public_key", "allowed_origins", "auto_create_threads", "close_after_days", "max_reply_depth"]


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin[Thread]):
    list_display = ["key", "title", "site", "is_open", "created_at"]
    list_filter = ["site", "is_open"]
    search_fields = ["key", "title"]
