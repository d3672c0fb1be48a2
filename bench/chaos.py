"""Fault injection on the production-shaped stack under steady load, then a reconciliation.

    .venv/bin/python bench/chaos.py --quick            # CI: 5 worker kills, 1 Redis restart, < 3 minutes
    .venv/bin/python bench/chaos.py --rate 20 --duration 600 --worker-kills 20 --redis-restarts 3

In a temporary directory, on free ports (never the shared PostgreSQL and Redis), it starts its own
PostgreSQL cluster (initdb), its own redis-server (appendonly, as in compose), then the very commands
of docker-compose.yml's web (migrate, gunicorn with 2 workers), worker (twice: two containers) and
beat services with compose's environment, and a webhook receiver that records every delivery with
its ``webhook-id``. A load generator posts clean, toxic and spam comments at a steady rate, each
from an address of its own behind the trusted proxy (so the default per-address limit stays on and
reads Redis), and retries a POST that got no answer with the same Idempotency-Key, as a client
would. Meanwhile the faults come on a schedule: SIGKILL of a Celery worker (its main process, which
takes its pool with it like a container, restarted by the bench as compose would; or one pool
child, which the worker replaces), a Redis restart (stopped, down a few seconds, started), SIGKILL
of a gunicorn worker, and pg_terminate_backend of every application connection.

Then the load stops, the queue drains (bounded) and every 202 is reconciled against the database and
every decision against the webhooks received. It prints a table and exits 1 when a target is missed:
0 lost, 0 stuck, 0 decided twice, 0 webhooks missing, 0 delivered twice under different event ids,
every POST during a Redis outage answered 202, and after each fault the comment that was oldest
pending at its recovery decided within 60 s. "Decided twice" is a comment that has more than one
webhook outbox row or was announced with more than one event (the pipeline decides a comment once;
no moderator acts here). A webhook delivered again with the same ``webhook-id`` is at-least-once
delivery working, counted apart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moderation.webhooks import standard_verify  # noqa: E402  (plain Python: no Django needed)

BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
TEXTS = [  # clean, clean, toxic, spam, clean, toxic
    "Thanks for the article, I learned a lot about the new bridge.",
    "I disagree with the council here, the parking plan makes no sense.",
    "You are a worthless idiot and nobody wants to read your comments.",
    "Earn $5000 a week from home!!! DM me on WhatsApp +1 555 0100",
    "Great reporting, please follow up on the budget next month.",
    "Shut up, moron, your opinion is garbage.",
]
RECOVERY_TARGET_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll ``check`` until it holds; return the time it did, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return time.time()
        time.sleep(interval)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


# The processes ----------------------------------------------------------------------------------


@dataclass
class Service:
    """One long-running process, started in a session of its own so that its whole group can be signalled."""

    name: str
    args: list[str]
    env: dict[str, str]
    logs: Path
    ready_text: str = ""
    user: str | None = None
    starts: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self) -> None:
        self.starts += 1
        self.log = self.logs / f"{self.name}.{self.starts}.log"
        extra: dict[str, Any] = {}
        if self.user:
            entry = pwd.getpwnam(self.user)
            extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **extra
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_ready(self, timeout: float = 90) -> float:
        assert self.log is not None and self.process is not None
        process, log = self.process, self.log

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{log.read_text(errors='replace')[-3000:]}")
            return self.ready_text in log.read_text(errors="replace")

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return time.time()
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not print {self.ready_text!r} in {timeout:.0f} s (log: {log})")

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.process is None:
            return
        self.signal_group(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.process.wait()
        self.signal_group(signal.SIGKILL)  # children that outlived their parent


def compose_env(given: dict[str, str]) -> dict[str, str]:
    """The compose file's application environment, ``${NAME:-default}`` resolved from ``given`` or the default."""

    def resolve(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        if name in given:
            return given[name]
        if match.group(2) == "?":
            raise RuntimeError(f"docker-compose.yml needs {name}")
        return default

    pattern = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")
    return {name: pattern.sub(resolve, str(value)) for name, value in COMPOSE["x-app"]["environment"].items()}


def native(command: list[str]) -> list[str]:
    """A compose command run here: this virtualenv's executables, "$$" unescaped, bound to 127.0.0.1 only."""
    head, *rest = (arg.replace("$$", "$").replace("0.0.0.0:", "127.0.0.1:") for arg in command)
    return [str(BIN / head) if (BIN / head).exists() else head, *rest]


def find_postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if not found:
        raise RuntimeError(f"{name} not found (PostgreSQL's server binaries)")
    return str(found)


class Stack:
    """PostgreSQL, Redis, web, two workers and beat, each in a directory of its own under ``root``."""

    def __init__(self, root: Path, extra_env: dict[str, str]) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir()
        self.pg_port, self.redis_port, self.web_port = free_port(), free_port(), free_port()
        self.database_url = f"postgres://postgres@127.0.0.1:{self.pg_port}/moderato"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.secret_key = secrets.token_urlsafe(50)
        # initdb refuses root: the cluster belongs to an unprivileged user when the bench runs as root.
        self.pg_user = next((u for u in ("postgres", "nobody") if os.geteuid() == 0 and _user_exists(u)), None)
        self.services: list[Service] = []
        # The load generator plays the reverse proxy in front of gunicorn (one hop that appends the
        # client's address), as the README says to run compose behind one.
        app_env = compose_env({"SECRET_KEY": self.secret_key, "MODERATO_TRUSTED_PROXIES": "1"}) | {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MODERATO_METRICS_DIR": str(root / "metrics"),  # compose's shared metrics volume
        }
        base = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"}}
        self.app_env = base | {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED": "1"} | app_env
        self.app_env |= extra_env
        self.postgres: Service | None = None
        self.redis: Service | None = None
        self.web: Service | None = None
        self.beat: Service | None = None
        self.workers: list[Service] = []

    def env_for(self, name: str, **extra: str) -> dict[str, str]:
        var = self.root / f"{name}-var"  # each container has a /app/var of its own
        var.mkdir(exist_ok=True)
        return self.app_env | {"MODERATO_DATA_DIR": str(var)} | extra

    def add(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def start_postgres(self) -> None:
        data = self.root / "pg"
        data.mkdir()
        extra: dict[str, Any] = {}
        if self.pg_user:
            entry = pwd.getpwnam(self.pg_user)
            os.chown(data, entry.pw_uid, entry.pw_gid)
            extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        subprocess.run(
            [
                find_postgres_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd="/",
            **extra,
        )
        args = [find_postgres_bin("postgres"), "-D", str(data), "-p", str(self.pg_port)]
        args += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"]
        self.postgres = self.add(Service("postgres", args, {"PATH": "/usr/bin:/bin"}, self.logs, user=self.pg_user))
        self.postgres.start()
        import psycopg

        dsn = f"host=127.0.0.1 port={self.pg_port} user=postgres dbname=postgres"
        wait_until(lambda: bool(psycopg.connect(dsn, connect_timeout=2).close() or True), 60, "PostgreSQL start")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE moderato")

    def start_redis(self) -> float:
        if self.redis is None:
            data = self.root / "redis"
            data.mkdir()
            args = ["redis-server", *COMPOSE["services"]["redis"]["command"][1:]]  # --appendonly yes
            args += ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(data)]
            self.redis = self.add(Service("redis", args, {"PATH": "/usr/bin:/bin"}, self.logs))
        self.redis.start()
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_connect_timeout=1, socket_timeout=1)
        return wait_until(lambda: bool(client.ping()), 60, "Redis start", interval=0.05)

    def start_web(self) -> None:
        command = COMPOSE["services"]["web"]["command"]  # sh -c "migrate && gunicorn ... --workers 2"
        env = self.env_for("web", PORT=str(self.web_port))
        self.web = self.add(Service("web", native(command), env, self.logs, ready_text="Booting worker"))
        self.web.start()
        self.web.wait_ready(timeout=120)
        wait_until(lambda: httpx.get(f"{self.base_url}/livez", timeout=2).status_code == 200, 60, "web /livez")

    def start_workers_and_beat(self, count: int = 2) -> None:
        """Start ``count`` workers and beat, then wait for each to be ready."""
        command = native(COMPOSE["services"]["worker"]["command"])
        for n in range(1, count + 1):
            # -n: two containers have two host names; two workers on one host need two node names.
            service = Service(f"worker{n}", [*command, "-n", f"worker{n}@%h"], self.env_for(f"worker{n}"), self.logs)
            service.ready_text = "ready."
            self.workers.append(self.add(service))
            service.start()

        schedule = self.root / "beat-var" / "celerybeat-schedule"
        command = [
            arg.replace("/app/var/celerybeat-schedule", str(schedule)) for arg in COMPOSE["services"]["beat"]["command"]
        ]
        self.beat = self.add(Service("beat", native(command), self.env_for("beat"), self.logs, ready_text="Starting"))
        self.beat.start()
        for service in [*self.workers, self.beat]:
            service.wait_ready()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def gunicorn_arbiter(self) -> int:
        """gunicorn's master: compose's ``sh -c "migrate && gunicorn ..."`` may or may not exec it."""
        assert self.web is not None

        def is_gunicorn(pid: int) -> bool:
            return any(Path(arg).name == "gunicorn" for arg in cmdline(pid).split()[:2])

        if is_gunicorn(self.web.pid):
            return self.web.pid
        return next(pid for pid in children(self.web.pid) if is_gunicorn(pid))

    def stop(self) -> None:
        for service in reversed(self.services):
            with contextlib.suppress(Exception):
                service.stop(signal.SIGINT if service is self.postgres else signal.SIGTERM)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# The webhook receiver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    at: float
    event_id: str
    event: str
    comment_id: int
    status: str
    signed: bool


class Receiver:
    """A local webhook endpoint: answers 200 and records every delivery, signature checked."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.secret = ""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name: value for name, value in self.headers.items()}
                try:
                    payload = json.loads(body)
                    comment_id, status = int(payload["comment"]["id"]), str(payload["comment"]["status"])
                except (ValueError, KeyError, TypeError):
                    comment_id, status = 0, ""
                delivery = Delivery(
                    at=time.time(),
                    event_id=self.headers.get("webhook-id", ""),
                    event=self.headers.get("X-Moderato-Event", ""),
                    comment_id=comment_id,
                    status=status,
                    signed=standard_verify(secret=receiver.secret, headers=headers, body=body),
                )
                with receiver.lock:
                    receiver.deliveries.append(delivery)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/moderato"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


# The load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    n: int
    started: float
    seconds: float
    answer: str  # the HTTP status, or the transport error's name


class Load:
    """Posts comment n at ``start + n / rate`` from ``senders`` threads; a POST without an answer (or a
    5xx) is retried twice with the same Idempotency-Key."""

    def __init__(self, *, base_url: str, site: str, rate: float, senders: int) -> None:
        self.url = f"{base_url}/api/v1/comments"
        self.site, self.rate, self.senders = site, rate, senders
        self.run = secrets.token_hex(4)
        self.attempts: list[Attempt] = []
        self.accepted: dict[int, int] = {}  # n -> comment id
        self.final: dict[int, str] = {}  # n -> the last answer
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.queue: Queue[int] = Queue()
        self.client = httpx.Client(timeout=15, limits=httpx.Limits(max_connections=senders))
        self.started_at = self.stopped_at = 0.0
        self.threads: list[threading.Thread] = []
        self.dispatched = 0

    def start(self) -> None:
        self.started_at = time.time()
        self.threads = [threading.Thread(target=self._dispatch, daemon=True)]
        self.threads += [threading.Thread(target=self._send, daemon=True) for _ in range(self.senders)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.stopped_at = time.time()
        self.client.close()

    def _dispatch(self) -> None:
        start = time.monotonic()
        n = 0
        while not self.stopping.is_set():
            delay = start + n / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, 0.5))
                continue
            self.queue.put(n)
            n += 1
            self.dispatched = n

    def _send(self) -> None:
        while not self.stopping.is_set():
            try:
                n = self.queue.get(timeout=0.2)
            except Empty:
                continue
            self._post(n)

    def _post(self, n: int) -> None:
        text = TEXTS[n % len(TEXTS)]
        payload = {"site": self.site, "thread": f"/chaos/{n % 25}", "name": f"Reader {n}", "comment": f"{text} ({n})"}
        headers = {
            # One client address per comment, behind compose's one trusted proxy: the default
            # per-address limit stays on (and reads Redis) without refusing the load.
            "X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
            "X-Forwarded-Proto": "https",
            "Idempotency-Key": f"chaos-{self.run}-{n}",
        }
        for attempt in range(3):
            started = time.time()
            try:
                response = self.client.post(self.url, json=payload, headers=headers)
                answer = str(response.status_code)
            except httpx.HTTPError as exc:
                response, answer = None, type(exc).__name__
            with self.lock:
                self.attempts.append(Attempt(n, started, time.time() - started, answer))
                self.final[n] = answer
                if response is not None and response.status_code == 202:
                    self.accepted[n] = int(response.json()["id"])
            if response is not None and response.status_code < 500:
                return
            time.sleep(0.5 * (attempt + 1))


# The faults -------------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str  # worker-main, worker-child, redis, gunicorn, postgres
    target: str
    at: float
    recovered: float | None = None
    detail: str = ""


def schedule(*, duration: float, counts: dict[str, int]) -> list[tuple[float, str]]:
    """Each kind's faults spread evenly over 10 %..80 % of the load, merged in time order."""
    phases = {"worker": 0.5, "redis": 0.5, "gunicorn": 0.25, "postgres": 0.75}  # kinds apart from each other
    planned = []
    for kind, count in counts.items():
        for i in range(count):
            planned.append((duration * (0.1 + 0.7 * (i + phases[kind]) / count), kind))
    return sorted(planned)


class Injector:
    def __init__(self, stack: Stack, *, redis_down: float, log: Callable[[str], None]) -> None:
        self.stack, self.redis_down, self.log = stack, redis_down, log
        self.faults: list[Fault] = []
        self.worker_kills = 0
        self.outages: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.planned = 0

    def run(self, plan: list[tuple[float, str]], start: float, stopping: threading.Event) -> None:
        """Inject the faults one after another: one that is slow to recover delays the next, and those
        not reached before the load stops are not injected (the report counts them)."""
        self.planned = len(plan)
        for offset, kind in plan:
            while not stopping.is_set() and time.time() < start + offset:
                time.sleep(0.1)
            if stopping.is_set():
                return
            try:
                fault = getattr(self, kind.replace("-", "_"))()
            except Exception as exc:
                self.errors.append(f"{kind} at {time.time() - start:.0f} s: {exc}")
                self.log(f"  fault {kind} failed: {exc}")
                continue
            self.faults.append(fault)
            took = f"{fault.recovered - fault.at:.1f} s" if fault.recovered else "-"
            self.log(
                f"  {fault.at - start:6.1f} s  {fault.kind:<13} {fault.target:<10} back after {took} {fault.detail}"
            )

    def worker(self) -> Fault:
        """SIGKILL a worker's main process (and its pool with it, like a container) or one pool child."""
        i = self.worker_kills
        self.worker_kills += 1
        service = self.stack.workers[i % len(self.stack.workers)]
        pool = children(service.pid)
        if (i // 2) % 2 == 1 and pool:
            victim = random.choice(pool)
            os.kill(victim, signal.SIGKILL)
            fault = Fault("worker-child", service.name, time.time(), detail=f"pid {victim}")
            fault.recovered = wait_until(
                lambda: victim not in (now := children(service.pid)) and len(now) >= len(pool), 60, "pool refill"
            )
            return fault
        os.kill(service.pid, signal.SIGKILL)
        fault = Fault("worker-main", service.name, time.time(), detail=f"pid {service.pid}, pool {pool}")
        service.signal_group(signal.SIGKILL)  # the container's other processes go with its main process
        assert service.process is not None
        service.process.wait()
        time.sleep(1)  # compose's restart is not instantaneous either
        service.start()
        fault.recovered = service.wait_ready()
        return fault

    def redis(self) -> Fault:
        """Stop redis-server (SIGTERM, as ``docker compose restart``), leave it down, start it again."""
        stack = self.stack
        assert stack.redis is not None and stack.redis.process is not None
        fault = Fault("redis", "redis", time.time())
        stack.redis.process.send_signal(signal.SIGTERM)
        stack.redis.process.wait(timeout=30)
        time.sleep(self.redis_down)
        fault.recovered = stack.start_redis()
        fault.detail = f"down {fault.recovered - fault.at:.1f} s"
        self.outages.append((fault.at, fault.recovered))
        return fault

    def gunicorn(self) -> Fault:
        """SIGKILL one gunicorn worker, requests in flight and all; the arbiter starts another."""
        arbiter = self.stack.gunicorn_arbiter()
        before = children(arbiter)
        victim = random.choice(before)
        os.kill(victim, signal.SIGKILL)
        fault = Fault("gunicorn", "web", time.time(), detail=f"pid {victim}")
        fault.recovered = wait_until(
            lambda: victim not in (now := children(arbiter)) and len(now) >= len(before), 60, "gunicorn respawn"
        )
        return fault

    def postgres(self) -> Fault:
        """pg_terminate_backend every application connection (web, workers, beat)."""
        import psycopg

        dsn = f"host=127.0.0.1 port={self.stack.pg_port} user=postgres dbname=moderato"
        with psycopg.connect(dsn, autocommit=True) as conn:
            at = time.time()
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = 'moderato' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchone()
        return Fault("postgres", "postgres", at, recovered=time.time(), detail=f"{row[0] if row else 0} terminated")


# The reconciliation -----------------------------------------------------------------------------


@dataclass
class Report:
    figures: dict[str, Any] = field(default_factory=dict)
    targets: list[tuple[str, bool, str]] = field(default_factory=list)  # name, met, value

    @property
    def met(self) -> bool:
        return all(met for _, met, _ in self.targets)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def recovery_delays(rows: list[tuple[float, float | None]], recovered: float) -> tuple[float, float]:
    """For comments (created, decided): how long after ``recovered`` the oldest comment then pending was
    decided, and the last of them (inf when one never was; 0 when none was pending)."""
    pending = [
        (created, decided) for created, decided in rows if created <= recovered and (decided or 1e20) > recovered
    ]
    if not pending:
        return 0.0, 0.0
    oldest = min(pending)[1]
    last = max((decided or float("inf")) for _, decided in pending)
    return (oldest - recovered if oldest else float("inf")), last - recovered


def seconds(values: list[float]) -> str:
    return " / ".join(f"{value:.1f}" for value in (percentile(values, 50), percentile(values, 99), max(values or [0])))


def counted(counter: Counter[str]) -> str:
    return ", ".join(f"{answer} x{count}" for answer, count in counter.most_common()) or "none"


def reconcile(*, site: Any, load: Load, receiver: Receiver, injector: Injector) -> Report:
    from comments.models import Comment
    from moderation.models import Notification

    report = Report()
    figures = report.figures
    rows = {
        pk: (status, created.timestamp(), decided.timestamp() if decided else None, attempts, requeues)
        for pk, status, created, decided, attempts, requeues in Comment.objects.filter(thread__site=site).values_list(
            "pk", "status", "created_at", "decided_at", "scoring_attempts", "requeues"
        )
    }
    accepted = set(load.accepted.values())
    decided = {pk for pk in accepted if pk in rows and rows[pk][0] != Comment.Status.PENDING}
    outbox: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for comment_id, event, event_id, state in Notification.objects.filter(
        site=site, kind=Notification.Kind.WEBHOOK
    ).values_list("comment_id", "event", "event_id", "state"):
        outbox[comment_id].append((event, event_id, state))
    with receiver.lock:
        deliveries = list(receiver.deliveries)
    ids_by_comment_event: dict[tuple[int, str], set[str]] = defaultdict(set)
    events_by_comment: dict[int, set[str]] = defaultdict(set)
    for delivery in deliveries:
        ids_by_comment_event[(delivery.comment_id, delivery.event)].add(delivery.event_id)
        events_by_comment[delivery.comment_id].add(delivery.event)
    times_by_id = Counter(delivery.event_id for delivery in deliveries)
    first_received: dict[int, float] = {}
    for delivery in deliveries:
        first_received.setdefault(delivery.comment_id, delivery.at)
    missing = {pk for pk in decided if f"comment.{rows[pk][0]}" not in events_by_comment.get(pk, ())}
    late = {pk for pk in missing if any(state == "pending" for _, _, state in outbox.get(pk, []))}
    to_decision = [rows[pk][2] - rows[pk][1] for pk in decided]
    to_webhook = [first_received[pk] - rows[pk][2] for pk in decided if pk in first_received]

    in_outage = Counter(
        attempt.answer
        for attempt in load.attempts
        if any(start <= attempt.started <= end for start, end in injector.outages)
    )
    sent_for = max(load.stopped_at - load.started_at, 1e-9)
    latencies = [attempt.seconds for attempt in load.attempts if attempt.answer == "202"]
    figures |= {
        "load seconds": round(sent_for, 1),
        "offered rate /s": load.rate,
        "sent rate /s": round(len(load.final) / sent_for, 1),
        "accepted (202)": len(accepted),
        "POSTs without a final 202": counted(Counter(a for a in load.final.values() if a != "202")),
        "POST answers (every attempt)": counted(Counter(attempt.answer for attempt in load.attempts)),
        "POST latency p50 / p99 ms": f"{percentile(latencies, 50) * 1000:.0f} / {percentile(latencies, 99) * 1000:.0f}",
        "POSTs during Redis outages": counted(in_outage),
        "decided": len(decided),
        "lost (202, not in the database)": len(accepted - rows.keys()),
        "stuck (still pending after the drain)": len(accepted & rows.keys()) - len(decided),
        "stored without a 202 (answer lost)": len(rows.keys() - accepted),
        "scored more than once (attempts > 1)": sum(1 for pk in accepted if pk in rows and rows[pk][3] > 1),
        "re-queued by the sweep": sum(1 for pk in accepted if pk in rows and rows[pk][4] > 0),
        "re-queued more than once": sum(1 for pk in accepted if pk in rows and rows[pk][4] > 1),
        "decided twice": sum(
            1 for pk in decided if len(outbox.get(pk, [])) > 1 or len(events_by_comment.get(pk, ())) > 1
        ),
        "submitted to decided p50 / p99 / max s": seconds(to_decision),
        "webhooks missing (decided, none received)": len(missing),
        "of which still pending in the outbox (late)": len(late),
        "decided to webhook received p50 / p99 / max s": seconds(to_webhook),
        "webhooks doubled (different event ids)": sum(1 for ids in ids_by_comment_event.values() if len(ids) > 1),
        "webhooks redelivered (same event id)": sum(times - 1 for times in times_by_id.values() if times > 1),
        "webhooks received": len(deliveries),
        "webhook signatures failing": sum(1 for delivery in deliveries if not delivery.signed),
        "webhook outbox rows not delivered": counted(
            Counter(state for rows_ in outbox.values() for _, _, state in rows_ if state != "delivered")
        ),
    }
    timeline = [(created, decided_at) for _, created, decided_at, _, _ in rows.values()]
    recoveries = []
    for fault in injector.faults:
        if fault.recovered is not None:
            oldest, last = recovery_delays(timeline, fault.recovered)
            recoveries.append({"fault": fault, "oldest": oldest, "all": last})
    figures["faults"] = counted(Counter(fault.kind for fault in injector.faults))
    figures["fault errors"] = len(injector.errors)
    worst = max((r["oldest"] for r in recoveries), default=0.0)
    figures["after a fault: oldest pending decided, max s"] = round(worst, 1)
    figures["after a fault: every pending decided, max s"] = round(max((r["all"] for r in recoveries), default=0), 1)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in recoveries:
        by_kind[r["fault"].kind].append(r["oldest"])
    figures["oldest pending decided after recovery, by fault (max s)"] = ", ".join(
        f"{kind} {max(values):.1f}" for kind, values in sorted(by_kind.items())
    )
    figures["recoveries"] = recoveries

    for name, value in (
        ("0 lost", figures["lost (202, not in the database)"]),
        ("0 stuck", figures["stuck (still pending after the drain)"]),
        ("0 decided twice", figures["decided twice"]),
        ("0 webhooks missing", figures["webhooks missing (decided, none received)"]),
        ("0 webhooks delivered twice with different event ids", figures["webhooks doubled (different event ids)"]),
        ("0 webhook signatures failing", figures["webhook signatures failing"]),
    ):
        report.targets.append((name, value == 0, str(value)))
    outage_answers = sum(in_outage.values())
    report.targets.append(
        ("every POST during a Redis outage answered 202", in_outage["202"] == outage_answers, counted(in_outage))
    )
    report.targets.append(
        (
            f"oldest pending decided within {RECOVERY_TARGET_SECONDS:.0f} s of each recovery",
            worst <= RECOVERY_TARGET_SECONDS,
            f"max {worst:.1f} s",
        )
    )
    report.targets.append(
        (
            "every scheduled fault injected",
            not injector.errors and len(injector.faults) == injector.planned,
            f"{len(injector.faults)} of {injector.planned}, {len(injector.errors)} failed",
        )
    )
    return report


def drain(*, site: Any, accepted: set[int], bound: float, log: Callable[[str], None]) -> float:
    """Wait until no accepted comment is pending and no webhook is waiting in the outbox; return the seconds."""
    from django.db import connection

    from comments.models import Comment
    from moderation.models import Notification

    started = time.monotonic()
    pending = waiting = -1
    while time.monotonic() - started < bound:
        connection.close()  # the bench's own connection may have been terminated by a fault
        pending = Comment.objects.filter(pk__in=accepted, status=Comment.Status.PENDING).count()
        waiting = Notification.objects.filter(site=site, state=Notification.State.PENDING).count()
        if not pending and not waiting:
            break
        time.sleep(1)
    log(f"drain: {time.monotonic() - started:.0f} s, {pending} pending, {waiting} webhooks waiting")
    time.sleep(1)  # deliveries marked delivered have reached the receiver; let the last answers land
    return time.monotonic() - started


# Main -------------------------------------------------------------------------------------------


def print_report(report: Report, injector: Injector, start: float, verbose: bool) -> None:
    print("\n| measure | value |\n|---|---|")
    for name, value in report.figures.items():
        if name != "recoveries":
            print(f"| {name} | {value} |")
    print("\n| target | met | value |\n|---|---|---|")
    for name, met, value in report.targets:
        print(f"| {name} | {'yes' if met else '**NO**'} | {value} |")
    if verbose:
        print("\n| fault | at s | target | back after s | oldest pending decided after s | all decided after s |")
        print("|---|---|---|---|---|---|")
        for r in report.figures["recoveries"]:
            fault = r["fault"]
            print(
                f"| {fault.kind} | {fault.at - start:.0f} | {fault.target} | {fault.recovered - fault.at:.1f} "
                f"| {r['oldest']:.1f} | {r['all']:.1f} |"
            )
    for error in injector.errors:
        print(f"fault error: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI: 5 worker kills, 1 Redis restart, under 3 minutes")
    parser.add_argument("--rate", type=float, default=20, help="comments per second (default 20)")
    parser.add_argument("--duration", type=float, help="seconds of load (quick 60, else 600)")
    parser.add_argument("--worker-kills", type=int, help="Celery worker SIGKILLs (quick 5, else 20)")
    parser.add_argument("--redis-restarts", type=int, help="(quick 1, else 3)")
    parser.add_argument("--gunicorn-kills", type=int, help="(quick 1, else 3)")
    parser.add_argument("--pg-kills", type=int, help="rounds of pg_terminate_backend (quick 1, else 3)")
    parser.add_argument("--redis-down", type=float, default=5, help="seconds Redis stays down (default 5)")
    parser.add_argument("--drain", type=float, help="at most this many seconds for the queue to drain (quick 80)")
    parser.add_argument("--senders", type=int, default=32, help="client threads (default 32)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the app processes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) afterwards")
    parser.add_argument("--verbose", action="store_true", help="one line per fault in the report")
    args = parser.parse_args(argv)
    quick = args.quick
    duration = args.duration or (60 if quick else 600)
    counts = {
        "worker": args.worker_kills if args.worker_kills is not None else (5 if quick else 20),
        "redis": args.redis_restarts if args.redis_restarts is not None else (1 if quick else 3),
        "gunicorn": args.gunicorn_kills if args.gunicorn_kills is not None else (1 if quick else 3),
        "postgres": args.pg_kills if args.pg_kills is not None else (1 if quick else 3),
    }
    drain_bound = args.drain or (80 if quick else 180)
    extra_env = dict(item.split("=", 1) for item in args.env)
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {line}", flush=True)

    root = Path(tempfile.mkdtemp(prefix="moderato-chaos-"))
    root.chmod(0o755)  # the PostgreSQL user must reach its data directory
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = Stack(root, extra_env)
    receiver = Receiver()
    failed = True
    try:
        log(f"stack in {root}: PostgreSQL :{stack.pg_port}, Redis :{stack.redis_port}, web :{stack.web_port}")
        stack.start_postgres()
        stack.start_redis()
        stack.start_web()  # migrate, then gunicorn
        # The bench reads and writes the same database as the stack (its own Django, same settings).
        for name in ("CELERY_BROKER_URL", "DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)
        os.environ.update(stack.env_for("bench") | {"DJANGO_SETTINGS_MODULE": "config.settings"})
        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per POST otherwise
        from comments.models import Site
        from moderation.models import SitePolicy

        receiver.start()
        site = Site.objects.create(name="Chaos Daily", public_key="chaos")
        SitePolicy.objects.filter(site=site).update(webhook_url=receiver.url)
        receiver.secret = SitePolicy.objects.get(site=site).webhook_secret
        log("web up (migrated); starting 2 workers and beat")
        stack.start_workers_and_beat(2)
        wait_until(lambda: httpx.get(f"{stack.base_url}/healthz", timeout=5).status_code == 200, 60, "/healthz")
        plan = schedule(duration=duration, counts=counts)
        log(
            f"stack ready (web, 2 workers, beat; /healthz 200): {duration:.0f} s of load at {args.rate:g}/s,"
            f" faults {counts}"
        )

        load = Load(base_url=stack.base_url, site="chaos", rate=args.rate, senders=args.senders)
        injector = Injector(stack, redis_down=args.redis_down, log=log)
        load.start()
        start = load.started_at
        faults = threading.Thread(target=injector.run, args=(plan, start, load.stopping), daemon=True)
        faults.start()
        while time.time() < start + duration:
            time.sleep(0.5)
        load.stop()
        faults.join(timeout=120)
        log(
            f"load stopped: {len(load.final)} sent, {len(load.accepted)} accepted;"
            f" draining (at most {drain_bound:.0f} s)"
        )
        drain(site=site, accepted=set(load.accepted.values()), bound=drain_bound, log=log)
        from django.db import connection

        connection.close()
        report = reconcile(site=site, load=load, receiver=receiver, injector=injector)
        report.figures["total seconds"] = round(time.monotonic() - began, 1)
        print_report(report, injector, start, args.verbose)
        if args.json:
            figures = {k: v for k, v in report.figures.items() if k != "recoveries"}
            figures["faults detail"] = [
                {"kind": r["fault"].kind, "at": round(r["fault"].at - start, 1), "target": r["fault"].target,
                 "back_after": round((r["fault"].recovered or 0) - r["fault"].at, 1),
                 "oldest_decided_after": round(r["oldest"], 1), "all_decided_after": round(r["all"], 1)}
                for r in report.figures["recoveries"]
            ]  # fmt: skip
            targets = [{"target": n, "met": m, "value": v} for n, m, v in report.targets]
            args.json.write_text(json.dumps({"figures": figures, "targets": targets}, indent=1, default=str))
        failed = not report.met
        return 0 if report.met else 1
    finally:
        receiver.stop()
        stack.stop()
        if failed or args.keep:
            print(f"logs kept in {root}/logs", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
