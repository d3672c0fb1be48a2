from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class CommentsConfig(AppConfig):
    name = "comments"
    verbose_name = "Comments"

    def ready(self) -> None:
        from comments import services
        from comments.models import Site

        # The per-process site cache (comments.services), as django.contrib.sites clears SITE_CACHE.
        post_save.connect(services.site_cache_clear, sender=Site, dispatch_uid="comments-site-cache-save")
        post_delete.connect(services.site_cache_clear, sender=Site, dispatch_uid="comments-site-cache-delete")
