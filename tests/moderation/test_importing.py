"""The importers, on export files written for these tests (tests/fixtures/imports/)."""

from __future__ import annotations

import gzip
import io
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from comments.models import Comment, Site, Thread
from comments.services import ip_hash
from moderation import importing

FIXTURES = Path(__file__).parents[1] / "fixtures" / "imports"
ROOT = Path(__file__).parents[2]


@pytest.fixture
def isso_db(tmp_path) -> Path:
    """Isso's database is a SQLite file: built from the committed script."""
    path = tmp_path / "comments.db"
    with sqlite3.connect(path) as connection:
        connection.executescript((FIXTURES / "isso.sql").read_text())
    connection.close()
    return path


@pytest.fixture
def files(isso_db) -> dict[str, Path]:
    return {
        "wordpress": FIXTURES / "wordpress.xml",
        "disqus": FIXTURES / "disqus.xml",
        "isso": isso_db,
        "remark42": FIXTURES / "remark42.jsonl",
    }


# What each fixture holds: the comments imported by status, the ones skipped by reason, and a reply
# whose parent is skipped (it is attached to the nearest imported ancestor, or made top-level).
EXPECTED = {
    "wordpress": {
        "statuses": {"published": 4, "held": 1, "rejected": 1},
        "skipped": {"trash": 1, "pingback or trackback": 1},
        "reply_of_skipped": ("wordpress:106", "wordpress:101"),
        "first": ("wordpress:101", datetime(2021, 3, 4, 10, 15, tzinfo=UTC), "203.0.113.5"),
    },
    "disqus": {
        "statuses": {"published": 3, "held": 1, "rejected": 1},
        "skipped": {"deleted": 2},
        "reply_of_skipped": ("disqus:7005", "disqus:7001"),
        "first": ("disqus:7001", datetime(2021, 3, 4, 10, 15, tzinfo=UTC), "203.0.113.5"),
    },
    "isso": {
        "statuses": {"published": 4, "held": 1},
        "skipped": {"deleted": 1},
        "reply_of_skipped": ("isso:5", None),
        "first": ("isso:1", datetime(2021, 3, 4, 10, 15, tzinfo=UTC), "203.0.113.0"),
    },
    "remark42": {
        "statuses": {"published": 4},
        "skipped": {"deleted": 1},
        "reply_of_skipped": ("remark42:c4d", "remark42:c1a"),
        "first": ("remark42:c1a", datetime(2021, 3, 4, 10, 15, tzinfo=UTC), "203.0.113.5"),
    },
}
SOURCES = list(EXPECTED)


def run_import(source: str, path: Path, *args: str, site: str = "planet") -> str:
    out = io.StringIO()
    call_command(f"import_{source}", str(path), "--site", site, *args, stdout=out)
    return out.getvalue()


def imported(site: Site) -> dict[str, Comment]:
    return {c.external_id: c for c in Comment.objects.filter(thread__site=site).select_related("thread", "parent")}


@pytest.mark.parametrize("source", SOURCES)
def test_it_imports_the_comments_with_their_statuses_threads_and_times(site, files, source):
    output = run_import(source, files[source])
    comments = imported(site)
    expected = EXPECTED[source]
    assert Counter(c.status for c in comments.values()) == Counter(expected["statuses"])
    assert set(Thread.objects.filter(site=site).values_list("key", flat=True)) == {
        "/news/bridge/",
        "/weather/dry-week/",
    }
    assert Thread.objects.get(site=site, key="/news/bridge/").title == "The bridge reopens"
    first_id, created_at, _ = expected["first"]
    first = comments[first_id]
    assert first.created_at == created_at
    assert first.author_name == "Alice"
    assert first.author_email == ("" if source == "remark42" else "alice@example.org")  # Remark42 keeps none
    assert first.body.startswith("Finally! It took them")
    assert first.reasons[0]["code"] == "imported" and first.decided_at is not None
    assert first.scores == {} and first.scoring_attempts == 0
    total = sum(expected["statuses"].values())
    assert f"Created 2 thread(s) and {total} comment(s)" in output
    # A new thread begins at its first comment: the site's close_after_days counts from there.
    for thread in Thread.objects.filter(site=site):
        assert thread.created_at == min(c.created_at for c in comments.values() if c.thread_id == thread.pk)


@pytest.mark.parametrize("source", SOURCES)
def test_it_keeps_parents_and_attaches_a_reply_of_a_skipped_comment_higher_up(site, files, source):
    run_import(source, files[source])
    comments = imported(site)
    reply, ancestor = EXPECTED[source]["reply_of_skipped"]
    assert (comments[reply].parent.external_id if comments[reply].parent else None) == ancestor
    second = next(c for c in comments.values() if c.body.startswith("Two years for a bridge"))
    assert second.parent == comments[EXPECTED[source]["first"][0]] == second.root
    if source == "wordpress":  # a reply to a reply: its root is the top of the chain
        assert comments["wordpress:103"].parent == comments["wordpress:102"]
        assert comments["wordpress:103"].root == comments["wordpress:101"]


@pytest.mark.parametrize("source", SOURCES)
def test_it_skips_trashed_and_deleted_comments(site, files, source):
    output = run_import(source, files[source])
    for reason, count in EXPECTED[source]["skipped"].items():
        assert f"{count} ({reason})" in output
    bodies = set(Comment.objects.values_list("body", flat=True))
    assert not {"A comment its author took back.", "A comment its author deleted.", "On a draft nobody saw."} & bodies
    assert "" not in bodies


@pytest.mark.parametrize("source", SOURCES)
def test_it_stores_addresses_only_as_the_apis_keyed_hash(site, files, source):
    run_import(source, files[source])
    first_id, _, address = EXPECTED[source]["first"]
    comment = Comment.objects.get(external_id=first_id)
    assert comment.ip_hash == ip_hash(address=address) and len(comment.ip_hash) == 64
    for row in Comment.objects.values():
        assert not any(address in str(value) for value in row.values())


@pytest.mark.parametrize("source", SOURCES)
def test_a_second_run_creates_nothing(site, files, source):
    run_import(source, files[source])
    before = sorted(Comment.objects.values_list("pk", "external_id", "status", "parent_id"))
    output = run_import(source, files[source])
    assert sorted(Comment.objects.values_list("pk", "external_id", "status", "parent_id")) == before
    assert Thread.objects.count() == 2
    assert f"Created 0 thread(s) and 0 comment(s) from {importing.SOURCES[source]}; {len(before)} already" in output


@pytest.mark.parametrize("source", SOURCES)
def test_a_dry_run_prints_what_it_would_create_and_changes_nothing(site, files, source):
    output = run_import(source, files[source], "--dry-run", "--verbosity", "2")
    assert not Comment.objects.exists() and not Thread.objects.exists()
    total = sum(EXPECTED[source]["statuses"].values())
    assert f"Would create 2 thread(s) and {total} comment(s)" in output
    assert "thread /news/bridge/" in output
    assert f"comment {EXPECTED[source]['first'][0]} /news/bridge/ published" in output


def test_it_imports_only_what_is_new_into_a_site_that_has_part_of_the_file(site, files):
    run_import("wordpress", files["wordpress"])
    Comment.objects.filter(external_id__in=["wordpress:102", "wordpress:103"]).delete()  # (103 answers 102)
    output = run_import("wordpress", files["wordpress"])
    assert "Created 0 thread(s) and 2 comment(s)" in output and "4 already imported" in output
    assert Comment.objects.get(external_id="wordpress:103").root.external_id == "wordpress:101"


def test_the_same_file_imports_into_two_sites(site, files):
    other = Site.objects.create(name="Other", public_key="other")
    run_import("wordpress", files["wordpress"])
    run_import("wordpress", files["wordpress"], site="other")
    assert Comment.objects.filter(thread__site=site).count() == Comment.objects.filter(thread__site=other).count() == 6


def test_a_gzipped_remark42_backup_imports_too(site, tmp_path):
    packed = tmp_path / "backup-planet-20210405.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "remark42.jsonl").read_bytes()))
    assert "Created 2 thread(s) and 4 comment(s)" in run_import("remark42", packed)


def test_thread_keys_are_paths_unless_urls_are_kept(site, files):
    run_import("disqus", files["disqus"], "--keep-urls")
    assert set(Thread.objects.values_list("key", flat=True)) == {
        "https://planet.example/news/bridge/",
        "https://planet.example/weather/dry-week/?utm_source=feed",
    }
    assert importing.thread_key_of("https://planet.example/?p=12") == "/?p=12"  # WordPress' plain links
    assert importing.thread_key_of("https://planet.example/a/?utm_source=x#c") == "/a/"
    assert importing.thread_key_of("news/a") == "/news/a"


def test_imported_published_comments_are_listed_and_their_e_mail_addresses_are_not(
    site, files, api, django_capture_on_commit_callbacks
):
    url = "/api/v1/comments?site=planet&thread=/news/bridge/"
    Thread.objects.create(site=site, key="/news/bridge/")
    assert api.get(url).json()["total"] == 0 and api.get(url).headers["ETag"]  # a cached, empty page
    with django_capture_on_commit_callbacks(execute=True):  # the page's version is replaced after the commit
        run_import("wordpress", files["wordpress"])
    page = api.get(url)
    assert page.json()["total"] == 3  # 101, its reply 102, and 106 (attached to 101); 103 is held
    assert b"Finally! It took them" in page.content and b"example.org" not in page.content


# --score: the scoring pipeline decides them ---------------------------------------------------------


@pytest.fixture
def drain_sent(monkeypatch):
    from django.core.cache import cache

    from moderation import tasks

    cache.delete(tasks.DRAIN_WAKEUP_KEY)
    sent: list[str] = []
    monkeypatch.setattr(tasks.pending_comments_drain, "delay", lambda: sent.append("drain"))
    yield sent
    cache.delete(tasks.DRAIN_WAKEUP_KEY)


def test_without_score_nothing_is_queued(site, files, drain_sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run_import("wordpress", files["wordpress"])
    assert drain_sent == [] and not Comment.objects.filter(status="pending").exists()


def test_score_queues_them_for_the_scoring_drain_which_decides_them_in_batches(
    site, files, drain_sent, django_capture_on_commit_callbacks, settings
):
    from moderation import tasks

    with django_capture_on_commit_callbacks(execute=True):
        output = run_import("wordpress", files["wordpress"], "--score")
    assert "5 queued for scoring" in output
    assert drain_sent == ["drain"]  # one wake-up for the whole import
    pending = Comment.objects.filter(status="pending")
    assert pending.count() == 5 and set(pending.values_list("scoring_attempts", flat=True)) == {0}
    assert Comment.objects.get(external_id="wordpress:104").status == "rejected"  # the source's spam stays
    settings.MODERATO_SCORING_BATCH = 2
    assert tasks.pending_comments_drain.apply().get() == 5
    assert not Comment.objects.filter(status="pending").exists()
    assert Comment.objects.get(external_id="wordpress:201").model_versions  # scored by the active models


# Bad files ------------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><rss><channel>&lol2;</channel></rss>'
)


@pytest.mark.parametrize(
    ("source", "content", "says"),
    [
        ("wordpress", "", "not a WordPress export (WXR)"),
        ("wordpress", "plain text", "not a WordPress export (WXR)"),
        ("wordpress", (FIXTURES / "wordpress.xml").read_text()[:3000], "not a WordPress export (WXR)"),
        ("wordpress", BILLION_LAUGHS, "DTD"),
        ("wordpress", '<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://evil.example/x.dtd"><rss/>', "DTD"),
        ("wordpress", (FIXTURES / "disqus.xml").read_text(), "the root element is <disqus>, not <rss>"),
        (
            "wordpress",
            "<rss><channel><item><wp:comment xmlns:wp='http://wordpress.org/export/1.2/'/></item></channel></rss>",
            "without <wp:comment_id>",
        ),
        ("disqus", (FIXTURES / "wordpress.xml").read_text(), "the root element is <rss>, not <disqus>"),
        ("disqus", BILLION_LAUGHS.replace("rss", "disqus"), "DTD"),
        ("isso", "SQLite format 3? no, text", "not an Isso database"),
        ("remark42", '{"version": 1}\n{"id": "x", "locator": ', "line 2"),
        ("remark42", '{"version": 1}\n[1, 2]\n', "line 2 is not a JSON object"),
        ("json", '{"format": "something else"}', "not a Moderato JSON export"),
    ],
    ids=lambda value: value[:20] if isinstance(value, str) else value,
)
def test_a_bad_file_is_refused_with_one_line_and_changes_nothing(site, tmp_path, source, content, says):
    bad = tmp_path / "export.bad"
    bad.write_text(content)
    with pytest.raises(CommandError) as raised:
        run_import(source, bad)
    message = str(raised.value)
    assert raised.value.returncode == 2
    assert says in message and "\n" not in message and message.startswith(str(bad))
    assert not Comment.objects.exists() and not Thread.objects.exists()


def test_a_missing_file_or_an_unknown_site_is_refused_with_exit_status_2(site, tmp_path):
    with pytest.raises(CommandError, match="cannot read") as raised:
        run_import("isso", tmp_path / "nowhere.db")
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="No site has the public key 'nope'") as raised:
        run_import("wordpress", FIXTURES / "wordpress.xml", site="nope")
    assert raised.value.returncode == 2


def test_manage_py_exits_2_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "truncated.xml"
    bad.write_text((FIXTURES / "wordpress.xml").read_text()[:3000])
    # A database of its own (SQLite under its data directory), never the one DATABASE_URL names: the
    # subprocesses are not inside the test database that pytest-django made.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"MODERATO_DATA_DIR": str(tmp_path / "var")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from comments.models import Site; Site.objects.create(name='P', public_key='planet')"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "manage.py", "import_wordpress", str(bad), "--site", "planet"],
        cwd=ROOT, env=env | {"MODERATO_LOG_FORMAT": "plain", "LOG_LEVEL": "ERROR"}, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"CommandError: {bad}: not a WordPress export (WXR):")


def test_a_comment_that_appears_twice_in_a_file_is_refused(site, tmp_path):
    text = (FIXTURES / "remark42.jsonl").read_text()
    twice = tmp_path / "twice.jsonl"
    twice.write_text(text + text.splitlines()[1] + "\n")
    with pytest.raises(CommandError, match="remark42:c1a appears twice"):
        run_import("remark42", twice)


def test_html_becomes_text_with_paragraphs_and_link_addresses():
    assert (
        importing.text_of_html('<p>One &amp; <b>two</b></p><p>See <a href="https://x.example/a">this</a>.<br>Bye</p>')
        == "One & two\n\nSee this (https://x.example/a).\nBye"
    )
    assert importing.text_of_html("no markup at all ") == "no markup at all"
