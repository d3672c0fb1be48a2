from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        from moderation import checks, receivers  # noqa: F401  (register the system checks and signal receivers)
        from moderation.roles import moderators_group_sync

        # Permissions exist only after migrate has created them, so the group follows migrate.
        post_migrate.connect(moderators_group_sync, sender=self, dispatch_uid="moderators-group")
