"""``make run``'s supervisor: gunicorn, a Celery worker and Celery beat, kept running and stopped cleanly.

``python -m config.supervise --bind 127.0.0.1:8000`` starts the three as child processes, each in a
session of its own (Ctrl-C at the terminal reaches only the supervisor), and prints their output line
by line prefixed with their name. A child that exits or is killed is started again after a back-off
(1 s doubling to 30 s, back to 1 s once it has stayed up 30 s); one that dies within 30 s of starting
ten times in a row is given up on: everything is stopped and the supervisor exits 1, saying why.

SIGINT, SIGTERM or SIGHUP stop everything: SIGTERM to each child's main process (Celery's warm
shutdown, gunicorn's graceful stop), up to 8 s for them to exit, then SIGKILL to whatever is left of
each child's process group; the supervisor exits 0. A second signal kills at once, except a SIGTERM
within a second of the first (make passes on a SIGTERM that reached its process group already). Only the main
processes are signalled because a Celery pool process killed by a signal of its own can die holding
the pool's queue lock, and its parent then hangs at exit (seen with ``make run``'s former
``trap 'kill 0'``, which also re-entered its own trap until the shell died of a segmentation fault).

Beat runs on its own, not inside the worker (``--beat``), so the sweeps keep being scheduled while a
dead worker is restarted; the embedded file broker serves any number of consumers and producers.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Program:
    name: str
    argv: list[str]
    # Started once the supervisor's ``ready`` address accepts connections (or after ``ready_timeout``),
    # so that its start does not compete for the CPU with the web server's.
    after_ready: bool = False


@dataclass
class Child:
    """One program's current process, and how soon it may be started again."""

    program: Program
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    delay: float = 0.0
    quick_deaths: int = 0
    restarts: int = 0


@dataclass
class Output:
    name: str
    pending: bytes = b""


@dataclass
class Supervisor:
    programs: Sequence[Program]
    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 30.0
    give_up_after: int = 10
    stop_timeout: float = 8.0
    # Quiet: no "started" line for the first start of each program (restarts are still logged).
    quiet: bool = False
    # (host, port, message): the message is printed once, when the address first accepts a connection.
    ready: tuple[str, int, str] | None = None
    ready_timeout: float = 60.0
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def __post_init__(self) -> None:
        self.children = [Child(program, delay=self.first_delay) for program in self.programs]
        self.width = max(len("supervise"), *(len(p.name) for p in self.programs))
        self.selector = selectors.DefaultSelector()
        self.stop_reason: str | None = None  # a signal's name, or "giving up"
        self.signals_received = 0
        self.first_signal: tuple[int, float] | None = None  # (signal, when)
        self.started_at = time.monotonic()

    # Output ------------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self.line("supervise", f"{time.strftime('%H:%M:%S')} {message}")

    def line(self, name: str, text: str) -> None:
        try:
            self.out.write(f"{name:<{self.width}} | {text}\n")
            self.out.flush()
        except (OSError, ValueError):  # the terminal is gone (SIGHUP follows): keep going, silently
            pass

    def pump(self, timeout: float) -> None:
        """Print what the children wrote, waiting up to ``timeout`` seconds (less if a signal arrives)."""
        for key, _ in self.selector.select(max(timeout, 0)):
            fd = key.fd
            if key.data is None:  # the signal wake-up pipe
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 512)
                continue
            output: Output = key.data
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                if output.pending:
                    self.line(output.name, output.pending.decode(errors="replace"))
                self.selector.unregister(fd)
                os.close(fd)
                continue
            *lines, output.pending = (output.pending + chunk).split(b"\n")
            for raw in lines:
                self.line(output.name, raw.decode(errors="replace").rstrip("\r"))

    def drain(self, timeout: float) -> None:
        """Print the rest of the children's output, until every pipe is closed or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while any(key.data is not None for key in self.selector.get_map().values()) and time.monotonic() < deadline:
            self.pump(0.05)

    # Children ----------------------------------------------------------------------------------

    def start(self, child: Child) -> None:
        read, write = os.pipe()
        try:
            process = subprocess.Popen(  # noqa: S603  (the programs are make_run_programs' own commands)
                child.program.argv,
                cwd=ROOT,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=write,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # safe here: the supervisor has no other thread
            )
        except OSError as exc:
            os.close(read)
            os.close(write)
            self.say(f"{child.program.name} cannot be started: {exc}")
            self.died(child, ran_for=0.0)
            return
        os.close(write)
        os.set_blocking(read, False)
        self.selector.register(read, selectors.EVENT_READ, Output(child.program.name))
        child.process, child.started_at, child.restart_at = process, time.monotonic(), None
        if not self.quiet or child.restarts:
            self.say(f"started {child.program.name} (pid {process.pid}): {' '.join(child.program.argv)}")

    def reap(self, child: Child, *, block: bool = False) -> bool:
        """If the child's main process has exited: kill what is left of its group, log it, return True."""
        process = child.process
        if process is None:
            return False
        # Look without reaping: the zombie keeps its pid (the group's id) from being reused meanwhile.
        if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)) is None:
            return False
        killpg(process.pid, signal.SIGKILL)  # a killed Celery's pool, a killed gunicorn's workers
        code = process.wait()
        child.process = None
        ran_for = time.monotonic() - child.started_at
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        self.say(f"{child.program.name} (pid {process.pid}) {how} after {ran_for:.1f} s")
        if self.stop_reason is None:
            self.died(child, ran_for=ran_for)
        return True

    def died(self, child: Child, *, ran_for: float) -> None:
        """Schedule the restart with back-off, or give up on a child that keeps dying right after start."""
        if ran_for >= self.stable_after:
            child.delay, child.quick_deaths = self.first_delay, 0
        else:
            child.quick_deaths += 1
        if child.quick_deaths >= self.give_up_after:
            self.say(
                f"{child.program.name} died {child.quick_deaths} times in a row within {self.stable_after:g} s "
                "of starting: giving up, stopping everything"
            )
            self.stop_reason = "giving up"
            return
        child.restarts += 1
        child.restart_at = time.monotonic() + child.delay
        self.say(f"restarting {child.program.name} in {child.delay:g} s (restart {child.restarts})")
        child.delay = min(child.delay * 2, self.max_delay)

    # Signals -----------------------------------------------------------------------------------

    def signal_received(self, signum: int, _frame: object) -> None:
        now = time.monotonic()
        if self.first_signal is None:
            self.first_signal = (signum, now)
        elif signum == signal.SIGTERM and self.first_signal[0] == signum and now - self.first_signal[1] < 1:
            # The same SIGTERM twice: make forwards the SIGTERM it gets to its child, which a SIGTERM
            # to the process group has reached already. One stop, not a stop and then a kill.
            return
        self.signals_received += 1
        if self.stop_reason is None:
            self.stop_reason = signal.Signals(signum).name

    def signals_install(self) -> None:
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        self.selector.register(read, selectors.EVENT_READ, None)
        signal.set_wakeup_fd(write)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.signal_received)

    # The loop ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Start every program and keep them running until a stop signal (0) or giving up (1)."""
        self.signals_install()
        self.started_at = time.monotonic()
        for child in self.children:
            if not (child.program.after_ready and self.ready is not None):
                self.start(child)
        while self.stop_reason is None:
            due = [c.restart_at for c in self.children if c.restart_at is not None]
            self.pump(min([0.2, *(at - time.monotonic() for at in due)]))
            for child in self.children:
                self.reap(child)
            self.announce_when_ready()
            now = time.monotonic()
            for child in self.children:
                if self.stop_reason is None and child.restart_at is not None and child.restart_at <= now:
                    self.start(child)
        self.stop(self.stop_reason)
        return 1 if self.stop_reason == "giving up" else 0

    def announce_when_ready(self) -> None:
        """Once the ready address accepts a connection: print the message, start the programs that wait."""
        if self.ready is None:
            return
        host, port, message = self.ready
        try:
            socket.create_connection((host, port), timeout=0.05).close()
        except OSError:
            if time.monotonic() - self.started_at < self.ready_timeout:
                return
        else:
            self.say(message)
        self.ready = None
        for child in self.children:
            if child.program.after_ready and child.process is None and child.restart_at is None:
                self.start(child)

    def stop(self, reason: str) -> None:
        running = [c for c in self.children if c.process is not None]
        self.say(f"stopping ({reason}): SIGTERM to {', '.join(c.program.name for c in running) or 'nothing'}")
        signals_before = self.signals_received
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while running and time.monotonic() < deadline and self.signals_received == signals_before:
            self.pump(min(0.1, deadline - time.monotonic()))
            running = [c for c in running if not self.reap(c)]
        for child in running:
            assert child.process is not None
            why = "a second signal" if self.signals_received > signals_before else f"{self.stop_timeout:g} s"
            self.say(f"{child.program.name} (pid {child.process.pid}) still running after {why}: SIGKILL")
            killpg(child.process.pid, signal.SIGKILL)
            self.reap(child, block=True)
        self.drain(0.5)
        self.say("stopped")


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children started in sessions of their own included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] not in {"Z", "X"}:
                    parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the supervisor dies (even of SIGKILL), not live on."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def make_run_programs(*, bind: str, web_workers: int, threads: int, concurrency: int) -> list[Program]:
    gunicorn, celery = str(BIN / "gunicorn"), str(BIN / "celery")
    web = f"config.wsgi -c config/gunicorn.py --bind {bind} --workers {web_workers} --threads {threads}"
    # Requests still running 5 s after SIGTERM are cut, within the supervisor's 8 s to stop.
    web += " --graceful-timeout 5"
    # --preload: Django and the models are loaded once, in the master, before it listens; the workers
    # fork with them (no request waits for a worker to load). No control socket: two instances on
    # one machine would share gunicorn's default ~/.gunicorn/gunicorn.ctl.
    web += " --preload --no-control-socket"
    level = os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO"  # as config/settings.py reads it
    web += f" --log-level {level.lower()}"
    worker = f"-q -A config worker --loglevel={level} --concurrency={concurrency}"  # -q: no banner
    beat = f"-q -A config beat --loglevel={level}"
    return [
        Program("web", [gunicorn, *web.split()]),
        Program("worker", [celery, *worker.split()], after_ready=True),
        Program("beat", [celery, *beat.split()], after_ready=True),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m config.supervise",
        description="Run gunicorn, a Celery worker and beat; restart them; stop them cleanly.",
    )
    parser.add_argument("--bind", default="127.0.0.1:8000", help="gunicorn's address (default %(default)s)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--quiet", action="store_true", help="no line for each first start")
    parser.add_argument("--ready-message", help="printed once gunicorn accepts connections on --bind")
    args = parser.parse_args(argv)
    programs = make_run_programs(
        bind=args.bind, web_workers=args.web_workers, threads=args.threads, concurrency=args.concurrency
    )
    host, _, port = args.bind.rpartition(":")
    ready = (host.strip("[]"), int(port), args.ready_message) if args.ready_message else None
    return Supervisor(programs, quiet=args.quiet, ready=ready).run()


if __name__ == "__main__":
    sys.exit(main())
