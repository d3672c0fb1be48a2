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
