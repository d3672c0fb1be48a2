"""gunicorn's settings for ``make run`` and compose (``gunicorn -c config/gunicorn.py config.wsgi``).

Logs go through the project's formatter (JSON by default, MODERATO_LOG_FORMAT); gunicorn's access
log stays off because config.logging.RequestIdMiddleware logs each request with its id. A worker
that exits is forgotten by the metrics (prometheus_client's multiprocess mode).
"""

import os
from typing import Any

from config.logging import logging_config

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logconfig_dict = logging_config(
    style=os.environ.get("MODERATO_LOG_FORMAT", "json").strip().lower() or "json",
    level=os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
)


# Each worker touches a file of its own at every turn of its loop (the master's heartbeat check): on a
# tmpfs, not the container's overlay disk, as gunicorn's documentation advises for Docker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  (gunicorn makes its file there)


def child_exit(server: Any, worker: Any) -> None:
    from moderation import metrics

    metrics.process_dead(worker.pid)
