"""The README's examples, run as written against a live ``make run`` (issue 16, item 3).

Every fenced shell block of README.md is either run here or carries, right before its fence, the
marker ``<!-- not run in tests: why -->`` with a visible italic note. The blocks that run are taken
in the README's order: each command is run by bash as written, with only the live instance put in
for the README's placeholders (the port; the comment id and tokens the README's own post answered;
the key its ``create_api_key`` example printed; the token its ``create_moderator_token`` example
printed; ``var/``, which is ``make run``'s data directory), and its answer is compared with the
README's ``# ...`` lines by shape: the status code (``202 ...``, ``# 204``; 200 unless one is given)
and the JSON keys at every level (all of them, or at least those shown where the README writes
``...``); a text answer must contain the README's text between its ``...`` with any number standing
for any number. One instance serves every block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.supervise import descendants
from tests.config.test_make_run import wait_for_200
from tests.config.test_supervise import embedded_env, free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
MARKER = re.compile(r"^<!-- not run in tests: (?P<why>\S.*?) -->$")
NOTE = re.compile(r"^\*Not run in tests: \S.*\*$")
# curl as the README calls it, but also printing the status code on a line of its own at the end
CURL_WITH_STATUS = "curl() { command curl -w '\\n%{http_code}' \"$@\"; }\n"


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str | None = None
    note: bool = False


@dataclass
class Example:
    command: str
    note: str = ""  # the command's trailing comment
    output: list[str] = field(default_factory=list)  # the comment lines under it, without "# "

    @property
    def expected(self) -> str:
        return "\n".join(self.output) if self.output else self.note


def readme_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        block = Block(index + 1, opening[1], "\n".join(lines[index + 1 : end]))
        if index >= 1 and (marker := MARKER.match(lines[index - 1])):
            block.marker = marker["why"]
            block.note = index >= 2 and bool(NOTE.match(lines[index - 2]))
        blocks.append(block)
        index = end + 1
    return blocks


def shell_scan(text: str) -> tuple[bool, int | None]:
    """(whether every quote is closed and no line continues, where a comment outside quotes starts)."""
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\":
            index += 1
        elif quote == '"':
            quote = None if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return True, index
        index += 1
    return quote is None and not text.rstrip().endswith("\\"), None


def block_examples(text: str) -> list[Example]:
    examples: list[Example] = []
    pending = ""
    for line in text.splitlines():
        if not pending and line.lstrip().startswith("#"):
            examples[-1].output.append(re.sub(r"^\s*# ?", "", line))
            continue
        pending = f"{pending}\n{line}" if pending else line
        complete, comment = shell_scan(pending)
        if complete:
            command, note = (pending, "") if comment is None else (pending[:comment], pending[comment + 1 :])
            examples.append(Example(command.rstrip(), note.strip()))
            pending = ""
    assert not pending, f"an unfinished command: {pending}"
    return examples


def readme_json(text: str) -> Any:
    """The README's JSON with ``...`` where it leaves things out: ``{...}`` and ``, ...}`` become the
    key ``...`` (these keys and maybe more), ``, ...]`` and ``"..."`` values are dropped or kept as text."""
    text = re.sub(r"\{\s*\.\.\.\s*\}", '{"...": null}', text)
    text = re.sub(r",\s*\.\.\.\s*\}", ', "...": null}', text)
    text = re.sub(r",\s*\.\.\.\s*\]", "]", text)
    return json.loads(text)


def shape_compare(expected: Any, actual: Any, where: str = "answer") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        shown = set(expected) - {"..."}
        if "..." in expected:
            assert shown <= set(actual), f"{where}: keys {sorted(shown - set(actual))} missing from {sorted(actual)}"
        else:
            assert shown == set(actual), (
                f"{where}: the README shows keys {sorted(shown)}, the answer has {sorted(actual)}"
            )
        for key in shown:
            shape_compare(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        if expected and actual:
            shape_compare(expected[0], actual[0], f"{where}[0]")


def text_compare(expected: str, actual: str, where: str) -> None:
    """Each piece of the README's text between ``...`` is in the answer, in order; a number stands for any."""
    pieces = [piece.strip() for piece in re.split(r"\.\.\.|…", expected) if piece.strip()]
    pattern = ".*?".join(
        r"\s+".join(re.sub(r"\d+", r"\\d+", re.escape(word)) for word in piece.split()) for piece in pieces
    )
    assert re.search(pattern, actual, re.DOTALL), f"{where}: {expected!r} not found in:\n{actual[-3000:]}"


@dataclass
class Instance:
    """A live ``make run`` and what the README's examples have created on it so far."""

    base: str
    data_dir: Path
    env: dict[str, str]
    substitutions: dict[str, str] = field(default_factory=dict)  # README placeholder (a regex) -> live value
    last_json: Any = None

    def command(self, text: str) -> str:
        text = text.replace("http://127.0.0.1:8000", self.base)
        text = re.sub(r"(?<=[ '])var/", f"{self.data_dir}/", text)
        for placeholder, value in self.substitutions.items():
            text = re.sub(placeholder, value.replace("\\", "\\\\"), text)
        return text

    def run(self, text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", CURL_WITH_STATUS + self.command(text)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


def wait_until_published(status_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (status := httpx.get(status_url, timeout=10).json()["status"]) == "pending":
        assert time.monotonic() < deadline, f"{status_url} still pending after {timeout} s"
        time.sleep(0.2)
    assert status == "published", status_url


def curl_example(instance: Instance, example: Example, where: str) -> None:
    result = instance.run(example.command)
    assert result.returncode == 0, f"{where}: {result.stderr}"
    answer, _, status = result.stdout.rpartition("\n")
    expected = example.expected
    code = re.match(r"^(?:HTTP/1\.1 )?(\d{3})\b\s*", expected)
    wanted_status = int(code[1]) if code else 200
    assert int(status) == wanted_status, f"{where}: status {status}, the README says {wanted_status}: {answer[-2000:]}"
    if code and not expected.startswith("HTTP/"):
        expected = expected[code.end() :]
    actual: Any = None
    if answer.lstrip().startswith(("{", "[")):
        actual = json.loads(answer)
    if expected == "the same":
        assert actual == instance.last_json, f"{where}: not the same answer as the command before"
    elif expected.startswith("{"):
        shape_compare(readme_json(expected), actual, where)
    elif expected:
        text_compare(expected, answer, where)
    instance.last_json = actual

    if example.command.lstrip().startswith("curl -s -X POST http://127.0.0.1:8000/api/v1/comments "):
        # The README's post: what the examples after it call comment 1, its status token and commenter token.
        token = re.search(r"token=([^&\s\"]+)", actual["status_url"])
        assert token, actual
        instance.substitutions |= {
            r"comments/1\b": f"comments/{actual['id']}",
            r"token=Xq3\.\.\.": f"token={token[1]}",
            r"eyJzIjox\.\.\.": actual["commenter_token"],
        }
        wait_until_published(actual["status_url"])  # the next examples read and edit it published
    elif " -X DELETE " in example.command:
        # The README's comment is gone: the report example reports another published comment.
        body = {"site": "demo", "thread": "/news/bridge", "name": "Bob", "comment": "Thanks for the update."}
        posted = httpx.post(f"{instance.base}/api/v1/comments", json=body, timeout=10).json()
        wait_until_published(posted["status_url"])
        instance.substitutions[r"comments/1\b"] = f"comments/{posted['id']}"


def manage_example(instance: Instance, example: Example, where: str) -> None:
    result = instance.run(example.command)
    assert result.returncode == 0, f"{where}: exit status {result.returncode}: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, f"{where}: {result.stderr[-2000:]}"
    if "create_api_key" in example.command:
        # "prints the key": one line, the key, which the examples after it use for KEY and mod3f9c…
        assert re.fullmatch(r"mod[0-9a-f]{40}\n", result.stdout), f"{where}: {result.stdout!r}"
        key = result.stdout.strip()
        instance.substitutions |= {r"\bKEY\b": key, r"mod3f9c…": key}
    elif "create_moderator_token" in example.command:
        # prints the token, which the moderation API's examples after it send as mtk_7d2a…
        assert re.fullmatch(r"mtk_[0-9a-f]{48}\n", result.stdout), f"{where}: {result.stdout!r}"
        instance.substitutions[r"mtk_7d2a…"] = result.stdout.strip()
    elif example.output:
        text_compare(example.expected, result.stdout, where)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory):
    """One ``make run`` on a free port for every block, with a data directory of its own."""
    tmp_path = tmp_path_factory.mktemp("readme")
    port = free_port()
    env = embedded_env(tmp_path / "var") | {"PORT": str(port), "STATIC_ROOT": str(tmp_path / "static")}
    for name in ("MODERATO_WORKER_HEARTBEAT_SECONDS", "MODERATO_SUBMIT_RATE", "LOG_LEVEL", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(name, None)  # make run's own settings, except where the data lives
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_200(f"http://127.0.0.1:{port}/healthz", make, timeout=180)  # the worker's heartbeat too
        yield Instance(f"http://127.0.0.1:{port}", tmp_path / "var", env), log, port
    finally:
        processes = descendants(make.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            make.wait(timeout=15)
        for pid in [make.pid, *processes]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_every_shell_block_of_the_readme_is_run_here_or_marked_as_not_run():
    blocks = [block for block in readme_blocks(README.read_text()) if block.language in SHELL_LANGUAGES]
    assert len(blocks) >= 10
    for block in blocks:
        if block.marker:
            assert block.note, f"README.md:{block.line}: the marker wants a visible '*Not run in tests: ...*' above it"
            continue
        for example in block_examples(block.text):
            command = example.command.lstrip()
            assert command.startswith(("curl ", "make manage ")), (
                f"README.md:{block.line}: {command[:60]!r} is neither a curl nor a make manage example this test"
                " runs: mark the block '<!-- not run in tests: why -->'"
            )


def test_the_parsers_read_what_the_readme_writes():
    examples = block_examples(
        'curl -s -X POST x \\\n  -d \'{"a": "b # c",\n  "d": 1}\'\n# 202 {"id": 1, ...}\ncurl -s -X DELETE y   # 204\n'
    )
    assert [(e.command.split()[4], e.note, e.output) for e in examples] == [
        ("x", "", ['202 {"id": 1, ...}']),
        ("y", "204", []),
    ]
    assert readme_json('{"a": {...}, "b": [{"c": 1}, ...], "d": "Xq3..."}') == {
        "a": {"...": None},
        "b": [{"c": 1}],
        "d": "Xq3...",
    }
    shape_compare({"a": 1, "...": None}, {"a": 2, "b": 3})
    with pytest.raises(AssertionError, match="missing"):
        shape_compare({"a": {"b": 1, "...": None}}, {"a": {"c": 1}})
    with pytest.raises(AssertionError, match="the README shows keys"):
        shape_compare({"a": 1}, {"a": 1, "b": 2})  # an answer key the README does not show
    text_compare("Would create 412 thread(s) ... from WordPress", "Would create 3 thread(s) and x from WordPress", "t")
    with pytest.raises(AssertionError):
        text_compare("X-akismet-pro-tip: discard ... true", "X-akismet-pro-tip: discard\n\nfalse", "t")


@pytest.mark.integration
def untracked_files() -> set[str]:
    """Files in the checkout that git does not know or ignore (none outside a git checkout)."""
    listed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True
    )
    return {line[3:] for line in listed.stdout.splitlines() if line.startswith("?? ")}


def test_the_readmes_curl_and_make_manage_examples_answer_as_it_says(instance):
    live, log, port = instance
    readme = README.read_text()
    blocks = readme_blocks(readme)

    # make run's three lines as the README's block without a language shows them: the first two first,
    # the third once the site answers (the worker and beat may log before it)
    printed = next(block for block in blocks if block.language == "" and block.text.startswith("Admin: "))
    output = log.read_text(errors="replace").splitlines()
    for number, shown in enumerate(printed.text.splitlines()):
        pattern = re.escape(shown.replace("8000", str(port)))
        pattern = re.sub(r"<[^>]*>", ".+", pattern.replace(r"\<", "<").replace(r"\>", ">").replace(r"\ ", " "))
        pattern = re.sub(r"\d\d:\d\d:\d\d", r"\\d\\d:\\d\\d:\\d\\d", pattern)
        lines = output[number : number + 1] if number < 2 else output
        assert any(re.fullmatch(pattern, line) for line in lines), (shown, output[:10])

    wordpress = ROOT / "tests/fixtures/imports/wordpress.xml"
    shutil.copy(wordpress, live.data_dir / "planet.WordPress.2026-11-30.xml")  # the file the example imports

    untracked_before = untracked_files()
    ran = 0
    for block in blocks:
        if block.language not in SHELL_LANGUAGES or block.marker:
            continue
        for number, example in enumerate(block_examples(block.text), 1):
            where = f"README.md:{block.line} command {number} ({example.command.strip()[:70]!r})"
            if example.command.lstrip().startswith("curl "):
                curl_example(live, example, where)
            else:
                manage_example(live, example, where)
            ran += 1
    assert ran >= 12, ran
    # An example writes only under the data directory (var/): a reader who runs it leaves the checkout clean.
    assert untracked_files() == untracked_before
