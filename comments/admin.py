from django.contrib import admin

from comments.models import Site, Thread


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "public_key", "hold_all", "auto_create_threads", "created_at"]
    search_fields = ["name", "public_key"]


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "site", "is_open", "created_at"]
    list_filter = ["site", "is_open"]
    search_fields = ["key", "title"]
