"""Is this deployment working? ``/livez`` (the process answers) and ``/healthz`` (everything it needs).

``/healthz`` checks the database (``SELECT 1``), the broker (a Redis ``PING`` with a one-second
timeout, or the file broker's folders), the workers (a ``WorkerHeartbeat`` row newer than four
heartbeats: each worker writes one on start and every ``MODERATO_WORKER_HEARTBEAT_SECONDS``, from
its own timer, which works on both brokers where Celery's remote-control ping does not; it names the
worker's processes, so that the sweep knows which comments a dead process held: ``Workers``), the
scheduler (the pending-comments sweep, which beat starts every ``MODERATO_SWEEP_EVERY_SECONDS``,
ran lately: without it a comment whose task was lost waits forever; reported as degraded, since the
service still takes and decides comments) and the models (loaded, with their versions). It
answers 200 ``{"status": "ok", "checks": {...}}`` (``"degraded"`` when something runs in a lesser
mode), or 503 with ``"status": "failing"`` and the failing checks named; never an error's text,
which can hold host names or user names (the log has it).
"""

from __future__ import annotations

import ast
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from moderation import scoring
from moderation.scoring import ModelHealth

logger = logging.getLogger(__name__)

LIVEZ_PATH = "/livez"


class LivezMiddleware:
    """Answer ``/livez`` before anything else: no database, no broker, no host check, no redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == LIVEZ_PATH:
            return JsonResponse({"status": "ok"})
        return self.get_response(request)


# The models ----------------------------------------------------------------------------------


def model_health() -> ModelHealth:
    """This process's models (``moderation.scoring.model_health``): the one place health and metrics ask."""
    return scoring.model_health()


# The broker ----------------------------------------------------------------------------------


def broker_is_redis() -> bool:
    return urlsplit(settings.CELERY_BROKER_URL).scheme in {"redis", "rediss"}


def broker_folders() -> list[Path]:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return [Path(str(options[key])) for key in ("data_folder_in", "data_folder_out")]


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)


def redis_queue_key(queue: str) -> str:
    """A queue's list in Redis, under the instance's key prefix (MODERATO_REDIS_PREFIX)."""
    return str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")) + queue


def broker_ping() -> None:
    """Raise unless the broker answers: Redis ``PING``, or the file broker's folders are writable."""
    if broker_is_redis():
        redis_client().ping()
    elif settings.CELERY_BROKER_URL == "filesystem://":
        for folder in broker_folders():
            if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
                raise OSError(f"broker folder {folder} is missing or not writable")
    else:  # another kombu transport: connect once, without retrying
        from celery import current_app as app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)


SCORING_TASK = "moderation.tasks.comment_score"


def oldest_queued_comment(queue: str = "celery", look_at: int = 200) -> int | None:
    """The comment whose scoring task is nearest the front of the queue (the next a worker takes among
    them), or None when none of the ``look_at`` oldest messages scores a comment.

    Comments submitted after it have their tasks behind it, still queued: the sweep leaves them alone.
    The file broker orders messages by the millisecond they were queued, in any order within one, so
    the front is approximate there: a comment queued in the same millisecond may be queued once more,
    which the status guard makes harmless.
    """
    raw_messages: list[bytes] = []
    if broker_is_redis():  # kombu pushes on the left and workers pop on the right: the oldest last
        raw_messages = list(reversed(redis_client().lrange(redis_queue_key(queue), -look_at, -1)))
    elif settings.CELERY_BROKER_URL == "filesystem://":  # names start with the time they were queued
        folder = broker_folders()[0]
        names = sorted(name for name in os.listdir(folder) if name.endswith(f".{queue}.msg"))[:look_at]
        for name in names:
            try:
                raw_messages.append((folder / name).read_bytes())
            except FileNotFoundError:  # a worker took it meanwhile
                continue
    for raw in raw_messages:
        try:
            headers = json.loads(raw).get("headers", {})
            if headers.get("task") == SCORING_TASK:
                return int(ast.literal_eval(headers["argsrepr"])[0])
        except (ValueError, KeyError, IndexError, TypeError, SyntaxError):
            continue
    return None


def broker_queue_length(queue: str = "celery") -> int:
    """Messages waiting in the broker's queue (not yet taken by a worker)."""
    if broker_is_redis():
        return int(redis_client().llen(redis_queue_key(queue)))
    if settings.CELERY_BROKER_URL == "filesystem://":
        folder = broker_folders()[0]
        with os.scandir(folder) as entries:
            return sum(1 for entry in entries if entry.name.endswith(f".{queue}.msg"))
    raise NotImplementedError(f"no cheap queue length for {urlsplit(settings.CELERY_BROKER_URL).scheme}")


# The workers' heartbeat ----------------------------------------------------------------------


def worker_stale_after() -> timedelta:
    return timedelta(seconds=4 * settings.MODERATO_WORKER_HEARTBEAT_SECONDS)


@dataclass(frozen=True)
class Workers:
    """The workers' processes as their latest heartbeats name them (``workers_now``)."""

    beats: dict[str, tuple[datetime, frozenset[int]]]  # node name -> (last beat, its processes then)
    stale_before: datetime

    def holding(self, *, hostname: str, pid: int | None, since: datetime | None) -> bool:
        """Whether the process can still be at the work it took ``since``: its worker beat lately, and
        named the process at its last beat, or has not beaten since (a process newer than the beat).

        A worker killed and started again beats at once without the old processes; a pool child killed
        and replaced is missing from the next beat; a worker that stays away stops beating.
        """
        beat = self.beats.get(hostname)
        if beat is None or beat[0] < self.stale_before:
            return False
        seen_at, pids = beat
        return pid in pids or (since is not None and since >= seen_at)


def workers_now() -> Workers:
    from moderation.models import WorkerHeartbeat

    beats = {
        hostname: (seen_at, frozenset(pids or ()))
        for hostname, seen_at, pids in WorkerHeartbeat.objects.exclude(hostname=SCHEDULER_ROW).values_list(
            "hostname", "seen_at", "pids"
        )
    }
    return Workers(beats=beats, stale_before=timezone.now() - worker_stale_after())


def connection_refresh() -> None:
    """Drop a dead or expired connection first: the heartbeat runs on a timer, outside any request."""
    if not connection.in_atomic_block:
        close_old_connections()


def worker_heartbeat_record(*, hostname: str, starting: bool = False, pids: Sequence[int] = ()) -> None:
    """Write this worker's heartbeat, with its processes (``pids``: the main one and its pool's); never
    raises (a worker must not die of a database blip)."""
    from moderation.models import WorkerHeartbeat

    now = timezone.now()
    try:
        connection_refresh()
        if starting:
            # Forget workers gone for a day (renamed, scaled down), so the table stays small.
            WorkerHeartbeat.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
            WorkerHeartbeat.objects.update_or_create(
                hostname=hostname, defaults={"started_at": now, "seen_at": now, "pids": list(pids)}
            )
        elif not WorkerHeartbeat.objects.filter(hostname=hostname).update(seen_at=now, pids=list(pids)):
            WorkerHeartbeat.objects.create(hostname=hostname, started_at=now, seen_at=now, pids=list(pids))
    except DatabaseError:
        logger.warning("worker heartbeat of %s not written", hostname, exc_info=True)


def worker_heartbeat_forget(*, hostname: str) -> None:
    """A worker shutting down: remove its row so /healthz does not count it for minutes more."""
    from moderation.models import WorkerHeartbeat

    try:
        connection_refresh()
        WorkerHeartbeat.objects.filter(hostname=hostname).delete()
    except DatabaseError:
        logger.warning("worker heartbeat of %s not removed", hostname, exc_info=True)


def workers_heard_from() -> tuple[int, float | None]:
    """(workers heard from recently, seconds since the most recent heartbeat, None if never)."""
    from django.db.models import Max

    from moderation.models import WorkerHeartbeat

    now = timezone.now()
    workers = WorkerHeartbeat.objects.exclude(hostname=SCHEDULER_ROW)
    recent = workers.filter(seen_at__gte=now - worker_stale_after()).count()
    latest = workers.aggregate(latest=Max("seen_at"))["latest"]
    return recent, (now - latest).total_seconds() if latest else None


# The sweep's own heartbeat row: it runs only when beat schedules it and a worker takes it.
SCHEDULER_ROW = "scheduler:pending-comments-sweep"


def sweep_ran_record() -> None:
    """The pending-comments sweep ran now; never raises."""
    worker_heartbeat_record(hostname=SCHEDULER_ROW)


def sweep_stale_after() -> timedelta:
    return timedelta(seconds=max(4 * settings.MODERATO_SWEEP_EVERY_SECONDS, 60))


def sweep_last_ran() -> float | None:
    """Seconds since the sweep last ran, None if never."""
    from moderation.models import WorkerHeartbeat

    seen = WorkerHeartbeat.objects.filter(hostname=SCHEDULER_ROW).values_list("seen_at", flat=True).first()
    return (timezone.now() - seen).total_seconds() if seen else None


# The checks ----------------------------------------------------------------------------------


def database_check() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


def broker_check() -> dict[str, Any]:
    broker_ping()
    return {"ok": True, "transport": urlsplit(settings.CELERY_BROKER_URL).scheme}


def workers_check() -> dict[str, Any]:
    recent, age = workers_heard_from()
    result: dict[str, Any] = {"ok": recent > 0, "heard_from": recent}
    result["last_heartbeat_seconds_ago"] = round(age, 1) if age is not None else None
    return result


def scheduler_check() -> dict[str, Any]:
    """Degraded (200) when the sweep has not run lately: beat down, or no worker takes housekeeping."""
    age = sweep_last_ran()
    result: dict[str, Any] = {"ok": True, "last_sweep_seconds_ago": round(age, 1) if age is not None else None}
    if age is None or age > sweep_stale_after().total_seconds():
        result["degraded"] = True
    return result


def models_check() -> dict[str, Any]:
    """Failing when the shipped models cannot be loaded; degraded (still 200) when an active version
    cannot be and the shipped model stands in for it."""
    models = model_health()
    return models.as_json() | {"ok": bool(models.versions)}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": database_check,
    "broker": broker_check,
    "workers": workers_check,
    "scheduler": scheduler_check,
    "models": models_check,
}


def health_report() -> dict[str, Any]:
    """Run every check; a check that raises fails with the exception's class name only."""
    checks: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as exc:  # any failure is the answer, not an error of the endpoint
            logger.warning("health check %s failed", name, exc_info=True)
            checks[name] = {"ok": False, "error": type(exc).__name__}
    failing = [name for name, result in checks.items() if not result["ok"]]
    degraded = any(result.get("degraded") for result in checks.values())
    report: dict[str, Any] = {"status": "failing" if failing else "degraded" if degraded else "ok", "checks": checks}
    if failing:
        report["failing"] = failing
    return report


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the broker, a worker and the models answer; else 503 naming the failing parts."""
    report = health_report()
    return JsonResponse(report, status=503 if "failing" in report else 200)
