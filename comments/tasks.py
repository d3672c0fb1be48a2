"""Celery tasks of the public side."""

from celery import shared_task

from comments import services


@shared_task
def idempotency_keys_purge() -> int:
    """Forget idempotency keys past their keeping time; return how many."""
    return services.idempotency_keys_purge()


@shared_task
def retention_purge() -> dict[str, int]:
    """Remove address hashes and user agents older than MODERATO_RETENTION_DAYS; return how many rows."""
    result = services.retention_purge()
    return {"comments": result.comments, "reports": result.reports}
