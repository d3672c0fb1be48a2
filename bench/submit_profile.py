"""CPU cost of one POST /api/v1/comments in-process (no HTTP server), and where it goes.

Runs against the configured database and broker (set DATABASE_URL / REDIS_URL as the instance does;
a site with public key "demo" must exist, e.g. after `make run`):

    MODERATO_SUBMIT_RATE= .venv/bin/python bench/submit_profile.py --requests 200

Prints the wall and CPU time per request (this process's CPU, and the PostgreSQL backend's when the
database is a local PostgreSQL whose /proc this user can read), the statements per request, then the
functions that take the most cumulative time. With the drain awake (``--awake``, as under steady load)
a submission only finds the wake-up key set; without it, each one may queue a drain (a Celery publish).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far (None: not a local PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--site", default="demo")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"), help="the profile's order")
    parser.add_argument("--awake", action="store_true", help="hold the drain's wake-up key, as a running drain does")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from moderation import tasks

    client = Client(HTTP_HOST="127.0.0.1")
    counter = iter(range(10**9))

    def post() -> None:
        body = f'{{"site": "{args.site}", "thread": "/bench/profile", "name": "A", "comment": "hello {next(counter)}"}}'
        response = client.post("/api/v1/comments", body, content_type="application/json")
        if response.status_code != 202:
            raise SystemExit(f"POST answered {response.status_code}: {response.content[:200]!r}")

    def awake() -> None:
        if args.awake:
            cache.set(tasks.DRAIN_WAKEUP_KEY, 1, timeout=600)

    awake()
    for _ in range(20):  # warm up connections and caches
        post()
    backend_before = backend_cpu_seconds()
    wall, cpu = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(args.requests):
            post()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend_after = backend_cpu_seconds()
    per = 1000 / args.requests
    line = f"{wall * per:.2f} ms wall, {cpu * per:.2f} ms CPU per request"
    if backend_before is not None and backend_after is not None:
        line += f" (+ {(backend_after - backend_before) * per:.2f} ms PostgreSQL backend)"
    statements = [q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries]
    print(f"{line}; {len(statements) / args.requests:.1f} statements per request; {args.requests} requests")
    profile = cProfile.Profile(time.process_time)  # CPU, not the waits on the database
    profile.enable()
    for _ in range(args.requests):
        post()
    profile.disable()
    stats = pstats.Stats(profile)
    # Unlike CPU time, the count of Python calls does not move with the machine's load.
    print(f"{stats.total_calls / args.requests:.0f} Python function calls per request")  # type: ignore[attr-defined]
    stats.sort_stats(args.sort).print_stats(args.top)
    if args.awake:
        cache.delete(tasks.DRAIN_WAKEUP_KEY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
