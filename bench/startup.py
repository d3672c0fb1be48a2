"""How long ``make run`` takes to serve, and to stop: on a fresh data directory, then again.

    .venv/bin/python bench/startup.py            # fresh start + Ctrl-C, second start + SIGTERM
    .venv/bin/python bench/startup.py --runs 4   # more restarts

Each run starts ``make run`` on a free port in a session of its own, with a data directory and a
static-files directory of its own (the first run finds both empty, as a fresh clone does; the venv
is the existing one, so pip is not timed), and prints the seconds from the command to the first 200
from ``/api/v1/comments?site=demo&thread=/x`` and from ``/healthz``, then sends the stop signal to
the command's process group (SIGINT first, as Ctrl-C does, then SIGTERM, alternating) and prints the
seconds until the command has exited and every process it started is gone, with its exit status and
anything it wrote to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.supervise import descendants  # noqa: E402

# Not in a shell's environment when it types make run: the services (make run is the embedded
# default), and the settings module that importing config (above) sets in this process.
SHELL_UNSET = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def first_200(url: str, started: float, process: subprocess.Popen[bytes], timeout: float) -> float:
    while time.monotonic() - started < timeout:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError(f"the command exited ({process.returncode}) before {url} answered 200")
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")


def run_once(command: list[str], env: dict[str, str], port: int, signum: int, log: Path) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    with (log.with_suffix(".out")).open("wb") as out, (log.with_suffix(".err")).open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True)
    try:
        api = first_200(f"{base}/api/v1/comments?site=demo&thread=/x", started, process, timeout=300)
        health = first_200(f"{base}/healthz", started, process, timeout=300)
        time.sleep(1)  # let the worker and beat finish starting: the stop is measured on a settled stack
        processes = descendants(process.pid)
        stopping = time.monotonic()
        os.killpg(process.pid, signum)
        code = process.wait(timeout=60)
        while any(alive(pid) for pid in processes) and time.monotonic() - stopping < 60:
            time.sleep(0.02)
        stopped = time.monotonic() - stopping
        left = sorted(pid for pid in processes if alive(pid))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in descendants(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return {
        "api": api,
        "healthz": health,
        "signal": signal.Signals(signum).name,
        "stop": stopped,
        "status": code,
        "left": left,
        "stderr": log.with_suffix(".err").read_text(errors="replace").strip(),
        "lines": len(log.with_suffix(".out").read_text(errors="replace").splitlines()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="the fresh start, then restarts (default 2)")
    parser.add_argument("--command", default="make run", help="what to time (default %(default)r)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the logs")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="moderato-startup-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SHELL_UNSET}
    env |= {"PORT": str(port), "MODERATO_DATA_DIR": str(scratch / "var"), "STATIC_ROOT": str(scratch / "static")}
    print(f"{args.command!r} on port {port}, data in {scratch}")
    print("| run | API 200, s | /healthz 200, s | stop signal | stopped in, s | exit status | stdout lines | stderr |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    failed = False
    for n in range(args.runs):
        signum = signal.SIGINT if n % 2 == 0 else signal.SIGTERM
        result = run_once(args.command.split(), env, port, signum, scratch / f"run{n + 1}")
        label = "fresh" if n == 0 else f"again ({n})"
        status = result["status"]
        print(
            f"| {label} | {result['api']:.1f} | {result['healthz']:.1f} | {result['signal']} | {result['stop']:.1f} "
            f"| {status} | {result['lines']} | {result['stderr'] or '(empty)'} |"
        )
        if result["left"]:
            print(f"  processes left behind: {result['left']}")
            failed = True
    if not args.keep:
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
