"""The import contracts bite: a wrong import planted in a copy of the code breaks each of them.

``lint-imports`` on a copy of the packages keeps every contract; with one wrong import planted, it
reports that import's contract broken (one planted import at a time).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("comments", "moderation", "config", "ml")

# contract id -> (module file, the wrong import appended to it)
PLANTED = {
    "apps": ("ml/vocabulary.py", "import config.settings"),
    "ml": ("ml/corpus.py", "import django.db"),
    "public-side": ("comments/selectors.py", "from moderation import policy"),
    "policy": ("moderation/policy.py", "import django.utils.timezone"),
    "run-stamp": ("moderation/run_stamp.py", "import django.conf"),
    "models": ("moderation/compat/models.py", "from moderation import sites"),
    "compat": ("moderation/notifications.py", "from moderation.compat import languages"),
    "public-layers": ("comments/models.py", "from comments import services"),
    "moderation-layers": ("moderation/scoring.py", "from moderation import services"),
}


def contracts() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {contract["id"]: contract["name"] for contract in config["tool"]["importlinter"]["contracts"]}


def lint_imports(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )


def broken_names(output: str) -> set[str]:
    # Names may wrap over lines in the report; compare with whitespace squeezed.
    text = " ".join(output.split())
    return {name for name in contracts().values() if f"{' '.join(name.split())} BROKEN" in text}


def test_every_contract_has_a_planted_import():
    assert set(PLANTED) == set(contracts())


def test_each_contract_fails_on_its_planted_wrong_import(tmp_path):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("artifacts", "corpus", "__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    clean = lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    names = contracts()
    for contract, (module, line) in PLANTED.items():
        source = (tmp_path / module).read_text()
        (tmp_path / module).write_text(f"{source}\n{line}  # planted by tests/test_contracts.py\n")
        planted = lint_imports(tmp_path)
        (tmp_path / module).write_text(source)
        assert planted.returncode != 0, f"{line!r} in {module} broke nothing"
        assert names[contract] in broken_names(planted.stdout), planted.stdout
