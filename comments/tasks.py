"""Celery tasks of the public side."""

from celery import shared_task

from comments import services


@shared_task
def idempotency_keys_purge() -> int:
    """Forget idempotency keys past their keeping time; return how many."""
    return services.idempotency_keys_purge()
