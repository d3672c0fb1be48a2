"""The Celery app, configured from Django settings (``CELERY_*``), and its signal hooks.

The hooks carry the request id into tasks (config/logging.py), count running tasks and forget
ended processes (moderation/metrics.py), and write the worker heartbeat (moderation/health.py).
"""

import gc
import inspect
import logging.config
import os
from typing import Any

from celery import Celery, bootsteps
from celery.contrib.django.task import DjangoTask
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    task_received,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)
from django.db import transaction

from config import logging as moderato_logging
from config import redis_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
redis_broker.install()  # a worker that loses Redis reconnects instead of stopping (config/redis_broker.py)


class OnCommitTask(DjangoTask[Any, Any]):
    """A task whose ``delay_on_commit`` never breaks the request that committed.

    If the broker is unreachable the error is logged by Django and swallowed: the row is
    already stored, and the periodic sweep queues it once the broker is back.
    """

    # None, as in Celery's own DjangoTask.delay_on_commit: celery-types says it returns an AsyncResult.
    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # A named function, not a functools.partial: Django's robust on_commit logs the failing
        # callback by its __qualname__, which a partial does not have.
        def send() -> None:
            self.delay(*args, **kwargs)

        send.__qualname__ = f"{self.name}.delay"
        transaction.on_commit(send, robust=True)


app = Celery("moderato", task_cls=OnCommitTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_without_the_shipped_models(**_: object) -> None:
    """Stop the worker before it takes a task when the shipped models cannot be loaded.

    Celery's Django fixup runs the system checks but ignores their result, and logs and ignores an
    exception raised here: only ``SystemExit`` stops the worker.
    """
    from ml.artifacts import ArtifactError
    from ml.language import detect_language
    from moderation.scoring import shipped_models_load

    try:
        shipped_models_load()
    except (ArtifactError, OSError) as exc:
        logging.getLogger(__name__).critical("the shipped models cannot be loaded, not starting: %s", exc)
        raise SystemExit(1) from exc
    # The language identifier too, here rather than in each pool process: the children inherit it (half
    # a second of CPU saved per child, its arrays shared), and a worker whose heartbeat /healthz sees
    # has children ready to take a task at once, not still loading it (nor slow to stop meanwhile).
    detect_language("Load the language identifier.")
    # Everything loaded so far lives as long as the worker: out of the collector's sight, so that a
    # collection in a child does not write to the pages it shares with this process (copying them).
    gc.collect()
    gc.freeze()
    # Connected here, not at import: Celery's Django fixup connects its own worker_process_init handler in
    # its worker_init handler, which runs before this one, and that handler drops the database
    # connections a child inherits from this process. Loading the models reads the database: before
    # the drop, two children would talk over one inherited PostgreSQL socket and read each other's rows.
    worker_process_init.connect(load_models_in_worker, weak=False, dispatch_uid="moderato-load-models")


def load_models_in_worker(**_: object) -> None:
    """Read the active model versions once per worker process, before the first task needs them (the
    shipped models and the language identifier come loaded from the parent)."""
    from moderation.scoring import get_scorer

    get_scorer()


@setup_logging.connect
def logging_configure(**_: object) -> None:
    """Worker and beat log through Django's LOGGING (the JSON formatter), not Celery's own format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def request_id_stamp(headers: dict[str, Any] | None = None, **_: object) -> None:
    if headers is not None:
        moderato_logging.task_headers_stamp(headers)


_task_contexts: dict[str, tuple[Any, Any]] = {}


def comment_id_of(task: Any, args: Any, kwargs: Any) -> int | None:
    """The task's ``comment_id`` argument, if it has one (every comment task does)."""
    try:
        value = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {})).arguments.get("comment_id")
    except TypeError:
        return None
    return value if isinstance(value, int) else None


@task_received.connect
def scoring_message_taken(request: Any = None, **_: object) -> None:
    """A comment's scoring message reached this worker's main process: record it as the comment's holder
    (``moderation.tasks.comment_score_taken``), so that the message is not lost with a killed worker."""
    from moderation.health import SCORING_TASK

    if request is None or request.name != SCORING_TASK:
        return
    comment_id = comment_id_of(request.task, request.args, request.kwargs)
    if comment_id is not None:
        from moderation.tasks import comment_score_taken

        comment_score_taken(comment_id=comment_id, hostname=request.hostname)


@task_prerun.connect
def database_connections_check(**_: object) -> None:
    """Close a connection that failed in an earlier task or outlived CONN_MAX_AGE, as Django does at
    each request: with CELERY_DB_REUSE_MAX the worker keeps its connection from task to task."""
    from django import db

    if not db.connection.in_atomic_block:
        db.close_old_connections()


@task_prerun.connect
def task_context_enter(task_id: str, task: Any, args: Any = None, kwargs: Any = None, **_: object) -> None:
    from moderation import metrics

    _task_contexts[task_id] = moderato_logging.task_context_enter(
        task_request=task.request, comment=comment_id_of(task, args, kwargs)
    )
    metrics.TASKS_RUNNING.labels(task=task.name).inc()


@task_postrun.connect
def task_context_exit(task_id: str, task: Any, **_: object) -> None:
    from moderation import metrics

    metrics.TASKS_RUNNING.labels(task=task.name).dec()
    tokens = _task_contexts.pop(task_id, None)
    if tokens is not None:
        moderato_logging.task_context_exit(tokens)


@worker_process_shutdown.connect
def metrics_process_forget(pid: int | None = None, **_: object) -> None:
    from moderation import metrics

    metrics.process_dead(pid or os.getpid())


def worker_processes(worker: Any) -> list[int]:
    """The worker's main process and its pool's processes (none yet while the pool starts, or with a
    pool of threads, whose tasks run in the main process)."""
    try:
        pool = list(worker.pool.info.get("processes", []))
    except AttributeError:
        pool = []
    return [os.getpid(), *pool]


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Write this worker's heartbeat row, naming its processes, on start and every
    MODERATO_WORKER_HEARTBEAT_SECONDS.

    It runs on the worker's own timer (the event loop's on Redis, a timer thread on the file
    broker), so a worker whose loop is stuck stops beating. Each beat also forgets the metrics
    of this host's processes that were killed.
    """

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.timer_entry: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings

        from moderation import health

        health.worker_heartbeat_record(hostname=worker.hostname, starting=True, pids=worker_processes(worker))
        self.timer_entry = worker.timer.call_repeatedly(
            settings.MODERATO_WORKER_HEARTBEAT_SECONDS, self.beat, (worker,), priority=10
        )

    def beat(self, worker: Any) -> None:
        from moderation import health, metrics

        health.worker_heartbeat_record(hostname=worker.hostname, pids=worker_processes(worker))
        metrics.dead_processes_forget()

    def stop(self, worker: Any) -> None:
        from moderation import health

        if self.timer_entry is not None:
            self.timer_entry.cancel()
        health.worker_heartbeat_forget(hostname=worker.hostname)


app.steps["worker"].add(WorkerHeartbeat)


class ScoringMessagesDropped(bootsteps.StartStopStep):
    """Each time the worker (re)connects to the broker: Celery has dropped the messages it held unstarted
    with the old connection, so the comments whose scoring messages they were are released for the
    sweep (``moderation.tasks.comment_scores_dropped``); the first start finds none."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, consumer: Any) -> None:
        from moderation.tasks import comment_scores_dropped

        comment_scores_dropped(hostname=consumer.hostname)


app.steps["consumer"].add(ScoringMessagesDropped)
