"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# gunicorn runs no system checks: a worker that cannot load the shipped models fails to boot here
# (ArtifactError), and gunicorn stops, instead of answering every request with an error.
from moderation.scoring import shipped_models_load  # noqa: E402

shipped_models_load()
