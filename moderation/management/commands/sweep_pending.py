"""Re-queue comments left pending too long (what Celery beat runs every few seconds)."""

from typing import Any

from django.core.management.base import BaseCommand

from moderation.tasks import pending_comments_sweep


class Command(BaseCommand):
    help = "Queue scoring again for comments that have waited too long as pending."

    def handle(self, *args: Any, **options: Any) -> None:
        queued = pending_comments_sweep()
        self.stdout.write(f"Re-queued {queued} pending comment(s).")
