"""Without the shipped model artifacts, no process starts: manage.py, gunicorn and the Celery worker."""

import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, service_env

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], artifacts: Path) -> subprocess.CompletedProcess[str]:
    env = service_env(MODERATO_ARTIFACTS_DIR=str(artifacts))
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "gunicorn"), "config.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
        [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO"],
        [str(BIN / "python"), "manage.py", "check"],
    ],
    ids=["gunicorn", "celery worker", "manage.py"],
)
def test_a_process_refuses_to_start_without_the_shipped_models(tmp_path, command):
    (tmp_path / "toxicity").mkdir()  # an artifacts directory with no version in it
    finished = run(command, tmp_path)
    output = finished.stdout + finished.stderr
    assert finished.returncode != 0, output[-2000:]
    assert "no 'toxicity' model in" in output


ORDER_SCRIPT = """
import weakref
import django
django.setup()
from celery.signals import worker_init, worker_process_init
from config.celery import app
class Worker:
    pass
worker = Worker()
worker.app = app
worker_init.send(sender=worker)
for _, ref in worker_process_init.receivers:
    receiver = ref() if isinstance(ref, weakref.ReferenceType) else ref
    print(getattr(receiver, "__qualname__", repr(receiver)))
"""


def test_a_worker_child_drops_the_inherited_connections_before_it_loads_the_models():
    """Celery's Django fixup drops the database connections a forked child inherits, in a
    worker_process_init handler it connects when the worker starts; the models' loader reads the
    database, so it must run after that handler (before it, two children would share one PostgreSQL
    socket and read each other's rows). A process of its own: the fixup's handlers stay connected."""
    env = service_env(DJANGO_SETTINGS_MODULE="config.settings")
    done = subprocess.run(
        [str(BIN / "python"), "-c", ORDER_SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = done.stdout.split()
    assert names.index("load_models_in_worker") > names.index("DjangoWorkerFixup.on_worker_process_init"), names


def test_a_worker_loads_the_language_identifier_before_its_pool_processes_fork():
    """In the worker's main process, at worker_init: the pool's children inherit it instead of each
    loading it (half a second of CPU each), and are ready to take a task once they have forked."""
    script = ORDER_SCRIPT.split("for _, ref")[0] + "from ml import language\nprint(language._identifier is not None)\n"
    env = service_env(DJANGO_SETTINGS_MODULE="config.settings")
    done = subprocess.run(
        [str(BIN / "python"), "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "True", done.stdout


def test_a_worker_freezes_what_it_loaded_before_its_pool_processes_fork():
    """gc.freeze() at the end of worker_init: the collector of a child no longer writes to the objects it
    inherited (the models, Django, the language identifier), so their pages stay shared, not copied
    (the worker's PSS at a backlog 305 -> 272 MiB, bench/http_bench.py --backlog)."""
    script = ORDER_SCRIPT.split("for _, ref")[0] + "import gc\nprint(gc.get_freeze_count())\n"
    env = service_env(DJANGO_SETTINGS_MODULE="config.settings")
    done = subprocess.run(
        [str(BIN / "python"), "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 100_000, done.stdout  # every object Django and the models made
