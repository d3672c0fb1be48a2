"""Shared fixtures: sites and an API client, and a real Celery worker process for integration tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase
from rest_framework.test import APIClient

from comments.models import Site

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def plain_static_storage(settings) -> None:
    """Serve static files without the manifest that only collectstatic writes."""
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }


@pytest.fixture(autouse=True, scope="session")
def fresh_file_cache() -> None:
    """The embedded cache is a folder under var/test that outlives a run: start each run with it empty
    (rate-limit counters of an earlier run would count against this one)."""
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        shutil.rmtree(settings.CACHES["default"]["LOCATION"], ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def own_redis_keys_removed_at_the_end() -> Iterator[None]:
    """At the end of the run, delete every Redis key under the run's prefix (cache, queues, the
    sub-prefixes of the tests' own brokers); nothing else in the database is touched."""
    yield
    if settings.REDIS_URL and settings.REDIS_PREFIX:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match=f"{settings.REDIS_PREFIX}*", count=1000):
            client.delete(key)


def is_deadlock(exc: BaseException | None) -> bool:
    """Whether PostgreSQL chose this error's statement as a deadlock's victim (SQLSTATE 40P01),
    however deep in the exception's chain (``flush`` wraps it in a ``CommandError``)."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) == "40P01":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def flush_retried_on_deadlock(teardown):
    """The session's worker keeps running between the tests that use it (it beats every second and
    scores what a transactional test's POSTs queued), so the ``TRUNCATE`` that empties the tables after
    a ``transaction=True`` test can deadlock with one of its transactions; PostgreSQL then aborts one
    of the two, and when it is the flush, the next test would find the last one's rows. The flush runs
    in one transaction, so it is simply run again."""

    def retried(self) -> None:
        for attempt in range(5):
            try:
                return teardown(self)
            except Exception as exc:
                if attempt == 4 or not is_deadlock(exc):
                    raise
                time.sleep(0.1 * (attempt + 1))

    retried.__wrapped__ = teardown  # type: ignore[attr-defined]
    return retried


if not hasattr(TransactionTestCase._fixture_teardown, "__wrapped__"):
    TransactionTestCase._fixture_teardown = flush_retried_on_deadlock(TransactionTestCase._fixture_teardown)


@pytest.fixture(autouse=True)
def fresh_site_cache() -> Iterator[None]:
    """Sites rolled back with a test's transaction fire no signal: forget them between tests."""
    from comments.services import site_cache_clear

    site_cache_clear()
    yield
    site_cache_clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_submit_rate_limit(settings) -> None:
    """Tests post many comments from one address; the rate limit has tests of its own."""
    settings.MODERATO_SUBMIT_RATE = ""


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def site(db) -> Site:
    return Site.objects.create(name="Daily Planet", public_key="planet", allowed_origins=["https://planet.example"])


def database_url() -> str:
    """The URL of the database the tests use right now (the test database, once it is set up)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a process of ours (worker, gunicorn) that shares the tests' database and broker."""
    return os.environ | {"DATABASE_URL": database_url(), "MODERATO_DATA_DIR": str(settings.DATA_DIR)} | extra


def cache_clear() -> None:
    """Empty this run's cache: on Redis only the keys under the run's prefix (Django's ``cache.clear()``
    is a FLUSHDB, which would empty a database other runs, or a developer's instance, use too)."""
    from django.core.cache import cache

    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        cache.clear()
        return
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    assert prefix, "a test run writes to Redis under a prefix of its own (config.settings)"
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


def purge_broker() -> None:
    """Empty the queues; the scoring drain's wake-up key goes too (the drain it announced is purged)."""
    from django.core.cache import cache

    from config.celery import app
    from moderation.tasks import DRAIN_WAKEUP_KEY

    cache.delete(DRAIN_WAKEUP_KEY)
    if settings.CELERY_BROKER_URL == "filesystem://":
        queue = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        shutil.rmtree(queue, ignore_errors=True)
        queue.mkdir(parents=True)
    else:
        app.control.purge()


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not print {text!r}:\n{log.read_text(errors='replace')[-4000:]}")


def start_process(args: list[str], log: Path, ready: str, **extra_env: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=service_env(**extra_env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_line(log, ready, process)
    except BaseException:  # never leave a process that did not get ready running past its test
        stop_process(process)
        raise
    return process


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop the process and everything it started (``sh -c`` leaves its children otherwise)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the configured broker and the test database."""
    purge_broker()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    args = [str(BIN / "celery"), "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO", "-n", name]
    # A heartbeat a second, so that /healthz sees the worker soon after a test empties the tables.
    process = start_process(args, log, "ready.", MODERATO_WORKER_HEARTBEAT_SECONDS="1")
    process.log_path = log  # type: ignore[attr-defined]  (tests read the worker's log lines)
    yield process
    stop_process(process)


def wait_for_status(comment_id: int, statuses: set[str], timeout: float = 15) -> str:
    from comments.models import Comment

    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = Comment.objects.values_list("status", flat=True).get(pk=comment_id)
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"comment {comment_id} is still {status!r} after {timeout}s")


def moderate_every_site(user):
    """Grant "Can moderate every site" (a moderator on no site's list moderates nothing without it)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="moderate_all_sites"))
    return user
