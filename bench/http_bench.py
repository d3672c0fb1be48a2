"""Moderato against Isso over HTTP on this machine: throughput, latency, CPU, queries and decisions.

    .venv/bin/python bench/http_bench.py --quick               # smoke run: one short round of every server
    .venv/bin/python bench/http_bench.py                       # 3 interleaved rounds of 15 s, wrk -t2 -c16
    .venv/bin/python bench/http_bench.py --backlog 2000        # one worker process drains 2,000 pending comments

Everything runs in a temporary directory on free ports: Isso (installed once into a virtualenv of its
own, ``var/bench/isso-venv``, with the gunicorn version of this project's virtualenv), started as its
docs give it (``gunicorn -w 5 --preload isso.run``, SQLite, guard and moderation off); a PostgreSQL
cluster (initdb) and a redis-server of the bench's own, never the shared ones; and Moderato three ways:

- ``moderato-pg``: docker-compose.yml's web (migrate, gunicorn 2 workers x 4 threads), worker
  (``--concurrency=2``) and beat commands with compose's environment, on PostgreSQL + Redis;
- ``moderato-pg-web``: the same web tier alone, on a database of its own, no worker;
- ``moderato-embedded``: what ``make run`` runs (``python -m config.supervise``: gunicorn 2x4, a worker
  with 2 processes and beat; SQLite and the file-system broker).

The per-address submission limit is off (``MODERATO_SUBMIT_RATE=``), as Isso's guard is. Each round
starts every server in turn (Isso, then each Moderato) and stops it afterwards, so that no idle server
takes CPU from the measured one: a warm-up, a POST round, the wait for the worker's decisions, a GET
round. The load generator is wrk with one Lua script for both servers (unique bodies: Isso's
``POST /new?uri=`` with text and author, Moderato's ``POST /api/v1/comments``; GET a page of 20 top-level
comments of a thread seeded with 25 published ones). CPU is read from /proc (utime + stime of each
server's process tree, reaped children included) before and after each round: "web" is the HTTP
server's tree, "all" adds the worker, beat, PostgreSQL and Redis and, for a POST round with a worker,
runs until every comment of the round is decided, so it is the whole cost of a comment. Queries per
POST are counted in-process (django.test.Client on the same database and broker, connection.queries),
submit-to-decision comes from the database (decided_at - created_at; a comment still pending when the
drain gives up counts as never decided).

``--backlog N`` posts N comments with no worker running (through the API: each one queued as in
production), then starts ONE worker process (``--concurrency=1``, no beat) and prints the comments
decided per second and the worker's peak memory (the sum over its main process and its pool child).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import http.client  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import pwd  # noqa: E402
import secrets  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

from bench.chaos import (  # noqa: E402
    BIN,
    COMPOSE,
    Service,
    children,
    compose_env,
    find_postgres_bin,
    free_port,
    native,
    percentile,
    wait_until,
)

COMPOSE_WEB_SHAPE = "--workers 2 --threads 4"  # gunicorn's shape in docker-compose.yml (--web-args replaces it)

ISSO_VERSION = "0.14.0"
SITE = "bench"
PAGE = "/bench/page"  # the seeded thread the GET rounds read
SEED = 25  # published top-level comments on it; a page is 20
CLEAN = [
    "Thanks for the article, I learned a lot about the new bridge",
    "I disagree with the council here, the parking plan makes no sense",
    "Great reporting, please follow up on the budget next month",
    "The photos of the harbour at dawn are lovely, who took them",
    "My grandmother used to run the bakery on that street, good memories",
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# One script for both servers: a POST of a unique comment, or a GET of the seeded page. Each of wrk's
# threads has a Lua state of its own; setup() numbers them so that bodies stay unique across threads.
WRK_SCRIPT = r"""
local server = os.getenv("BENCH_SERVER")
local mode = os.getenv("BENCH_MODE")
local run = os.getenv("BENCH_RUN")
local site = os.getenv("BENCH_SITE")
local texts = {
  "Thanks for the article, I learned a lot about the new bridge",
  "I disagree with the council here, the parking plan makes no sense",
  "Great reporting, please follow up on the budget next month",
  "The photos of the harbour at dawn are lovely, who took them",
  "My grandmother used to run the bakery on that street, good memories",
}
local numbered = 0
function setup(thread)
  numbered = numbered + 1
  thread:set("tid", numbered)
end

wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Forwarded-Proto"] = "https"  -- as the TLS-terminating proxy in front of compose sends it
local n = 0

if mode == "post" then
  request = function()
    n = n + 1
    local page = "/bench/" .. run .. "/" .. (n % 50)
    local text = texts[n % #texts + 1] .. " (" .. run .. "-" .. tid .. "-" .. n .. ")"
    local name = "Reader " .. tid .. "-" .. n
    if server == "isso" then
      local body = '{"text": "' .. text .. '", "author": "' .. name .. '", "title": "Bench page"}'
      return wrk.format("POST", "/new?uri=" .. page, nil, body)
    end
    local body = '{"site": "' .. site .. '", "thread": "' .. page .. '", "name": "' .. name
      .. '", "comment": "' .. text .. '"}'
    return wrk.format("POST", "/api/v1/comments", nil, body)
  end
elseif server == "isso" then
  wrk.path = "/?uri=/bench/page&limit=20"
else
  wrk.path = "/api/v1/comments?site=" .. site .. "&thread=/bench/page&page_size=20"
end

done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "status_errors": %d, "other_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

ISSO_CFG = """\
[general]
dbpath = {dbpath}
host = http://127.0.0.1:{port}/
[moderation]
enabled = false
[admin]
enabled = false
[server]
listen = http://127.0.0.1:{port}/
[guard]
enabled = false
ratelimit = 0
direct-reply = 1000
"""


# Processes and /proc --------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if Path(f"/proc/{current}").exists():
            found.append(current)
            todo += children(current)
    return found


def proc_stat(pid: int) -> list[str] | None:
    try:
        # After the command name in parentheses (which may hold spaces): field 3 (state) onwards.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(roots: Iterable[int]) -> float:
    """utime + stime of every process in the trees, with the reaped children's (cutime + cstime), so that a
    process that exited between two readings (a PostgreSQL backend) is still counted, by its parent."""
    ticks = 0
    for root in roots:
        for pid in process_tree(root):
            fields = proc_stat(pid)
            if fields:
                ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def memory_kib(roots: Iterable[int]) -> tuple[int, int]:
    """The summed RSS and PSS (shared pages divided among their sharers) of the trees, in KiB."""
    rss = pss = 0
    for root in roots:
        for pid in process_tree(root):
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith(("Rss:", "Pss:")):
                        value = int(line.split()[1])
                        rss, pss = (rss + value, pss) if line.startswith("Rss:") else (rss, pss + value)
    return rss, pss


def strays(marker: str) -> list[tuple[int, str]]:
    """Processes whose command line or environment mentions ``marker`` (the bench's temporary directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
            if marker in command or marker in environ:
                found.append((int(entry.name), command[:120]))
    return found


def http_request(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def answers(port: int, path: str) -> bool:
    return http_request(port, "GET", path)[0] < 500


def base_env() -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"}}
    return kept | {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}


# Shared services: PostgreSQL and Redis of the bench's own ----------------------------------------


class Backing:
    """A PostgreSQL cluster and a redis-server, started once and shared by the Moderato variants in turn."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg_port, self.redis_port = free_port(), free_port()
        self.postgres: Service | None = None
        self.redis: Service | None = None

    def start(self) -> None:
        data = self.root / "pg"
        data.mkdir()
        extra: dict[str, Any] = {}
        # initdb refuses root: the cluster then belongs to postgres (or nobody).
        user = next((u for u in ("postgres", "nobody") if os.geteuid() == 0 and user_exists(u)), None)
        if user:
            entry = pwd.getpwnam(user)
            os.chown(data, entry.pw_uid, entry.pw_gid)
            extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        initdb = [find_postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run([*initdb, "--locale=C", "--no-sync"], check=True, capture_output=True, cwd="/", **extra)
        args = [find_postgres_bin("postgres"), "-D", str(data), "-p", str(self.pg_port)]
        args += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"]
        self.postgres = Service("postgres", args, {"PATH": "/usr/bin:/bin"}, self.root / "logs", user=user)
        self.postgres.start()
        wait_until(lambda: bool(self.pg_connect("postgres").close() or True), 60, "PostgreSQL start")

        redis_dir = self.root / "redis"
        redis_dir.mkdir()
        args = ["redis-server", *COMPOSE["services"]["redis"]["command"][1:]]  # --appendonly yes
        args += ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(redis_dir)]
        self.redis = Service("redis", args, {"PATH": "/usr/bin:/bin"}, self.root / "logs")
        self.redis.start()
        wait_until(lambda: self.redis_ping(), 30, "Redis start")

    def pg_connect(self, dbname: str) -> Any:
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 port={self.pg_port} user=postgres dbname={dbname}", autocommit=True)

    def settle(self, bound: float = 60) -> float:
        """Before a server's round: a CHECKPOINT, then wait for autovacuum to finish, so that the writes
        of the round before (thousands of comments inserted and decided) are not flushed or vacuumed
        during this one; return the seconds it took."""
        started = time.monotonic()
        with self.pg_connect("postgres") as conn:
            conn.execute("CHECKPOINT")
            while time.monotonic() - started < bound:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                ).fetchone()
                if not row or not row[0]:
                    break
                time.sleep(0.5)
        return time.monotonic() - started

    def redis_ping(self) -> bool:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=1).ping())

    def create_database(self, name: str) -> str:
        with self.pg_connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{name}"

    @property
    def pids(self) -> list[int]:
        return [s.pid for s in (self.postgres, self.redis) if s is not None and s.process is not None]

    def stop(self) -> None:
        for service, sig in ((self.redis, signal.SIGTERM), (self.postgres, signal.SIGINT)):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop(sig)


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# The servers ------------------------------------------------------------------------------------


class Server:
    """One server under test: set up once, then started and stopped around each of its rounds."""

    name = ""
    kind = ""  # "isso" or "moderato"
    has_worker = False
    port = 0
    services: list[Service]

    def setup(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for service in reversed(self.services):
            with contextlib.suppress(Exception):
                service.stop()
        self.services = []

    def web_pids(self) -> list[int]:
        return [self.services[0].pid]

    def all_pids(self) -> list[int]:
        return [s.pid for s in self.services]

    # Moderato only
    def max_id(self) -> int:
        raise NotImplementedError

    def rows_after(self, after_id: int) -> list[tuple[float, float | None]]:
        """(created, decided or None) of the comments with an id above ``after_id``, in epoch seconds."""
        raise NotImplementedError

    def pending_after(self, after_id: int) -> int:
        raise NotImplementedError


class Isso(Server):
    name, kind = "isso", "isso"

    def __init__(self, root: Path, venv: Path) -> None:
        self.root, self.venv = root / "isso", venv
        self.root.mkdir()
        self.port = free_port()
        self.services = []
        self.config = self.root / "isso.cfg"
        self.config.write_text(ISSO_CFG.format(dbpath=self.root / "comments.db", port=self.port))

    def setup(self) -> None:
        self.start()
        for n in range(SEED):
            body = {"text": f"{CLEAN[n % len(CLEAN)]} (seed {n})", "author": f"Seed {n}", "title": "Bench page"}
            status, content = http_request(self.port, "POST", f"/new?uri={PAGE}", body)
            if status != 201:
                raise RuntimeError(f"Isso answered {status} to a seed comment: {content[:300]!r}")
        status, content = http_request(self.port, "GET", f"/?uri={PAGE}&limit=20")
        shown = len(json.loads(content)["replies"])
        if status != 200 or shown != 20:
            raise RuntimeError(f"Isso's seeded page: {status}, {shown} comments")
        self.stop()

    def start(self) -> None:
        # Isso's docs: gunicorn -b host:port -w 4 --preload isso.run, with ISSO_SETTINGS; 5 workers here.
        args = [str(self.venv / "bin" / "gunicorn"), "-b", f"127.0.0.1:{self.port}", "-w", "5", "--preload"]
        env = base_env() | {"ISSO_SETTINGS": str(self.config), "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin"}
        service = Service("isso", [*args, "isso.run"], env, self.root.parent / "logs")
        service.start()
        self.services = [service]
        wait_until(lambda: answers(self.port, f"/?uri={PAGE}"), 60, "Isso start")


class ModeratoCompose(Server):
    """docker-compose.yml's web (and worker and beat) commands and environment, on the bench's PostgreSQL."""

    kind = "moderato"

    web_args = ""  # e.g. "--workers 3 --threads 1" in place of COMPOSE_WEB_SHAPE (--web-args)

    def __init__(self, root: Path, backing: Backing, *, name: str, database: str, redis_db: int, worker: bool):
        self.name, self.backing, self.has_worker = name, backing, worker
        self.root = root / name
        self.root.mkdir()
        self.database = database
        self.port = free_port()
        self.services = []
        self.database_url = ""
        self.env = base_env() | compose_env({"SECRET_KEY": secrets.token_urlsafe(50)})
        self.env |= {
            "REDIS_URL": f"redis://127.0.0.1:{backing.redis_port}/{redis_db}",
            "MODERATO_METRICS_DIR": str(self.root / "metrics"),  # compose's shared metrics volume
            "MODERATO_SUBMIT_RATE": "",  # the per-address limit off, as Isso's guard is
        }

    def env_for(self, service: str) -> dict[str, str]:
        var = self.root / f"{service}-var"  # each container has a /app/var of its own
        var.mkdir(exist_ok=True)
        return self.env | {"MODERATO_DATA_DIR": str(var), "PORT": str(self.port)}

    def setup(self) -> None:
        self.database_url = self.backing.create_database(self.database)
        self.env["DATABASE_URL"] = self.database_url
        env = self.env_for("setup")
        migrate(env)
        self.figures = django_helper(env)

    def start(self) -> None:
        logs = self.root.parent / "logs"
        command = native(COMPOSE["services"]["web"]["command"])
        if self.web_args:  # another gunicorn shape than compose's
            if not any(COMPOSE_WEB_SHAPE in part for part in command):
                raise RuntimeError(f"docker-compose.yml's web command no longer says {COMPOSE_WEB_SHAPE!r}")
            command = [part.replace(COMPOSE_WEB_SHAPE, self.web_args) for part in command]
        web = Service(f"{self.name}-web", command, self.env_for("web"), logs)
        web.ready_text = "Booting worker"
        self.services = [web]
        web.start()
        if self.has_worker:
            worker = Service(
                f"{self.name}-worker", native(COMPOSE["services"]["worker"]["command"]), self.env_for("worker"), logs
            )
            worker.ready_text = "ready."
            schedule = str(self.root / "beat-var" / "celerybeat-schedule")
            command = [
                a.replace("/app/var/celerybeat-schedule", schedule) for a in COMPOSE["services"]["beat"]["command"]
            ]
            beat = Service(f"{self.name}-beat", native(command), self.env_for("beat"), logs, ready_text="Starting")
            self.services += [worker, beat]
            worker.start()
            beat.start()
        for service in self.services:
            service.wait_ready(timeout=120)
        wait_until(lambda: answers(self.port, "/livez"), 60, f"{self.name} /livez")

    def all_pids(self) -> list[int]:
        return [*super().all_pids(), *self.backing.pids]

    def max_id(self) -> int:
        with self.backing.pg_connect(self.database) as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM comments_comment").fetchone()[0])

    def rows_after(self, after_id: int) -> list[tuple[float, float | None]]:
        with self.backing.pg_connect(self.database) as conn:
            rows = conn.execute(
                "SELECT created_at, decided_at FROM comments_comment WHERE id > %s", (after_id,)
            ).fetchall()
        return [(created.timestamp(), decided.timestamp() if decided else None) for created, decided in rows]

    def pending_after(self, after_id: int) -> int:
        with self.backing.pg_connect(self.database) as conn:
            query = "SELECT count(*) FROM comments_comment WHERE status = 'pending' AND id > %s"
            return int(conn.execute(query, (after_id,)).fetchone()[0])


class ModeratoEmbedded(Server):
    """What ``make run`` runs: config/supervise.py's gunicorn 2x4, worker (2 processes) and beat, SQLite and
    the file-system broker in a data directory of its own."""

    name, kind, has_worker = "moderato-embedded", "moderato", True

    def __init__(self, root: Path) -> None:
        self.root = root / self.name
        self.root.mkdir()
        self.port = free_port()
        self.services = []
        self.env = base_env() | {"MODERATO_DATA_DIR": str(self.root / "var"), "MODERATO_SUBMIT_RATE": ""}
        self.sqlite = self.root / "var" / "moderato.sqlite3"

    def setup(self) -> None:
        migrate(self.env)
        self.figures = django_helper(self.env)

    def start(self) -> None:
        args = [sys.executable, "-m", "config.supervise", "--bind", f"127.0.0.1:{self.port}"]
        args += ["--web-workers", "2", "--threads", "4", "--concurrency", "2"]  # the Makefile's
        service = Service(self.name, args, self.env, self.root.parent / "logs")
        self.services = [service]
        service.start()
        wait_until(lambda: answers(self.port, "/livez"), 120, f"{self.name} /livez")
        service.ready_text = "ready."  # the Celery worker's line, prefixed by the supervisor
        service.wait_ready(timeout=120)

    def web_pids(self) -> list[int]:
        return [pid for pid in children(self.services[0].pid) if "gunicorn" in _cmdline(pid)]

    def max_id(self) -> int:
        with contextlib.closing(sqlite3.connect(self.sqlite, timeout=20)) as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM comments_comment").fetchone()[0])

    def rows_after(self, after_id: int) -> list[tuple[float, float | None]]:
        with contextlib.closing(sqlite3.connect(self.sqlite, timeout=20)) as conn:
            rows = conn.execute("SELECT created_at, decided_at FROM comments_comment WHERE id > ?", (after_id,))
            return [(_sqlite_time(created), _sqlite_time(decided) if decided else None) for created, decided in rows]

    def pending_after(self, after_id: int) -> int:
        with contextlib.closing(sqlite3.connect(self.sqlite, timeout=20)) as conn:
            query = "SELECT count(*) FROM comments_comment WHERE status = 'pending' AND id > ?"
            return int(conn.execute(query, (after_id,)).fetchone()[0])


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def _sqlite_time(value: str) -> float:
    moment = datetime.fromisoformat(value)  # Django stores UTC, naive, in SQLite
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# Inside Moderato: site, seed, queries per POST ----------------------------------------------------


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"migrate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def django_helper(env: dict[str, str]) -> dict[str, Any]:
    """Run ``bench/http_bench.py _django`` with a server's environment; return what it prints."""
    done = subprocess.run(
        [sys.executable, __file__, "_django"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"the Django helper failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def django_main(queries_posts: int = 50) -> None:
    """Create the site and a moderator; seed the GET page through the API (published by the moderator, as
    the web-only server has no worker); count the queries of ``queries_posts`` POSTs in-process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from comments.models import Comment, Site
    from moderation.models import ModerationAction
    from moderation.services import comment_moderate

    Site.objects.get_or_create(public_key=SITE, defaults={"name": "Bench"})
    user = get_user_model().objects.create_superuser("bench", "bench@example.org", secrets.token_urlsafe(16))
    client = Client(HTTP_HOST="127.0.0.1")

    def post(thread: str, n: int, text: str) -> None:
        body = {"site": SITE, "thread": thread, "name": f"Seed {n}", "comment": text}
        response = client.post("/api/v1/comments", body, content_type="application/json", secure=True)
        if response.status_code != 202:
            raise SystemExit(f"POST answered {response.status_code}: {response.content[:300]!r}")

    for n in range(SEED):
        post(PAGE, n, f"{CLEAN[n % len(CLEAN)]} (seed {n})")
    for pk in Comment.objects.filter(thread__key=PAGE).exclude(status=Comment.Status.PUBLISHED).values_list("pk"):
        comment_moderate(comment_id=pk[0], actor=user, action=ModerationAction.APPROVE)
    page = client.get(f"/api/v1/comments?site={SITE}&thread={PAGE}&page_size=20", secure=True).json()
    if len(page["results"]) != 20:
        raise SystemExit(f"the seeded page lists {len(page['results'])} comments")

    for n in range(5):  # connections, caches, imports
        post("/bench/queries", n, f"{CLEAN[n % len(CLEAN)]} (warm-up {n})")
    with CaptureQueriesContext(connection) as captured:
        for n in range(queries_posts):
            post("/bench/queries", n, f"{CLEAN[n % len(CLEAN)]} (queries {n})")
    verbs: dict[str, int] = {}
    for query in captured.captured_queries:
        verb = query["sql"].split(None, 1)[0].upper()
        verbs[verb] = verbs.get(verb, 0) + 1
    print(
        json.dumps(
            {
                "queries_per_post": len(captured.captured_queries) / queries_posts,
                "by_statement": {verb: round(count / queries_posts, 2) for verb, count in sorted(verbs.items())},
                "vendor": connection.vendor,
            }
        )
    )


# The load ---------------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    status_errors: int
    other_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return (self.requests - self.status_errors) / self.seconds


def wrk(server: Server, *, mode: str, seconds: float, threads: int, connections: int, run: str, script: Path) -> Load:
    env = os.environ | {"BENCH_SERVER": server.kind, "BENCH_MODE": mode, "BENCH_RUN": run, "BENCH_SITE": SITE}
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script)]
    done = subprocess.run(
        [*args, f"http://127.0.0.1:{server.port}/"], env=env, capture_output=True, text=True, check=True
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len("BENCH ") :])
    return Load(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        status_errors=raw["status_errors"],
        other_errors=raw["other_errors"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")


def ensure_isso(venv: Path, version: str) -> str:
    """Isso and gunicorn (this project's version of it) in a virtualenv of their own; return Isso's version."""
    python = venv / "bin" / "python"
    gunicorn = importlib.metadata.version("gunicorn")

    def installed() -> str:
        probe = "import importlib.metadata as m; print(m.version('isso'), m.version('gunicorn'))"
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    if not python.exists():
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    if installed() != f"{version} {gunicorn}":
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, f"isso=={version}", f"gunicorn=={gunicorn}"], check=True, capture_output=True)
    return installed()


# Rounds -----------------------------------------------------------------------------------------


@dataclass
class Measure:
    server: str
    round: int
    mode: str  # post or get
    load: Load
    web_cpu_ms: float  # per request, the HTTP server's tree
    all_cpu_ms: float  # per request, every process of the server (see the module docstring)
    submitted: int = 0
    decided_soon: int = 0  # within --decide-wait of the round's end
    decide_p50_ms: float | None = None
    decide_p99_ms: float | None = None
    drained_s: float | None = None  # from the end of the round until every comment was decided
    decisions_per_s: float | None = None  # the round's comments over first submission .. last decision


@dataclass
class Options:
    seconds: float
    warmup: float
    threads: int
    connections: int
    decide_wait: float
    drain: float
    script: Path
    log: Callable[[str], None]
    settle: Callable[[], float] = lambda: 0.0
    measures: list[Measure] = field(default_factory=list)


def wait_drained(server: Server, after_id: int, bound: float) -> tuple[bool, float]:
    started = time.monotonic()
    while time.monotonic() - started < bound:
        if not server.pending_after(after_id):
            return True, time.monotonic() - started
        time.sleep(0.25)
    return False, time.monotonic() - started


def run_server_round(server: Server, number: int, options: Options) -> None:
    log, tag = options.log, f"{number}{secrets.token_hex(2)}"
    load_args = {"threads": options.threads, "connections": options.connections, "script": options.script}
    log(f"  {server.name}: PostgreSQL's checkpoint and autovacuum done after {options.settle():.1f} s")
    server.start()
    try:
        wrk(server, mode="post", seconds=options.warmup, run=f"w{tag}", **load_args)
        wrk(server, mode="get", seconds=options.warmup, run=f"w{tag}", **load_args)
        if server.has_worker:  # start from an empty queue: the warm-up's comments and any left before
            wait_drained(server, 0, options.drain)

        first_id = server.max_id() if server.kind == "moderato" else 0
        web0, all0 = cpu_seconds(server.web_pids()), cpu_seconds(server.all_pids())
        load = wrk(server, mode="post", seconds=options.seconds, run=tag, **load_args)
        web1, all1 = cpu_seconds(server.web_pids()), cpu_seconds(server.all_pids())
        ended = time.time()
        measure = Measure(
            server.name,
            number,
            "post",
            load,
            (web1 - web0) / load.requests * 1000,
            (all1 - all0) / load.requests * 1000,
        )
        if server.has_worker:
            time.sleep(max(0.0, ended + options.decide_wait - time.time()))
            rows = server.rows_after(first_id)
            measure.submitted = len(rows)
            measure.decided_soon = sum(
                1 for _, decided in rows if decided is not None and decided <= ended + options.decide_wait
            )
            drained, waited = wait_drained(server, first_id, options.drain)
            all2 = cpu_seconds(server.all_pids())
            rows = server.rows_after(first_id)
            measure.all_cpu_ms = (all2 - all0) / max(len(rows), 1) * 1000
            delays = [(decided - created) * 1000 if decided else float("inf") for created, decided in rows]
            measure.decide_p50_ms, measure.decide_p99_ms = percentile(delays, 50), percentile(delays, 99)
            measure.drained_s = (time.time() - ended) if drained else None
            decided_at = [decided for _, decided in rows if decided]
            if decided_at:
                span = max(decided_at) - min(created for created, _ in rows)
                measure.decisions_per_s = len(decided_at) / span
            log(
                f"  {server.name} POST: {load.rate:.0f}/s, {measure.submitted} stored, "
                f"{measure.decided_soon} decided within {options.decide_wait:g} s, all decided after "
                f"{f'{measure.drained_s:.0f} s' if drained else f'more than {waited:.0f} s'}"
            )
        else:
            log(f"  {server.name} POST: {load.rate:.0f}/s")
        options.measures.append(measure)

        web0, all0 = cpu_seconds(server.web_pids()), cpu_seconds(server.all_pids())
        load = wrk(server, mode="get", seconds=options.seconds, run=tag, **load_args)
        web1, all1 = cpu_seconds(server.web_pids()), cpu_seconds(server.all_pids())
        options.measures.append(
            Measure(
                server.name,
                number,
                "get",
                load,
                (web1 - web0) / load.requests * 1000,
                (all1 - all0) / load.requests * 1000,
            )
        )
        log(f"  {server.name} GET: {load.rate:.0f}/s")
    finally:
        server.stop()


# The report -------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return "never"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def report(measures: list[Measure], servers: list[Server]) -> str:
    lines = []
    rounds = sorted({m.round for m in measures})
    for mode, title in (("post", "POST a comment"), ("get", "GET a page of 20 top-level comments")):
        isso = {m.round: m.load.rate for m in measures if m.server == "isso" and m.mode == mode}
        lines += [f"\n### {title}\n"]
        head = " | ".join(f"round {r} req/s" for r in rounds)
        lines += [
            f"| server | {head} | median req/s | x Isso (median; per round) | p50 / p99 ms "
            "| CPU ms/req web / all | errors: status / socket |"
        ]
        lines += ["|---|" + "---:|" * (len(rounds) + 5)]
        for server in servers:
            mine = [m for m in measures if m.server == server.name and m.mode == mode]
            if not mine:
                continue
            by_round = {m.round: m for m in mine}
            rates = [m.load.rate for m in mine]
            per_round = [by_round[r].load.rate / isso[r] for r in rounds if r in by_round and isso.get(r)]
            ratio = (
                f"{median(rates) / median(list(isso.values())):.2f} ({', '.join(f'{x:.2f}' for x in per_round)})"
                if isso and server.name != "isso"
                else ("1" if server.name == "isso" else "-")
            )
            cells = " | ".join(f"{by_round[r].load.rate:,.0f}" if r in by_round else "-" for r in rounds)
            latency = f"{median([m.load.p50_ms for m in mine]):.1f} / {median([m.load.p99_ms for m in mine]):.1f}"
            cpu = f"{median([m.web_cpu_ms for m in mine]):.2f} / {median([m.all_cpu_ms for m in mine]):.2f}"
            errors = f"{sum(m.load.status_errors for m in mine)} / {sum(m.load.other_errors for m in mine)}"
            lines += [f"| {server.name} | {cells} | {median(rates):,.0f} | {ratio} | {latency} | {cpu} | {errors} |"]

    lines += ["\n### Moderato: queries and decisions (POST rounds)\n"]
    lines += [
        "| server | queries per POST (in-process) | submitted per round | decided within wait | kept up (>= 0.95) "
        "| submit to decision p50 / p99 ms | all decided after s | decisions/s, first POST to last decision |"
    ]
    lines += ["|---|---|---:|---:|---|---:|---:|---:|"]
    for server in servers:
        if server.kind != "moderato":
            continue
        figures = getattr(server, "figures", {})
        queries = (
            f"{figures.get('queries_per_post', float('nan')):.1f} ({figures.get('vendor', '')}: "
            + ", ".join(f"{verb} {count:g}" for verb, count in figures.get("by_statement", {}).items())
            + ")"
        )
        mine = [m for m in measures if m.server == server.name and m.mode == "post"]
        if not server.has_worker:
            lines += [
                f"| {server.name} | {queries} | {', '.join(str(m.load.requests) for m in mine)} "
                "| no worker | - | - | - | - |"
            ]
            continue
        soon = ", ".join(f"{m.decided_soon / max(m.submitted, 1):.2f}" for m in mine)
        kept = ", ".join("yes" if m.decided_soon >= 0.95 * m.submitted else "**no**" for m in mine)
        delays = ", ".join(f"{ms(m.decide_p50_ms)} / {ms(m.decide_p99_ms)}" for m in mine)
        drained = ", ".join(f"{m.drained_s:.0f}" if m.drained_s is not None else "not" for m in mine)
        rates = ", ".join(f"{m.decisions_per_s:.0f}" if m.decisions_per_s else "-" for m in mine)
        submitted = ", ".join(str(m.submitted) for m in mine)
        lines += [f"| {server.name} | {queries} | {submitted} | {soon} | {kept} | {delays} | {drained} | {rates} |"]
    return "\n".join(lines)


# Backlog ----------------------------------------------------------------------------------------


def post_many(port: int, count: int, senders: int = 8, rate: float = 0.0, tag: str = "backlog") -> int:
    """POST ``count`` comments with ``senders`` keep-alive connections; return the 202s. With a ``rate``,
    comment n leaves at n / rate seconds from the start (an open schedule: a slow answer delays no other
    comment, as long as a sender is free), else each as soon as a sender is."""
    accepted = 0
    lock = threading.Lock()
    numbers = iter(range(count))
    began = time.monotonic()

    def send() -> None:
        nonlocal accepted
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                break
            if rate:
                time.sleep(max(0.0, began + n / rate - time.monotonic()))
            text = f"{CLEAN[n % len(CLEAN)]} ({tag} {n})"
            thread = f"/bench/{tag}/{n % 50}"
            body = json.dumps({"site": SITE, "thread": thread, "name": f"Reader {n}", "comment": text})
            try:
                connection.request("POST", "/api/v1/comments", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()  # a keep-alive connection the server closed: the next request reconnects
                continue
            if response.status == 202:
                with lock:
                    accepted += 1
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted


def run_paced(server: Server, rate: float, seconds: float, options: Options) -> str:
    """One row of the paced table: ``rate`` comments/s for ``seconds`` against a server with its worker,
    the submit-to-decision delays from the database's own timestamps (created_at, decided_at)."""
    server.start()
    try:
        post_many(server.port, 40, tag="paced-warm-up")
        wait_drained(server, 0, options.drain)
        first_id = server.max_id()
        started = time.monotonic()
        accepted = post_many(server.port, round(rate * seconds), senders=16, rate=rate, tag="paced")
        sent_for = time.monotonic() - started
        drained, _ = wait_drained(server, first_id, options.drain)
        rows = server.rows_after(first_id)
    finally:
        server.stop()
    delays = sorted((decided - created) * 1000 if decided else float("inf") for created, decided in rows)
    options.log(f"  {server.name} paced: {accepted} accepted in {sent_for:.1f} s, all decided: {drained}")
    return (
        f"| {server.name} | {rate:g} | {accepted} / {round(rate * seconds)} | {len(rows) / sent_for:.1f} "
        f"| {ms(percentile(delays, 50))} | {ms(percentile(delays, 90))} | {ms(percentile(delays, 99))} "
        f"| {ms(delays[-1] if delays else None)} |"
    )


def paced_report(lines: list[str], rate: float, seconds: float) -> str:
    return "\n".join(
        [
            f"\n### Submit to decision at {rate:g} comments/s ({seconds:g} s, an open schedule, worker running)\n",
            "| server | comments/s asked | accepted / sent | comments/s stored | p50 ms | p90 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *lines,
        ]
    )


def run_backlog(root: Path, backing: Backing, count: int, bound: float, log: Callable[[str], None]) -> str:
    server = ModeratoCompose(
        root, backing, name="moderato-backlog", database="benchmod_backlog", redis_db=2, worker=False
    )
    server.setup()
    server.start()  # the web tier alone: the comments are queued and wait
    try:
        started = time.monotonic()
        accepted = post_many(server.port, count)
        log(f"backlog: {accepted} of {count} POSTs accepted in {time.monotonic() - started:.1f} s, no worker running")
    finally:
        server.stop()
    import redis

    queued = redis.Redis(host="127.0.0.1", port=backing.redis_port, db=2).llen("celery")
    # Every pending comment, the setup's own (its queries were counted on 55 POSTs) with the backlog's.
    pending = server.pending_after(0)

    command = [
        a.replace("--concurrency=2", "--concurrency=1") for a in native(COMPOSE["services"]["worker"]["command"])
    ]
    worker = Service("backlog-worker", command, server.env_for("worker"), root / "logs", ready_text="ready.")
    worker.start()
    worker_started = time.time()
    try:
        ready_at = worker.wait_ready(timeout=120)
        cpu0 = cpu_seconds([worker.pid, *backing.pids])
        peak_rss = peak_pss = 0
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            rss, pss = memory_kib([worker.pid])
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            if not server.pending_after(0):
                break
            time.sleep(0.5)
        cpu1 = cpu_seconds([worker.pid, *backing.pids])
        worker_cpu = cpu_seconds([worker.pid])
        processes = len(process_tree(worker.pid))
    finally:
        worker.stop()
    rows = server.rows_after(0)
    decided = sorted(d for _, d in rows if d is not None and d >= worker_started)
    span = (decided[-1] - decided[0]) if len(decided) > 1 else float("nan")
    from_ready = (decided[-1] - ready_at) if decided else float("nan")
    lines = [
        "\n### Backlog: one worker process (--concurrency=1, no beat) on PostgreSQL + Redis\n",
        "| measure | value |",
        "|---|---:|",
        f"| comments pending before the worker started | {pending} |",
        f"| messages in the Redis queue then | {queued} |",
        f"| decided by the worker | {len(decided)}, {server.pending_after(0)} left pending |",
        f"| decided per second, first to last decision | {len(decided) / span:,.1f} |",
        f"| decided per second, from the worker's ready line | {len(decided) / from_ready:,.1f} |",
        f"| worker + PostgreSQL + Redis CPU ms per decision | {(cpu1 - cpu0) / max(len(decided), 1) * 1000:.2f} |",
        f"| worker CPU s since start (model loading included) | {worker_cpu:.1f} |",
        f"| worker peak memory, sum over its {processes} processes: RSS / PSS MiB | {peak_rss / 1024:,.0f} / "
        f"{peak_pss / 1024:,.0f} |",
    ]
    return "\n".join(lines)


# Main -------------------------------------------------------------------------------------------


def reference_loop_ms() -> float:
    """The best of 5 timings of a fixed pure-Python loop: how fast this machine is right now."""
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


def machine_line() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.machine(),
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), load average {load}, reference loop {reference_loop_ms():.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of 5 s per server (a smoke run)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, help="seconds of load per round and request (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--decide-wait", type=float, default=5, help="seconds after a POST round (default 5)")
    parser.add_argument("--drain", type=float, help="at most this many seconds for a round's decisions (120)")
    parser.add_argument(
        "--servers",
        default="isso,moderato-pg,moderato-pg-web,moderato-embedded",
        help="comma-separated, in the order of each round",
    )
    parser.add_argument("--backlog", type=int, metavar="N", help="only the backlog mode, with N comments")
    parser.add_argument(
        "--paced",
        type=float,
        default=50,
        metavar="RATE",
        help="after the rounds, submit-to-decision at RATE comments/s on each server with a worker (0: none)",
    )
    parser.add_argument("--paced-seconds", type=float, help="seconds of the paced run (default 30)")
    parser.add_argument(
        "--web-args",
        default="",
        help=f"gunicorn's shape for the compose-like servers instead of {COMPOSE_WEB_SHAPE!r} (to choose it)",
    )
    parser.add_argument("--paced-only", action="store_true", help="only the paced run (no wrk rounds, no Isso)")
    parser.add_argument("--isso-venv", type=Path, default=ROOT / "var" / "bench" / "isso-venv")
    parser.add_argument("--isso-version", default=ISSO_VERSION)
    parser.add_argument("--out", type=Path, help="also write the report (Markdown) here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) afterwards")
    args = parser.parse_args(argv)
    ModeratoCompose.web_args = args.web_args
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (5 if args.quick else 15)
    drain = args.drain or (60 if args.quick else 120)
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {line}", file=sys.stderr, flush=True)

    header = [
        "Command: `{}`".format(
            shlex.join([".venv/bin/python", "bench/http_bench.py", *(sys.argv[1:] if argv is None else argv)])
        ),
        f"Machine: {machine_line()} at the start",
    ]
    root = Path(tempfile.mkdtemp(prefix="moderato-http-"))
    root.chmod(0o755)  # the PostgreSQL user must reach its data directory
    (root / "logs").mkdir()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ctrl-C stops everything too, even when the shell started the bench with SIGINT ignored (``&``).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    backing = Backing(root)
    servers: list[Server] = []
    failed = True
    try:
        backing.start()
        log(f"in {root}: PostgreSQL :{backing.pg_port}, Redis :{backing.redis_port}")
        if args.backlog:
            body = run_backlog(root, backing, args.backlog, bound=max(drain, args.backlog / 5), log=log)
        else:
            ensure_wrk()
            wanted = [name.strip() for name in args.servers.split(",") if name.strip()]
            makers: dict[str, Callable[[], Server]] = {
                "isso": lambda: Isso(root, args.isso_venv),
                "moderato-pg": lambda: ModeratoCompose(
                    root, backing, name="moderato-pg", database="benchmod", redis_db=0, worker=True
                ),
                "moderato-pg-web": lambda: ModeratoCompose(
                    root, backing, name="moderato-pg-web", database="benchmod_web", redis_db=1, worker=False
                ),
                "moderato-embedded": lambda: ModeratoEmbedded(root),
            }
            if args.paced_only:
                wanted = [name for name in wanted if name != "isso"]
            if "isso" in wanted:
                versions = ensure_isso(args.isso_venv, args.isso_version)
                header.append(f"Isso {versions.replace(' ', ', gunicorn ')} ({args.isso_venv})")
            header.append(
                f"Moderato: Django {importlib.metadata.version('django')}, gunicorn "
                f"{importlib.metadata.version('gunicorn')}, Celery {importlib.metadata.version('celery')}; "
                f"{subprocess.run(['wrk', '--version'], capture_output=True, text=True).stdout.split(' Copyright')[0]}"
            )
            for name in wanted:
                servers.append(makers[name]())
                log(f"setting up {name}")
                servers[-1].setup()
            script = root / "bench.lua"
            script.write_text(WRK_SCRIPT)
            options = Options(
                seconds=seconds,
                warmup=2 if args.quick else 3,
                threads=args.threads,
                connections=args.connections,
                decide_wait=args.decide_wait,
                drain=drain,
                script=script,
                log=log,
                settle=backing.settle,
            )
            header.append(
                f"Load: wrk -t{args.threads} -c{args.connections}, {rounds} interleaved round(s) of {seconds:g} s per"
                f" request and server, after a {options.warmup:g} s warm-up; decisions counted {args.decide_wait:g} s"
                f" after each POST round, drained for at most {drain:g} s"
            )
            body = ""
            if not args.paced_only:
                for number in range(1, rounds + 1):
                    log(f"round {number} of {rounds}")
                    for server in servers:
                        run_server_round(server, number, options)
                body = report(options.measures, servers)
            paced_servers = [server for server in servers if server.has_worker]
            if args.paced and paced_servers:
                paced_seconds = args.paced_seconds or (10 if args.quick else 30)
                log(f"paced: {args.paced:g} comments/s for {paced_seconds:g} s")
                paced = [run_paced(server, args.paced, paced_seconds, options) for server in paced_servers]
                body += "\n" + paced_report(paced, args.paced, paced_seconds)
        header.append(f"Machine: {machine_line()} at the end; {time.monotonic() - began:.0f} s in all")
        text = "\n".join(f"- {line}" for line in header) + "\n" + body + "\n"
        print(text)
        if args.out:
            args.out.write_text(text)
        failed = False
        return 0
    finally:
        for server in servers:
            server.stop()
        backing.stop()
        left = strays(str(root))
        for pid, _ in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log(f"stray processes after the stop: {left or 'none'}")
        if failed or args.keep:
            log(f"logs kept in {root}/logs")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["_django"]:
        django_main()
        sys.exit(0)
    sys.exit(main())
