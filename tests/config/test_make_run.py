"""``make run`` itself, stopped as a terminal (SIGINT) and a process manager (SIGTERM) stop it.

The signal goes to make's whole process group, as Ctrl-C and ``kill -- -PGID`` send it: within 10 s
every process it started is gone (gunicorn's, Celery's pool included, in sessions of their own),
make exits with the status of the signal (130 or 143 in a shell; 0 if it ever ends first), and
nothing is written to stderr. The second start skips prepare_run (its run stamp holds).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from config.supervise import descendants
from tests.config.test_supervise import alive, embedded_env, free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for_200(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        assert process.poll() is None, f"make run exited with {process.returncode}"
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


@pytest.mark.integration
def test_make_run_stops_on_sigint_and_sigterm_to_its_process_group_within_10_s(tmp_path):
    port = free_port()
    env = embedded_env(tmp_path / "var") | {"PORT": str(port), "STATIC_ROOT": str(tmp_path / "static")}
    env.pop("MODERATO_WORKER_HEARTBEAT_SECONDS")  # make run's own settings, except where the data lives
    env.pop("LOG_LEVEL", None)
    stamp = tmp_path / "var" / "prepare-run.json"
    stamps = []
    for signum, statuses in ((signal.SIGINT, {0, -signal.SIGINT}), (signal.SIGTERM, {0, -signal.SIGTERM})):
        out, err = tmp_path / f"{signum.name}.out", tmp_path / f"{signum.name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            make = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env=env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            wait_for_200(f"http://127.0.0.1:{port}/healthz", make, timeout=180)  # the worker's heartbeat too
            processes = descendants(make.pid)
            assert len(processes) >= 6, processes  # supervisor, gunicorn and 2 workers, celery and its pool, beat
            started = time.monotonic()
            os.killpg(make.pid, signum)
            code = make.wait(timeout=10)
            while any(alive(pid) for pid in processes) and time.monotonic() - started < 10:
                time.sleep(0.05)
            took = time.monotonic() - started
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGKILL)
            for pid in descendants(make.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        output = out.read_text(errors="replace")
        assert [pid for pid in processes if alive(pid)] == [], output[-3000:]
        assert took < 10, f"{signum.name}: stopped in {took:.1f} s"
        assert code in statuses, (signum.name, code, output[-3000:])
        assert err.read_text() == "", err.read_text()
        assert "SIGKILL" not in output and "Traceback" not in output, output[-3000:]
        assert output.splitlines()[0].startswith(f"Admin: http://127.0.0.1:{port}/admin/ user admin password ")
        assert f"Serving http://127.0.0.1:{port}/" in output
        stamps.append((stamp.stat().st_mtime_ns, output.splitlines()[:2]))
    # The second start found nothing to prepare: prepare_run did not run (it rewrites the stamp), and
    # the lines it printed the first time were printed again.
    assert stamps[1] == stamps[0]
