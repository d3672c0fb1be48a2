"""Exports: what leaves, and that an export imported into an empty site gives the same threads."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from comments import services as public
from comments.models import Comment, Site, Thread

FIXTURES = Path(__file__).parents[1] / "fixtures" / "imports"


@pytest.fixture
def planet(site) -> Site:
    """A site with imported comments (replies, every status, a closed thread) and one posted here,
    whose text needs escaping in XML and HTML."""
    call_command("import_wordpress", str(FIXTURES / "wordpress.xml"), "--site", site.public_key, stdout=io.StringIO())
    posted = public.comment_submit(
        site_key=site.public_key,
        thread_key="/news/bridge/",
        name="Zoë <script>",
        body="a < b & c > d\n\nSecond paragraph: \"quoted\" 'single' — and a control\x07char.",
        email="zoe@example.org",
    ).comment
    Comment.objects.filter(pk=posted.pk).update(status="published", decided_at=posted.created_at)
    Thread.objects.create(site=site, key="/quiet/", title="No comments yet", is_open=False)
    return site


def export(site: Site, fmt: str, path: Path, *extra: str) -> Path:
    call_command(
        "export_comments", "--site", site.public_key, "--format", fmt, "--output", str(path), *extra,
        stdout=io.StringIO(),
    )  # fmt: skip
    return path


def shape(site: Site) -> dict[str, list[tuple]]:
    """Each thread's comments as a reader sees them: author, text, status, time to the second, and the
    text of the comment it answers."""
    threads: dict[str, list[tuple]] = {}
    for comment in Comment.objects.filter(thread__site=site).select_related("thread", "parent").order_by("pk"):
        threads.setdefault(comment.thread.key, []).append(
            (
                comment.author_name,
                comment.author_email,
                comment.body.replace("\x07", ""),
                comment.status,
                comment.created_at.replace(microsecond=0),
                comment.parent.body if comment.parent else None,
            )
        )
    return {key: sorted(rows, key=repr) for key, rows in threads.items()}


@pytest.mark.parametrize(("fmt", "importer"), [("json", "import_json"), ("wxr", "import_wordpress")])
def test_an_export_imported_into_an_empty_site_gives_the_same_threads(planet, tmp_path, fmt, importer):
    path = export(planet, fmt, tmp_path / f"planet.{fmt}")
    empty = Site.objects.create(name="New home", public_key="newhome")
    out = io.StringIO()
    call_command(importer, str(path), "--site", "newhome", stdout=out)
    assert shape(empty) == shape(planet)
    assert len(shape(planet)["/news/bridge/"]) == 6
    titles = dict(Thread.objects.filter(site=empty).values_list("key", "title"))
    assert titles["/news/bridge/"] == "The bridge reopens"
    call_command(importer, str(path), "--site", "newhome", stdout=out)  # and again: nothing new
    assert Comment.objects.filter(thread__site=empty).count() == Comment.objects.filter(thread__site=planet).count()


def test_the_json_export_keeps_external_ids_and_leaves_address_hashes_behind(planet, tmp_path):
    document = json.loads(export(planet, "json", tmp_path / "planet.json").read_text())
    assert document["format"] == "moderato-comments" and document["site"] == "planet"
    assert {t["key"] for t in document["threads"]} == {"/news/bridge/", "/weather/dry-week/", "/quiet/"}
    by_external = {c["external_id"]: c for c in document["comments"]}
    assert by_external["wordpress:102"]["parent"] == by_external["wordpress:101"]["id"]
    assert by_external["wordpress:101"]["created_at"] == "2021-03-04T10:15:00+00:00"
    text = json.dumps(document)
    assert "ip_hash" not in text and Comment.objects.exclude(ip_hash="").first().ip_hash not in text


def test_the_wxr_export_is_a_wordpress_export_with_absolute_links(planet, tmp_path):
    path = export(planet, "wxr", tmp_path / "planet.xml", "--base-url", "https://planet.example/")
    text = path.read_text()
    assert "<link>https://planet.example/news/bridge/</link>" in text
    assert "<wp:comment_approved>spam</wp:comment_approved>" in text
    assert "<wp:comment_status>closed</wp:comment_status>" in text
    assert "a &amp;lt; b &amp;amp; c" in text  # the text as HTML, in XML
    assert "\x07" not in text


def test_exporting_an_unknown_site_is_refused_with_exit_status_2(db):
    with pytest.raises(CommandError, match="No site") as raised:
        call_command("export_comments", "--site", "nope", stdout=io.StringIO())
    assert raised.value.returncode == 2
