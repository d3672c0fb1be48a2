"""Bringing a publisher's old comments in: WordPress (WXR), Disqus (XML export), Isso (its SQLite
database), Remark42 (its backup) and Moderato's own JSON export.

Each reader turns a file into ``Record``s, one per comment, with a stable external id
(``wordpress:123``); ``comments_import`` reads them all (a bad file raises ``ImportFileError`` before
anything is written), plans what is new and writes it in one transaction with bulk inserts, parents
before replies. A comment whose external id the site already has is left as it is, so a second run
creates nothing. The source's decision is kept (approved: published, pending: held, spam: rejected),
with an ``imported`` reason, and nothing is scored, notified or announced, unless ``score`` asks the
scoring pipeline to decide the comments again (see ``comments_import``).

XML is read with ``iterparse`` (one thread or comment in memory at a time, besides the records) after
a first look at the prolog refuses any DTD: without one no entity can be declared, so none can expand.
"""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from pyexpat import ExpatError, ParserCreate
from typing import Any
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from comments.models import Comment, Site, Thread, thread_key_canonical
from comments.services import ip_hash
from moderation import policy, tasks
from moderation.services import listings_changed

logger = logging.getLogger(__name__)

SOURCES = {
    "wordpress": "WordPress",
    "disqus": "Disqus",
    "isso": "Isso",
    "remark42": "Remark42",
    "moderato": "Moderato",
}
BATCH = 1000  # rows per INSERT
THREAD_KEY_MAX = 500
NAME_MAX = 100
EMAIL_MAX = 254
ANONYMOUS = "Anonymous"

# Why a comment of the file is not imported (its replies are attached to its nearest imported ancestor).
SKIP_TRASH = "trash"
SKIP_DELETED = "deleted"
SKIP_PINGBACK = "pingback or trackback"
SKIP_EMPTY = "empty text"
SKIP_NO_THREAD = "no thread"
SKIP_THREAD_KEY_TOO_LONG = f"page address over {THREAD_KEY_MAX} characters"


class ImportFileError(Exception):
    """The file cannot be imported; the message is one line that says why."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass(frozen=True, slots=True)
class Record:
    """One comment of an export, as the importer needs it."""

    external_id: str  # "<source>:<its id there>"
    thread: str  # the page's URL or path, as the source names it
    parent: str = ""  # the parent's external id; "" for a top-level comment
    author_name: str = ""
    author_email: str = ""
    body: str = ""
    created_at: datetime | None = None
    status: str = Comment.Status.PUBLISHED
    address: str = ""  # the raw client address, if the source kept one: hashed on import
    user_agent: str = ""
    thread_title: str = ""
    skipped: str = ""  # why it is not imported ("" : it is)


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    created: Counter[str] = field(default_factory=Counter)  # status -> comments
    threads_created: list[str] = field(default_factory=list)
    already: int = 0  # external ids the site has: left as they are
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> comments
    reattached: int = 0  # replies whose parent was skipped, missing, or in another thread
    queued: int = 0  # stored as pending for the scoring pipeline (--score)
    planned: list[tuple[str, str, str]] = field(default_factory=list)  # (external id, thread key, status)

    @property
    def comments_created(self) -> int:
        return sum(self.created.values())

    def summary(self) -> str:
        verb = "Would create" if self.dry_run else "Created"
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(self.created.items()))
        line = f"{verb} {len(self.threads_created)} thread(s) and {self.comments_created} comment(s)"
        line += f" ({statuses})" if statuses else ""
        line += f" from {SOURCES[self.source]}; {self.already} already imported"
        if self.skipped:
            line += "; skipped " + ", ".join(f"{count} ({reason})" for reason, count in sorted(self.skipped.items()))
        if self.reattached:
            line += f"; {self.reattached} repl(ies) attached higher up (parent not imported)"
        if self.queued:
            line += f"; {self.queued} {'would be' if self.dry_run else ''} queued for scoring".replace("  ", " ")
        return line + "."


# Reading -------------------------------------------------------------------------------------------


def _open_binary(path: Path) -> bytes:
    """The first bytes of a file (the file must exist and be readable)."""
    try:
        with path.open("rb") as file:
            return file.read(4)
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None


class _RootReached(Exception):
    pass


class _DoctypeFound(Exception):
    pass


def _refuse_dtd(path: Path, what: str) -> None:
    """Read the prolog with expat up to the root element; refuse a document type declaration."""
    parser = ParserCreate()

    def doctype(*_: object) -> None:
        raise _DoctypeFound

    def root(*_: object) -> None:
        raise _RootReached

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = root
    with path.open("rb") as file:
        try:
            while chunk := file.read(1 << 16):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except _RootReached:
            return
        except _DoctypeFound:
            raise ImportFileError(f"not a {what}: it declares a DTD (<!DOCTYPE>), which is refused") from None
        except ExpatError as exc:
            raise ImportFileError(f"not a {what}: {exc}") from None


def _xml_closed(path: Path, what: str, root: str) -> Iterator[tuple[int, ET.Element]]:
    """(depth, element) of each element of an XML file as it closes, streamed (the root is at depth 0);
    a file that is not well-formed XML, has a DTD, or whose root element is not ``root`` raises
    ImportFileError."""
    _open_binary(path)
    _refuse_dtd(path, what)
    depth = 0
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):  # noqa: S314 (no DTD: _refuse_dtd)
            if event == "start":
                depth += 1
                if depth == 1 and _local(element.tag) != root:
                    raise ImportFileError(f"not a {what}: the root element is <{_local(element.tag)}>, not <{root}>")
                continue
            depth -= 1
            yield depth, element
    except ET.ParseError as exc:
        raise ImportFileError(f"not a {what}: {exc}") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def _child_text(element: ET.Element, name: str) -> str:
    """The text of the first child with this local name ("" if none)."""
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


class _TextOfHtml(HTMLParser):
    BREAKS = frozenset({"br"})
    BLOCKS = frozenset({"p", "div", "blockquote", "pre", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, int]] = []  # (href, where its text starts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.parts[start:]).strip()
            if href.startswith(("http://", "https://")) and href.rstrip("/") != text.rstrip("/"):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_of_html(html: str) -> str:
    """Plain text of a comment stored as HTML: tags dropped, entities decoded, paragraphs and line
    breaks kept as newlines, a link's address after its text."""
    if "<" not in html and "&" not in html:
        return html.strip()
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.parts).replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def _timestamp(value: str, *, what: str, gmt: bool = True) -> datetime:
    """An ISO 8601 time ("2020-01-02 10:00:00", "2012-01-01T00:00:00Z"); naive ones are UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ImportFileError(f"{what}: {value!r} is not a date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


WXR_NAMESPACE = "http://wordpress.org/export/"
WXR_STATUSES = {"1": Comment.Status.PUBLISHED, "0": Comment.Status.HELD, "spam": Comment.Status.REJECTED}
WXR_TRASH = {"trash", "post-trashed"}


def wordpress_records(path: Path) -> Iterator[Record]:
    """The comments of a WordPress export (WXR 1.0 to 1.2): one ``<item>`` per post, its
    ``<wp:comment>`` elements inside. Trashed comments, pingbacks and trackbacks are skipped."""
    what = "WordPress export (WXR)"
    for depth, element in _xml_closed(path, what, "rss"):
        if _local(element.tag) != "item" or depth != 2:
            continue
        link = _child_text(element, "link")
        post_id = _child_text(element, "post_id")
        thread = link or (f"/?p={post_id}" if post_id else "")
        title = _child_text(element, "title")
        for comment in element:
            if _local(comment.tag) == "comment" and _namespace(comment.tag).startswith(WXR_NAMESPACE):
                yield _wordpress_record(comment, thread=thread, title=title, what=what)
        element.clear()


def _wordpress_record(comment: ET.Element, *, thread: str, title: str, what: str) -> Record:
    values = {_local(child.tag): child.text or "" for child in comment}
    number = values.get("comment_id", "").strip()
    if not number:
        raise ImportFileError(f"not a {what}: a <wp:comment> without <wp:comment_id>")
    external_id = f"wordpress:{number}"
    parent = values.get("comment_parent", "0").strip()
    approved = values.get("comment_approved", "1").strip()
    skipped = ""
    if approved in WXR_TRASH:
        skipped = SKIP_TRASH
    elif values.get("comment_type", "").strip() in {"pingback", "trackback"}:
        skipped = SKIP_PINGBACK
    date = values.get("comment_date_gmt", "").strip()
    if not date or date.startswith("0000"):
        date = values.get("comment_date", "").strip()
    return Record(
        external_id=external_id,
        thread=thread,
        thread_title=title,
        parent=f"wordpress:{parent}" if parent not in {"", "0"} else "",
        author_name=values.get("comment_author", "").strip(),
        author_email=values.get("comment_author_email", "").strip(),
        body=text_of_html(values.get("comment_content", "")),
        created_at=_timestamp(date, what=f"{external_id}: comment_date") if date else None,
        status=WXR_STATUSES.get(approved, Comment.Status.HELD),
        address=values.get("comment_author_IP", "").strip(),
        user_agent=values.get("comment_agent", "").strip(),
        skipped=skipped,
    )


DISQUS_INTERNALS = "{http://disqus.com/disqus-internals}id"


def disqus_records(path: Path) -> Iterator[Record]:
    """The posts of a Disqus export: ``<thread>`` elements (the pages) and ``<post>`` elements (the
    comments) under ``<disqus>``. Deleted posts and the posts of deleted threads are skipped, spam is
    rejected; a post with ``<isApproved>false`` is held."""
    what = "Disqus export"
    threads: dict[str, tuple[str, str, bool]] = {}  # dsq:id -> (link, title, deleted)
    posts: list[tuple[str, Record]] = []  # (thread dsq:id, record without its thread)
    for depth, element in _xml_closed(path, what, "disqus"):
        if depth != 1:
            continue
        name = _local(element.tag)
        if name == "thread":
            threads[element.get(DISQUS_INTERNALS, "")] = (
                _child_text(element, "link"),
                _child_text(element, "title"),
                _child_text(element, "isDeleted") == "true",
            )
        elif name == "post":
            posts.append(_disqus_post(element, what=what))
        element.clear()
    for thread_id, record in posts:
        link, title, deleted = threads.get(thread_id, ("", "", False))
        skipped = record.skipped or (SKIP_DELETED if deleted else "")
        yield replace(record, thread=link, thread_title=title, skipped=skipped)


def _disqus_post(element: ET.Element, *, what: str) -> tuple[str, Record]:
    number = element.get(DISQUS_INTERNALS, "")
    if not number:
        raise ImportFileError(f"not a {what}: a <post> without dsq:id")
    external_id = f"disqus:{number}"
    thread_id = parent = ""
    author: dict[str, str] = {}
    for child in element:
        name = _local(child.tag)
        if name == "thread":
            thread_id = child.get(DISQUS_INTERNALS, "")
        elif name == "parent":
            parent = child.get(DISQUS_INTERNALS, "")
        elif name == "author":
            author = {_local(part.tag): (part.text or "").strip() for part in child}
    status = Comment.Status.PUBLISHED
    if _child_text(element, "isSpam") == "true":
        status = Comment.Status.REJECTED
    elif _child_text(element, "isApproved") == "false":
        status = Comment.Status.HELD
    created = _child_text(element, "createdAt")
    return thread_id, Record(
        external_id=external_id,
        thread="",
        parent=f"disqus:{parent}" if parent else "",
        author_name=author.get("name") or author.get("username", ""),
        author_email=author.get("email", ""),
        body=text_of_html(_child_text(element, "message")),
        created_at=_timestamp(created, what=f"{external_id}: createdAt") if created else None,
        status=status,
        address=_child_text(element, "ipAddress"),
        skipped=SKIP_DELETED if _child_text(element, "isDeleted") == "true" else "",
    )


ISSO_MODES = {1: Comment.Status.PUBLISHED, 2: Comment.Status.HELD}
ISSO_DELETED = 4


def isso_records(path: Path) -> Iterator[Record]:
    """The comments of an Isso database (SQLite, opened read-only): ``threads`` (uri, title) and
    ``comments`` (mode 1 accepted, 2 waiting for moderation, 4 deleted: skipped)."""
    what = "Isso database"
    _open_binary(path)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFileError(f"not an {what}: {exc}") from None
    try:
        rows = connection.execute(
            "SELECT c.id, c.parent, c.created, c.mode, c.remote_addr, c.text, c.author, c.email, t.uri, t.title"
            " FROM comments AS c JOIN threads AS t ON t.id = c.tid ORDER BY c.id"
        )
        for number, parent, created, mode, address, text, author, email, uri, title in rows:
            external_id = f"isso:{number}"
            try:
                created_at = datetime.fromtimestamp(float(created), tz=UTC)
            except (TypeError, ValueError, OverflowError):
                raise ImportFileError(f"{what}: comment {number} has no valid creation time") from None
            yield Record(
                external_id=external_id,
                thread=uri or "",
                thread_title=title or "",
                parent=f"isso:{parent}" if parent else "",
                author_name=(author or "").strip(),
                author_email=(email or "").strip(),
                body=(text or "").strip(),
                created_at=created_at,
                status=ISSO_MODES.get(mode, Comment.Status.HELD),
                address=address or "",
                skipped=SKIP_DELETED if mode == ISSO_DELETED else "",
            )
    except sqlite3.Error as exc:
        raise ImportFileError(f"not an {what}: {exc}") from None
    finally:
        connection.close()


def _json_lines(path: Path, what: str) -> Iterator[tuple[int, object]]:
    """(line number, value) of a JSON-lines file, gzipped or not."""
    magic = _open_binary(path)
    opener = gzip.open if magic[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ImportFileError(f"not a {what}: line {number}: {exc.msg}") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"not a {what}: {exc}") from None


def remark42_records(path: Path) -> Iterator[Record]:
    """The comments of a Remark42 backup (``backup-<site>-<date>.gz`` or unpacked): JSON lines, the
    first one its metadata (``version``, ``users``, ``posts``), then one comment a line. Deleted comments
    are skipped; Remark42 publishes everything else."""
    what = "Remark42 backup"
    for number, value in _json_lines(path, what):
        if not isinstance(value, dict):
            raise ImportFileError(f"not a {what}: line {number} is not a JSON object")
        if "version" in value and "id" not in value:
            continue  # the metadata line
        comment_id, locator, user = value.get("id"), value.get("locator"), value.get("user") or {}
        if not comment_id or not isinstance(locator, dict) or not isinstance(user, dict):
            raise ImportFileError(f"not a {what}: line {number} is not a comment (id, locator, user)")
        orig = value.get("orig") or ""
        created = str(value.get("time") or "")
        yield Record(
            external_id=f"remark42:{comment_id}",
            thread=str(locator.get("url") or ""),
            thread_title=str(value.get("title") or ""),
            parent=f"remark42:{value['pid']}" if value.get("pid") else "",
            author_name=str(user.get("name") or ""),
            author_email=str(user.get("email") or ""),
            body=str(orig).strip() if orig else text_of_html(str(value.get("text") or "")),
            created_at=_timestamp(created, what=f"line {number}: time") if created else None,
            address=str(user.get("ip") or ""),
            skipped=SKIP_DELETED if value.get("delete") else "",
        )


MODERATO_FORMAT = "moderato-comments"


def moderato_records(path: Path) -> Iterator[Record]:
    """The comments of Moderato's JSON export (``export_comments --format json``). A comment keeps the
    external id it came with, else it is ``moderato:<id>``, so imports chain without duplicates."""
    what = "Moderato JSON export"
    _open_binary(path)
    try:
        with path.open(encoding="utf-8") as file:
            document = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"not a {what}: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != MODERATO_FORMAT:
        raise ImportFileError(f'not a {what}: no "format": "{MODERATO_FORMAT}"')
    titles = {t.get("key"): t.get("title", "") for t in document.get("threads", []) if isinstance(t, dict)}
    external: dict[object, str] = {}
    for position, value in enumerate(document.get("comments", []), 1):
        if not isinstance(value, dict) or "id" not in value or "thread" not in value:
            raise ImportFileError(f"not a {what}: comment {position} has no id or thread")
        external_id = str(value.get("external_id") or f"moderato:{value['id']}")
        external[value["id"]] = external_id
        parent = value.get("parent")
        status = value.get("status", Comment.Status.PUBLISHED)
        created = str(value.get("created_at") or "")
        yield Record(
            external_id=external_id,
            thread=str(value["thread"]),
            thread_title=str(titles.get(value["thread"], "")),
            parent=external.get(parent, f"moderato:{parent}") if parent else "",
            author_name=str(value.get("author_name") or ""),
            author_email=str(value.get("author_email") or ""),
            body=str(value.get("body") or ""),
            created_at=_timestamp(created, what=f"{external_id}: created_at") if created else None,
            status=status if status in Comment.Status.values else Comment.Status.HELD,
        )


READERS = {
    "wordpress": wordpress_records,
    "disqus": disqus_records,
    "isso": isso_records,
    "remark42": remark42_records,
    "moderato": moderato_records,
}


# Writing -------------------------------------------------------------------------------------------


def thread_key_of(address: str, *, keep_urls: bool = False) -> str:
    """The thread key of a page: its path, as the widget's default ``data-thread`` (the page's path)
    names it, without query string (``?utm_source=...``) unless the path is the site's root (WordPress'
    plain links, ``/?p=12``); with ``keep_urls`` the full URL as given."""
    address = address.strip()
    if not keep_urls and address.lower().startswith(("http://", "https://")):
        parts = urlsplit(address)
        path = parts.path or "/"
        address = path + (f"?{parts.query}" if parts.query and path == "/" else "")
    return thread_key_canonical(address)


@dataclass
class _Plan:
    records: dict[str, Record]  # external id -> record, the new ones
    keys: dict[str, str]  # external id -> thread key
    parents: dict[str, str]  # external id -> the external id of the parent it gets ("" : top level)
    levels: list[list[str]]  # external ids, parents before replies


def comments_import(
    *,
    site: Site,
    records: Iterable[Record],
    source: str,
    dry_run: bool = False,
    score: bool = False,
    keep_urls: bool = False,
) -> ImportReport:
    """Import the records into the site; return what was (or, with ``dry_run``, would be) done.

    Every record is read before anything is written, so a bad file writes nothing. A reply whose
    parent is skipped, absent or on another page is attached to its nearest imported ancestor (or
    made top-level). With ``score`` the comments the source published or held are stored as pending,
    never attempted, which is what the scoring drain claims (``services.pending_comments_claim_fresh``,
    oldest first, in batches of ``MODERATO_SCORING_BATCH``); one drain is woken after the commit.
    """
    report = ImportReport(source=source, dry_run=dry_run)
    keep_urls = keep_urls or source == "moderato"  # Moderato's own keys are thread keys already
    kept: dict[str, Record] = {}
    skipped_parents: dict[str, str] = {}
    for record in records:
        skip = record.skipped
        if not skip:
            if not record.body.strip():
                skip = SKIP_EMPTY
            elif not record.thread.strip():
                skip = SKIP_NO_THREAD
            elif len(thread_key_of(record.thread, keep_urls=keep_urls)) > THREAD_KEY_MAX:
                skip = SKIP_THREAD_KEY_TOO_LONG
        if skip:
            report.skipped[skip] += 1
            skipped_parents[record.external_id] = record.parent
        elif record.external_id in kept:
            raise ImportFileError(f"the comment {record.external_id} appears twice in the file")
        else:
            kept[record.external_id] = record
    existing = _existing_comments(site=site)
    plan = _plan(kept=kept, existing=existing, skipped_parents=skipped_parents, keep_urls=keep_urls, report=report)
    threads = _threads_existing(site=site, keys=set(plan.keys.values()))
    report.threads_created = sorted(set(plan.keys.values()) - threads.keys())
    for external_id in (external_id for level in plan.levels for external_id in level):
        status = _stored_status(plan.records[external_id].status, score=score)
        report.created[status] += 1
        report.queued += status == Comment.Status.PENDING
        report.planned.append((external_id, plan.keys[external_id], status))
    if dry_run:
        return report
    with transaction.atomic():
        created = _threads_create(site=site, keys=report.threads_created, plan=plan)
        threads |= created
        _comments_create(
            plan=plan,
            threads=threads,
            threads_new=set(created.values()),
            existing=existing,
            source=source,
            score=score,
        )
        if report.queued:
            tasks.pending_comments_drain_wake()
    return report


def _stored_status(status: str, *, score: bool) -> str:
    if score and status != Comment.Status.REJECTED:
        return Comment.Status.PENDING
    return status


def _existing_comments(*, site: Site) -> dict[str, tuple[int, int | None, str]]:
    """External id -> (pk, root id, thread key) of every imported comment of the site (a file's replies
    may answer the comments of an earlier file)."""
    return {
        external_id: (pk, root_id, key)
        for external_id, pk, root_id, key in Comment.objects.filter(thread__site=site)
        .exclude(external_id="")
        .values_list("external_id", "pk", "root_id", "thread__key")
        .iterator(chunk_size=5000)
    }


def _plan(
    *,
    kept: dict[str, Record],
    existing: dict[str, tuple[int, int | None, str]],
    skipped_parents: dict[str, str],
    keep_urls: bool,
    report: ImportReport,
) -> _Plan:
    keys = {external_id: thread_key_of(record.thread, keep_urls=keep_urls) for external_id, record in kept.items()}
    new = {external_id: record for external_id, record in kept.items() if external_id not in existing}
    report.already = len(kept) - len(new)

    def key_of(external_id: str) -> str:
        return keys[external_id] if external_id in keys else existing[external_id][2]

    parents: dict[str, str] = {}
    for external_id, record in new.items():
        parent, seen = record.parent, {external_id}
        while parent and parent not in kept and parent not in existing and parent not in seen:
            seen.add(parent)
            parent = skipped_parents.get(parent, "")  # a skipped (or absent) parent: its own parent
        if parent in seen or (parent and key_of(parent) != keys[external_id]):
            parent = ""
        if parent != record.parent:
            report.reattached += 1
        parents[external_id] = parent
    # Levels: a reply after its parent. A cycle of new comments (a file that says A answers B and B
    # answers A) is cut where it is found: that comment becomes top-level.
    level: dict[str, int] = {}
    for start in new:
        chain: list[str] = []
        current = start
        while current in new and current not in level and current not in chain:
            chain.append(current)
            current = parents[current]
        if current in chain:
            parents[current] = ""
            report.reattached += 1
            chain, base = chain[: chain.index(current) + 1], -1
        else:
            base = level.get(current, -1)  # a new comment placed before, else an existing one or none
        for external_id in reversed(chain):
            base += 1
            level[external_id] = base
    levels: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for external_id in new:
        levels[level[external_id]].append(external_id)
    return _Plan(records=new, keys={e: keys[e] for e in new}, parents=parents, levels=levels)


def _threads_existing(*, site: Site, keys: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        found |= dict(Thread.objects.filter(site=site, key__in=ordered[start : start + 500]).values_list("key", "pk"))
    return found


def _threads_create(*, site: Site, keys: list[str], plan: _Plan) -> dict[str, int]:
    """The new threads, each begun at its first imported comment (a site that closes threads after so many
    days closes an old article's thread, as the system it came from did)."""
    titles: dict[str, str] = {}
    began: dict[str, datetime] = {}
    for external_id, record in plan.records.items():
        key = plan.keys[external_id]
        if record.thread_title:
            titles.setdefault(key, record.thread_title)
        if record.created_at is not None and (key not in began or record.created_at < began[key]):
            began[key] = record.created_at
    now = timezone.now()
    created = Thread.objects.bulk_create(
        [Thread(site=site, key=key, title=titles.get(key, "")[:300], created_at=began.get(key, now)) for key in keys],
        batch_size=BATCH,
    )
    return {thread.key: thread.pk for thread in created}


def _email(value: str) -> str:
    value = value.strip()
    return value if "@" in value and len(value) <= EMAIL_MAX and " " not in value else ""


def _comments_create(
    *,
    plan: _Plan,
    threads: dict[str, int],
    threads_new: set[int],
    existing: dict[str, tuple[int, int | None, str]],
    source: str,
    score: bool,
) -> None:
    """Insert the planned comments a level at a time (a reply needs its parent's id), BATCH rows a
    statement. The rows are built as tuples, not model instances: the ORM's bulk_create spent three
    quarters of an import preparing them. The listings of the threads that existed before are
    invalidated after the commit; a thread created here has no cached page (no version) to replace."""
    now = timezone.now()
    written = {external_id: (pk, root_id) for external_id, (pk, root_id, _) in existing.items()}
    listed: set[int] = set()
    fields = [f for f in Comment._meta.concrete_fields if not f.primary_key]
    # Every column's default once (a field added later gets its default here), then each row's values.
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields}
    json_field = Comment._meta.get_field("reasons")
    reasons = {
        status: json_field.get_db_prep_save(
            [
                policy.Reason(
                    code=policy.ReasonCode.IMPORTED, detail=f"Imported from {SOURCES[source]}, {status} there."
                ).as_dict()
            ],
            connection,
        )
        for status in Comment.Status.values
    }
    adapt_time = connection.ops.adapt_datetimefield_value
    decided_now = adapt_time(now)
    for level in plan.levels:
        for start in range(0, len(level), BATCH):
            batch = level[start : start + BATCH]
            params: list[Any] = []
            roots: list[int | None] = []
            for external_id in batch:
                record = plan.records[external_id]
                parent = plan.parents[external_id]
                parent_pk, parent_root = written[parent] if parent else (None, None)
                status = _stored_status(record.status, score=score)
                thread_id = threads[plan.keys[external_id]]
                if status == Comment.Status.PUBLISHED and thread_id not in threads_new:
                    listed.add(thread_id)
                pending = status == Comment.Status.PENDING
                roots.append((parent_root or parent_pk) if parent_pk else None)
                values = defaults | {
                    "thread_id": thread_id,
                    "parent_id": parent_pk,
                    "root_id": roots[-1],
                    "author_name": (record.author_name or ANONYMOUS)[:NAME_MAX],
                    "author_email": _email(record.author_email),
                    "body": record.body,
                    "status": status,
                    "reasons": defaults["reasons"] if pending else reasons[record.status],
                    "ip_hash": ip_hash(address=record.address),
                    "user_agent": record.user_agent[:300],
                    "created_at": adapt_time(record.created_at or now),
                    "decided_at": None if pending else decided_now,
                    "external_id": record.external_id,
                }
                params.extend(values[f.attname] for f in fields)
            ids = _insert_returning_ids(fields=fields, rows=len(batch), params=params)
            for external_id, pk, root_id in zip(batch, ids, roots, strict=True):
                written[external_id] = (pk, root_id)
    listings_changed(threads=list(Thread.objects.filter(pk__in=listed)))


def _insert_returning_ids(*, fields: list[Any], rows: int, params: list[Any]) -> list[int]:
    """Insert ``rows`` rows of ``fields`` (``params``, row after row); return their ids in that order.

    PostgreSQL: ids drawn from the table's sequence, then ``COPY ... FROM STDIN`` (nine times faster
    here than the INSERT below, which planning 16,000 parameters and client-side binding slow down).
    SQLite: ``INSERT ... VALUES (...), (...) RETURNING id``, the ids in the order of the rows, as Django's
    bulk_create reads them back (SQLite 3.35 or later).
    """
    quote = connection.ops.quote_name
    table = Comment._meta.db_table
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, rows]
            )
            ids = [pk for (pk,) in cursor.fetchall()]
            width = len(fields)
            with cursor.cursor.copy(f"COPY {quote(table)} (id, {columns}) FROM STDIN") as copy:
                for pk, start in zip(ids, range(0, len(params), width), strict=True):
                    copy.write_row([pk, *params[start : start + width]])
            return ids
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        cursor.execute(
            # Only names (the model's) and placeholders are formatted in; every value is a parameter.
            f"INSERT INTO {quote(table)} ({columns}) VALUES {', '.join([row] * rows)} RETURNING id",  # noqa: S608
            params,
        )
        return [pk for (pk,) in cursor.fetchall()]
