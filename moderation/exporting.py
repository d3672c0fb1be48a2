"""A site's comments written out, so that a publisher can leave as easily as they came: Moderato's JSON
(``import_json`` reads it back) and a WordPress export (WXR 1.2, which WordPress and ``import_wordpress``
read). Both stream: one query per table, rows written as they are read.

What leaves: threads (key, title, open), comments (text, author's name and e-mail address, status,
times, parent, the external id an imported comment came with). What stays: address hashes, user agents,
scores and reasons, which mean nothing outside this instance.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from django.utils import timezone

from comments.models import Comment, Site, Thread
from moderation.importing import MODERATO_FORMAT

FORMATS = ("json", "wxr")
COMMENT_FIELDS = (
    "pk",
    "thread_id",
    "parent_id",
    "author_name",
    "author_email",
    "body",
    "status",
    "created_at",
    "decided_at",
    "external_id",
)
# Characters XML 1.0 cannot carry, even escaped (control characters but tab and newlines, surrogates).
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
WXR_APPROVED = {
    Comment.Status.PUBLISHED: "1",
    Comment.Status.HELD: "0",
    Comment.Status.PENDING: "0",
    Comment.Status.REJECTED: "spam",
    Comment.Status.DELETED: "trash",  # deleted by its author or erased (``import_wordpress`` skips trash)
}


def _comments(site: Site) -> Iterator[dict[str, Any]]:
    """The site's comments, thread by thread, each parent before its replies (a reply's id is higher)."""
    rows = (
        Comment.objects.filter(thread__site=site)
        .order_by("thread_id", "pk")
        .values_list(*COMMENT_FIELDS)
        .iterator(chunk_size=2000)
    )
    for row in rows:
        yield dict(zip(COMMENT_FIELDS, row, strict=True))


def _threads(site: Site) -> dict[int, tuple[str, str, bool]]:
    return {
        pk: (key, title, is_open)
        for pk, key, title, is_open in Thread.objects.filter(site=site)
        .order_by("pk")
        .values_list("pk", "key", "title", "is_open")
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def comments_export_json(*, site: Site, out: TextIO) -> int:
    """Write the site's threads and comments as Moderato's JSON (one comment a line); return how many."""
    threads = _threads(site)
    header = {"format": MODERATO_FORMAT, "version": 1, "site": site.public_key, "exported_at": _iso(timezone.now())}
    out.write(json.dumps(header, ensure_ascii=False)[:-1] + ',\n"threads": [')
    for position, (key, title, is_open) in enumerate(threads.values()):
        thread = {"key": key, "title": title, "is_open": is_open}
        out.write(("," if position else "") + "\n" + json.dumps(thread, ensure_ascii=False))
    out.write('\n],\n"comments": [')
    count = 0
    for comment in _comments(site):
        row = {
            "id": comment["pk"],
            "thread": threads[comment["thread_id"]][0],
            "parent": comment["parent_id"],
            "author_name": comment["author_name"],
            "author_email": comment["author_email"],
            "body": comment["body"],
            "status": comment["status"],
            "created_at": _iso(comment["created_at"]),
            "decided_at": _iso(comment["decided_at"]),
            "external_id": comment["external_id"],
        }
        out.write(("," if count else "") + "\n" + json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count


def _xml(text: str) -> str:
    return html.escape(NOT_XML.sub("", text), quote=False)


def _wxr_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def comments_export_wxr(*, site: Site, out: TextIO, base_url: str = "") -> int:
    """Write the site's comments as a WordPress export (WXR 1.2): one ``<item>`` per thread, its
    comments inside; return how many comments. A thread key that is a path gets ``base_url`` in front
    of it (WordPress wants absolute links; ``import_wordpress`` takes the path back)."""
    threads = _threads(site)
    base_url = base_url.rstrip("/")
    out.write(
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        '<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
        f"\t<title>{_xml(site.name)}</title>\n\t<link>{_xml(base_url)}</link>\n"
        "\t<wp:wxr_version>1.2</wp:wxr_version>\n"
        f"\t<wp:base_site_url>{_xml(base_url)}</wp:base_site_url>\n\t<generator>Moderato</generator>\n"
    )
    comments = _comments(site)
    comment = next(comments, None)
    count = 0
    for pk, (key, title, is_open) in threads.items():
        link = base_url + key if key.startswith("/") else key
        out.write(
            f"\t<item>\n\t\t<title>{_xml(title or key)}</title>\n\t\t<link>{_xml(link)}</link>\n"
            f"\t\t<wp:post_id>{pk}</wp:post_id>\n\t\t<wp:post_type>post</wp:post_type>\n"
            f"\t\t<wp:status>publish</wp:status>\n"
            f"\t\t<wp:comment_status>{'open' if is_open else 'closed'}</wp:comment_status>\n"
        )
        while comment is not None and comment["thread_id"] == pk:
            date = _wxr_date(comment["created_at"])
            out.write(
                "\t\t<wp:comment>\n"
                f"\t\t\t<wp:comment_id>{comment['pk']}</wp:comment_id>\n"
                f"\t\t\t<wp:comment_author>{_xml(comment['author_name'])}</wp:comment_author>\n"
                f"\t\t\t<wp:comment_author_email>{_xml(comment['author_email'])}</wp:comment_author_email>\n"
                "\t\t\t<wp:comment_author_url></wp:comment_author_url>\n"
                "\t\t\t<wp:comment_author_IP></wp:comment_author_IP>\n"
                f"\t\t\t<wp:comment_date>{date}</wp:comment_date>\n"
                f"\t\t\t<wp:comment_date_gmt>{date}</wp:comment_date_gmt>\n"
                # The text as HTML (WordPress stores HTML), in XML.
                f"\t\t\t<wp:comment_content>{_xml(html.escape(comment['body'], quote=False))}</wp:comment_content>\n"
                f"\t\t\t<wp:comment_approved>{WXR_APPROVED[comment['status']]}</wp:comment_approved>\n"
                "\t\t\t<wp:comment_type>comment</wp:comment_type>\n"
                f"\t\t\t<wp:comment_parent>{comment['parent_id'] or 0}</wp:comment_parent>\n"
                "\t\t\t<wp:comment_user_id>0</wp:comment_user_id>\n"
                "\t\t</wp:comment>\n"
            )
            count += 1
            comment = next(comments, None)
        out.write("\t</item>\n")
    out.write("</channel>\n</rss>\n")
    return count
