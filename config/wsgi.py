"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# gunicorn runs no system checks: a worker that cannot load the shipped models fails to boot here
# (ArtifactError), and gunicorn stops, instead of answering every request with an error.
from moderation.scoring import shipped_models_load  # noqa: E402

shipped_models_load()

# The URL configuration (the views, DRF, the admin) is otherwise imported by the first request; with
# gunicorn --preload it is imported once, in the master, before any request.
get_resolver().url_patterns  # noqa: B018
