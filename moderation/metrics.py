"""Prometheus metrics, gathered across every web and worker process of a deployment.

Two sources, chosen by who knows the number:

- what the database knows is read at scrape time (comments by status, submitted, the oldest
  pending comment, moderator decisions, workers heard from), so it is right whichever process
  answers and however many there are;
- what happens inside a process (scoring time, webhook failures, tasks running) is observed there
  through prometheus_client's multiprocess mode: each process writes its own files under
  ``MODERATO_METRICS_DIR``, which every web and worker process shares, and ``/metrics`` adds them up.

A file is named by host and process id, so containers sharing the volume never write the same file.
A process that ends is forgotten (``process_dead``: gunicorn's ``child_exit``, Celery's worker
process shutdown, and each worker heartbeat for processes of its host killed without either).
The names, with their labels, are listed in the README's "Observability" section.
"""

from __future__ import annotations

import glob
import hmac
import logging
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


def metrics_dir() -> Path:
    return Path(settings.MODERATO_METRICS_DIR)


def host_prefix() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) + "-"


def process_identifier(pid: int | None = None) -> str:
    """``<host>-<pid>``: unique across the containers that share the metrics volume."""
    return f"{host_prefix()}{os.getpid() if pid is None else pid}"


# Multiprocess mode, chosen before the first metric below exists: prometheus_client reads the
# directory from this variable whenever a process creates its files.
metrics_dir().mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir())
values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)

SCORING_SECONDS = Histogram(
    "moderato_scoring_seconds",
    "Time a worker spends on one scoring task (score, decide, write), failed runs included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)
COMMENTS_SCORED = Counter(
    "moderato_comments_scored",
    "Scoring task runs by outcome: published, held, rejected, skipped (no longer pending), error (will retry or hold).",
    ["outcome"],
)
WEBHOOK_FAILURES = Counter(
    "moderato_webhook_failures", "Webhook delivery attempts that failed (unreachable or not 2xx); retried."
)
WEBHOOKS_DELIVERED = Counter("moderato_webhooks_delivered", "Webhook events the receiver accepted.")
TASKS_RUNNING = Gauge(
    "moderato_tasks_running", "Celery tasks running now, by task name.", ["task"], multiprocess_mode="livesum"
)


def comment_scored(*, outcome: str, seconds: float) -> None:
    SCORING_SECONDS.observe(seconds)
    COMMENTS_SCORED.labels(outcome=outcome).inc()


def process_dead(pid: int) -> None:
    """Forget a process of this host that has ended: its live gauges stop counting."""
    multiprocess.mark_process_dead(process_identifier(pid), str(metrics_dir()))


def dead_processes_forget() -> list[int]:
    """Forget the processes of this host that ended without ``process_dead`` (killed); return their ids."""
    prefix = host_prefix()
    dead: set[int] = set()
    for path in glob.glob(os.path.join(metrics_dir(), f"gauge_live*_{glob.escape(prefix)}*.db")):
        pid = Path(path).stem.rpartition("_")[2].removeprefix(prefix)
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.add(int(pid))
        except PermissionError:  # alive, another user's
            pass
    for dead_pid in dead:
        process_dead(dead_pid)
    return sorted(dead)


class ScrapeTimeCollector(Collector):
    """Metrics read at scrape time: from the database, the broker, and the models of this process."""

    def collect(self) -> Iterator[Metric]:
        from comments.models import Comment
        from moderation import health
        from moderation.models import ModerationDecision

        up = GaugeMetricFamily("moderato_database_up", "1 if the database answered this scrape, else 0.")
        try:
            by_status = dict(Comment.objects.order_by().values_list("status").annotate(n=Count("pk")))
            oldest = (
                Comment.objects.filter(status=Comment.Status.PENDING)
                .order_by("created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            actions = dict(ModerationDecision.objects.order_by().values_list("action").annotate(n=Count("pk")))
            workers, _ = health.workers_heard_from()
        except DatabaseError:
            logger.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            submitted = CounterMetricFamily(
                "moderato_comments_submitted", "Comments stored since the start (all statuses)."
            )
            submitted.add_metric([], sum(by_status.values()))
            yield submitted
            comments = GaugeMetricFamily(
                "moderato_comments",
                "Comments by current status; pending is the scoring queue, held the moderators' queue.",
                labels=["status"],
            )
            for status in Comment.Status.values:
                comments.add_metric([status], by_status.get(status, 0))
            yield comments
            age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
            yield GaugeMetricFamily(
                "moderato_pending_oldest_age_seconds",
                "Age of the oldest comment still pending (0 when none is).",
                value=max(age, 0.0),
            )
            decisions = CounterMetricFamily(
                "moderato_moderator_decisions", "Moderators' decisions by action.", labels=["action"]
            )
            for action, n in sorted(actions.items()):
                decisions.add_metric([action], n)
            yield decisions
            yield GaugeMetricFamily(
                "moderato_workers_heard_from",
                "Celery workers whose heartbeat is recent (see /healthz).",
                value=workers,
            )
        try:
            lengths = {queue.name: health.broker_queue_length(queue.name) for queue in settings.CELERY_TASK_QUEUES}
        except Exception:  # a broker that cannot be read leaves the metric out; /healthz says why
            logger.warning("metrics: the broker queue length cannot be read", exc_info=True)
        else:
            queues = GaugeMetricFamily(
                "moderato_broker_queue_messages",
                "Tasks waiting in each broker queue (celery: scoring and deliveries; housekeeping: sweeps; "
                "training: retraining), not yet taken by a worker.",
                labels=["queue"],
            )
            for name, length in sorted(lengths.items()):
                queues.add_metric([name], length)
            yield queues
        models = health.model_health()
        info = InfoMetricFamily("moderato_model", "Model versions this process scores with (1 per model and version).")
        for model, version in sorted(models.versions.items()):
            info.add_metric([], {"model": model, "version": version})
        yield info
        yield GaugeMetricFamily(
            "moderato_models_degraded",
            "1 when an active model version cannot be loaded and the shipped model stands in for it.",
            value=1 if models.degraded else 0,
        )


def metrics_render(accept: str = "") -> tuple[bytes, str]:
    """Every process's files added up, and the scrape-time numbers: (body, content type).

    The format follows the scraper's Accept header (Prometheus text 0.0.4 by default, OpenMetrics
    on request), as prometheus_client's own HTTP handler does.
    """
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir()))
    registry.register(ScrapeTimeCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; with MODERATO_METRICS_TOKEN set, only for ``Authorization: Bearer <token>``."""
    token = settings.MODERATO_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
    body, content_type = metrics_render(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
