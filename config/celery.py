"""The Celery app, configured from Django settings (``CELERY_*``)."""

import logging
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_init, worker_process_init
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class OnCommitTask(DjangoTask):
    """A task whose ``delay_on_commit`` never breaks the request that committed.

    If the broker is unreachable the error is logged by Django and swallowed: the row is
    already stored, and the periodic sweep queues it once the broker is back.
    """

    def delay_on_commit(self, *args, **kwargs) -> None:
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
    from moderation.scoring import shipped_models_load

    try:
        shipped_models_load()
    except (ArtifactError, OSError) as exc:
        logging.getLogger(__name__).critical("the shipped models cannot be loaded, not starting: %s", exc)
        raise SystemExit(1) from exc


@worker_process_init.connect
def load_models_in_worker(**_: object) -> None:
    """Load the models once per worker process, before the first task needs them."""
    from moderation.scoring import get_scorer

    get_scorer()
