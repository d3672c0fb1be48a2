"""Wiring only: settings, URLs, the Celery app and the WSGI entry point.

Importing the Celery app here makes ``@shared_task`` bind to it whenever Django starts.
"""

from config.celery import app as celery_app

__all__ = ["celery_app"]
