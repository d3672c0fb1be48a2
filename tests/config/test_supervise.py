"""``make run``'s supervisor (config/supervise.py), run as a real process.

Small programs (``sh``, ``sleep``) show the back-off, the giving up, the output and the stop; the last
test runs the very stack of ``make run`` (gunicorn, a Celery worker and beat on SQLite and the file
broker, in a data directory of its own), kills its worker and stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# Not in a shell's environment when it types make run: the services (make run is the embedded
# default), and the settings module pytest-django sets in this process.
SHELL_UNSET = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}

SUPERVISE = """
import json, sys
from config.supervise import Program, Supervisor
spec = json.loads(sys.argv[1])
programs = [Program(name, argv) for name, argv in spec["programs"]]
sys.exit(Supervisor(programs, **spec["options"]).run())
"""


def supervise(tmp_path: Path, programs: dict[str, list[str]], **options: float) -> tuple[subprocess.Popen[bytes], Path]:
    """Start a supervisor of ``programs`` in a session of its own, as a terminal would start it."""
    log = tmp_path / "supervise.log"
    spec = json.dumps({"programs": list(programs.items()), "options": options})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [PYTHON, "-c", SUPERVISE, spec], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, log


def wait_for(log: Path, pattern: str, timeout: float = 30, count: int = 1) -> list[re.Match[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(re.finditer(pattern, log.read_text(errors="replace")))
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not {count} times in:\n{log.read_text(errors='replace')[-6000:]}")


def started_pid(log: Path, name: str, nth: int = 1, timeout: float = 30) -> int:
    return int(wait_for(log, rf"started {name} \(pid (\d+)\)", timeout, count=nth)[nth - 1][1])


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


def gone(*pids: int, within: float = 3) -> bool:
    """True once none of ``pids`` is alive, waiting up to ``within`` seconds: a process sent SIGKILL ends
    when the kernel next runs it, which on a busy machine can be a moment after the signal."""
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(pid) for pid in pids)


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
                    members.append(int(entry.name))
    return members


def stop(
    process: subprocess.Popen[bytes], signum: int | None = signal.SIGTERM, timeout: float = 10
) -> tuple[int, float]:
    """Signal the supervisor (or not: None); (its exit code, seconds it took). Kills its session if it overruns."""
    started = time.monotonic()
    if signum is not None:
        process.send_signal(signum)
    try:
        code = process.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return code, time.monotonic() - started


@pytest.fixture
def cleanup():
    """What a failing test leaves behind is killed: the supervisors, and every child's process group."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    yield lambda process, log: started.append((process, log))
    for process, log in started:
        pgids = [int(pid) for pid in re.findall(r"started \S+ \(pid (\d+)\)", log.read_text(errors="replace"))]
        for pgid in [process.pid, *pgids]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        process.wait()


def test_it_restarts_a_dying_child_with_a_doubling_back_off_and_gives_up_saying_so(tmp_path, cleanup):
    supervisor, log = supervise(
        tmp_path,
        {"crasher": ["sh", "-c", "echo crashing; exit 3"], "steady": ["sleep", "600"]},
        first_delay=0.1,
        max_delay=0.4,
        stable_after=5,
        give_up_after=5,
    )
    cleanup(supervisor, log)
    steady = started_pid(log, "steady")
    assert supervisor.wait(timeout=30) == 1
    output = log.read_text()
    delays = re.findall(r"restarting crasher in ([\d.]+) s", output)
    assert delays == ["0.1", "0.2", "0.4", "0.4"]
    assert output.count("started crasher (pid") == 5 and output.count("exited with code 3") == 5
    assert "crasher died 5 times in a row within 5 s of starting: giving up, stopping everything" in output
    assert len(re.findall(r"^crasher +\| crashing$", output, re.MULTILINE)) == 5
    assert gone(steady)  # giving up stops the others too


def test_it_starts_the_back_off_over_once_a_child_has_stayed_up(tmp_path, cleanup):
    supervisor, log = supervise(
        tmp_path, {"napper": ["sleep", "0.6"]}, first_delay=0.1, max_delay=0.4, stable_after=0.5, give_up_after=2
    )
    cleanup(supervisor, log)
    wait_for(log, r"restarting napper", count=4)
    assert stop(supervisor)[0] == 0
    assert re.findall(r"restarting napper in ([\d.]+) s", log.read_text()) == ["0.1"] * 4


def test_it_kills_what_a_dead_child_left_behind_before_starting_it_again(tmp_path, cleanup):
    # Like a killed Celery's pool, or a killed gunicorn's workers still holding the port.
    parent = ["sh", "-c", "sleep 600 & echo left $!; sleep 0.5; exit 5"]
    supervisor, log = supervise(tmp_path, {"parent": parent}, first_delay=5)
    cleanup(supervisor, log)
    left = int(wait_for(log, r"left (\d+)")[0][1])
    wait_for(log, r"restarting parent in 5 s")
    assert gone(left)  # SIGKILL was sent before that line, long before the restart 5 s on
    assert "started parent" not in log.read_text().split("restarting parent in 5 s", 1)[1]
    assert stop(supervisor)[0] == 0


def test_it_stops_on_ctrl_c_with_one_sigterm_to_each_child(tmp_path, cleanup):
    # What a child receives: Ctrl-C goes to the terminal's process group, which holds the supervisor only.
    child = "trap 'echo got INT' INT; trap 'echo got TERM; exit 0' TERM; echo up; while :; do sleep 0.05; done"
    supervisor, log = supervise(tmp_path, {"one": ["sh", "-c", child], "two": ["sh", "-c", child]})
    cleanup(supervisor, log)
    wait_for(log, r"(one|two) +\| up", count=2)
    os.killpg(supervisor.pid, signal.SIGINT)
    code, _ = stop(supervisor, None)
    output = log.read_text()
    assert code == 0, output
    assert "stopping (SIGINT): SIGTERM to one, two" in output
    assert output.count("| got TERM") == 2 and "| got INT" not in output
    assert "stopped" in output.splitlines()[-1]


def test_it_kills_what_does_not_stop_within_the_timeout_and_a_second_signal_kills_at_once(tmp_path, cleanup):
    stubborn = ["sh", "-c", "trap '' TERM; sleep 600 & echo grandchild $!; wait"]
    supervisor, log = supervise(tmp_path, {"stubborn": stubborn}, stop_timeout=1)
    cleanup(supervisor, log)
    grandchild = int(wait_for(log, r"grandchild (\d+)")[0][1])
    code, took = stop(supervisor)
    assert code == 0 and 1 <= took < 3
    assert "stubborn (pid" in log.read_text() and "still running after 1 s: SIGKILL" in log.read_text()
    assert gone(grandchild)  # the whole process group, not only the child it started

    (tmp_path / "again").mkdir()
    supervisor, log = supervise(tmp_path / "again", {"stubborn": stubborn}, stop_timeout=60)
    cleanup(supervisor, log)
    grandchild = int(wait_for(log, r"grandchild (\d+)")[0][1])
    supervisor.send_signal(signal.SIGTERM)
    wait_for(log, "stopping")
    code, took = stop(supervisor, signal.SIGINT)  # Ctrl-C while it stops
    assert code == 0 and took < 3
    assert "still running after a second signal: SIGKILL" in log.read_text()
    assert gone(grandchild)


def test_a_sigterm_twice_within_a_second_is_one_stop_not_a_kill(tmp_path, cleanup):
    # What a SIGTERM to make's process group does: make passes it on to the supervisor, which has it already.
    slow = ["sh", "-c", "trap 'sleep 1.5; echo done; exit 0' TERM; echo up; while :; do sleep 0.05; done"]
    supervisor, log = supervise(tmp_path, {"slow": slow})
    cleanup(supervisor, log)
    wait_for(log, r"slow +\| up")
    supervisor.send_signal(signal.SIGTERM)
    supervisor.send_signal(signal.SIGTERM)
    code, took = stop(supervisor, None)
    output = log.read_text()
    assert code == 0 and took < 5, output
    assert "slow      | done" in output and "SIGKILL" not in output


def test_it_prefixes_every_line_with_the_program_name(tmp_path, cleanup):
    supervisor, log = supervise(
        tmp_path, {"web": ["sh", "-c", "echo one; echo two >&2; printf 'no newline'; sleep 600"]}
    )
    cleanup(supervisor, log)
    wait_for(log, r"web +\| two")  # the last, unfinished line is printed when the pipe closes
    stop(supervisor)
    lines = log.read_text().splitlines()
    assert "web       | one" in lines and "web       | two" in lines and "web       | no newline" in lines


def test_its_children_die_with_it_even_when_it_is_killed(tmp_path, cleanup):
    supervisor, log = supervise(tmp_path, {"sleeper": ["sleep", "600"]})
    cleanup(supervisor, log)
    sleeper = started_pid(log, "sleeper")
    os.kill(supervisor.pid, signal.SIGKILL)  # no chance to stop anything: the kernel tells the child
    supervisor.wait()
    assert gone(sleeper, within=5)


# The stack of ``make run`` -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_env(data_dir: Path) -> dict[str, str]:
    """``make run``'s environment: SQLite and the file broker in a data directory of their own."""
    env = {k: v for k, v in os.environ.items() if k not in SHELL_UNSET}
    return env | {
        "MODERATO_DATA_DIR": str(data_dir),
        "MODERATO_METRICS_DIR": str(data_dir / "metrics"),
        "MODERATO_WORKER_HEARTBEAT_SECONDS": "1",
        "MODERATO_SUBMIT_RATE": "",
    }


def comment_post(base: str, text: str) -> str:
    """Post a comment; return its status URL (which carries the status token)."""
    body = {"site": "demo", "thread": "/news/bridge", "name": "Alice", "comment": text}
    response = httpx.post(f"{base}/api/v1/comments", json=body, timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["status_url"])


def wait_until_decided(base: str, status_url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = "pending"
    while time.monotonic() < deadline:
        status = httpx.get(status_url, timeout=10).json()["status"]
        if status != "pending":
            return status
        time.sleep(0.2)
    raise AssertionError(f"{status_url} is still {status} after {timeout} s")


def healthz(base: str) -> dict:
    return httpx.get(f"{base}/healthz", timeout=10).json()


@pytest.mark.integration
def test_make_runs_stack_restarts_a_killed_worker_and_stops_cleanly_on_sigterm(tmp_path, cleanup):
    env = embedded_env(tmp_path / "var")
    for command in (["migrate", "--noinput", "-v0"], ["demo_setup"]):
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    args = [PYTHON, "-m", "config.supervise", "--bind", f"127.0.0.1:{port}", "--web-workers", "1", "--concurrency", "1"]
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    cleanup(supervisor, log)
    groups = {name: started_pid(log, name) for name in ("web", "worker", "beat")}
    wait_for(log, r"worker +\| .*celery@\S+ ready\.", timeout=120)
    wait_for(log, r"web +\| .*Listening at", timeout=120)
    assert wait_until_decided(base, comment_post(base, "Great reporting."), timeout=60) != "pending"

    worker = groups["worker"]
    pool = [pid for pid in group_members(worker) if pid != worker]
    assert pool, "the worker's pool processes"
    os.kill(worker, signal.SIGKILL)
    wait_for(log, rf"worker \(pid {worker}\) was killed by SIGKILL")
    assert gone(*pool)  # its orphaned pool is killed too
    comment = comment_post(base, "Thanks for this piece.")  # posted while no worker runs
    assert wait_until_decided(base, comment, timeout=90) != "pending"
    restarted = started_pid(log, "worker", nth=2)
    assert "restarting worker in 1 s (restart 1)" in log.read_text()
    workers = healthz(base)["checks"]["workers"]
    assert workers["ok"] and workers["last_heartbeat_seconds_ago"] < 3, workers  # the new worker beats
    groups["worker"] = restarted

    code, took = stop(supervisor, timeout=15)
    output = log.read_text(errors="replace")
    assert code == 0, output[-4000:]
    assert took < 10, f"stopped in {took:.1f} s"
    for name, pgid in groups.items():
        assert group_members(pgid) == [], f"{name} left processes behind"
    assert "Segmentation fault" not in output and "Traceback" not in output
    assert "stopping (SIGTERM): SIGTERM to web, worker, beat" in output and output.rstrip().endswith("stopped")
