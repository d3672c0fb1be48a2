"""Reading published threads: pages of top-level comments with their replies nested."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from comments import sql
from comments.models import Comment, Site, Thread, thread_key_canonical

logger = logging.getLogger(__name__)
Published = Comment.Status.PUBLISHED


@dataclass
class CommentNode:
    comment: Comment
    replies: list[CommentNode] = field(default_factory=list)


@dataclass
class ThreadPage:
    count: int  # published top-level comments
    total: int  # all published comments, replies included
    nodes: list[CommentNode]


def thread_comments_page(*, site: Site, thread: Thread | None, page: int, page_size: int) -> ThreadPage:
    """Return one page of published top-level comments, oldest first, with published replies nested.

    A reply is shown only when its whole chain up to the top is published. Replies nest at most
    ``site.max_reply_depth`` deep: a reply to a comment at that depth is listed next to it, under the
    same parent (as WordPress does), however deep the stored chain.
    """
    if thread is None:
        return ThreadPage(count=0, total=0, nodes=[])
    published = Comment.objects.filter(thread=thread, status=Published)
    totals = published.aggregate(total=Count("pk"), count=Count("pk", filter=Q(parent__isnull=True)))
    totals["total"] -= unlisted_counts(thread_ids=[thread.pk]).get(thread.pk, 0)
    offset = (page - 1) * page_size
    roots = list(published.filter(parent__isnull=True).order_by("created_at", "pk")[offset : offset + page_size])
    nodes = {root.pk: CommentNode(root) for root in roots}
    if roots:
        replies = published.filter(root_id__in=list(nodes)).order_by("created_at", "pk")
        children: dict[int, list[Comment]] = defaultdict(list)
        for reply in replies:
            assert reply.parent_id is not None
            children[reply.parent_id].append(reply)
        # (node, its depth, the node its replies go under): a node at the deepest level lends its own
        # parent's list to its replies.
        pending: list[tuple[CommentNode, int, CommentNode]] = [(node, 0, node) for node in nodes.values()]
        max_depth = max(site.max_reply_depth, 1)
        while pending:
            node, depth, holder = pending.pop()
            for child in children.get(node.comment.pk, []):
                child_node = CommentNode(child)
                holder.replies.append(child_node)
                child_depth = min(depth + 1, max_depth)
                pending.append((child_node, child_depth, child_node if child_depth < max_depth else holder))
        for node in nodes.values():  # replies lifted from deeper levels: in the order they were written
            _sort_replies(node)
    return ThreadPage(count=totals["count"], total=totals["total"], nodes=[nodes[root.pk] for root in roots])


def _sort_replies(root: CommentNode) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        node.replies.sort(key=lambda reply: (reply.comment.created_at, reply.comment.pk))
        stack.extend(node.replies)


def thread_counts(*, site: Site, thread_keys: list[str]) -> dict[str, int]:
    """Return the number of listed comments of each thread key (0 for unknown threads).

    Each thread's count is cached under its listing version, as its pages are: a request for the
    counts of a page of articles reads the threads (one query) and the cache, and counts only the
    threads whose version changed.
    """
    canonical = {key: thread_key_canonical(key) for key in thread_keys}
    threads = {thread.pk: thread for thread in Thread.objects.filter(site=site, key__in=set(canonical.values()))}
    cached: dict[int, int] = {}
    count_keys: dict[int, str] = {}
    try:
        for thread_id, thread in threads.items():
            version = listing_version(thread=thread)
            if version is not None:
                count_keys[thread_id] = f"thread-count:{_version_key(thread)}:{version}"
        found = cache.get_many(list(count_keys.values())) if count_keys else {}
        cached = {thread_id: found[key] for thread_id, key in count_keys.items() if key in found}
    except Exception:  # the cache down: count them all
        logger.warning("thread listing cache unavailable", exc_info=True)
    missing = [thread_id for thread_id in threads if thread_id not in cached]
    counted = _published_counts(thread_ids=missing) if missing else {}
    if counted and count_keys:
        with contextlib.suppress(Exception):
            cache.set_many({count_keys[t]: n for t, n in counted.items() if t in count_keys}, timeout=COUNT_SECONDS)
    by_key = {thread.key: cached.get(thread_id, counted.get(thread_id, 0)) for thread_id, thread in threads.items()}
    return {key: by_key.get(canonical[key], 0) for key in thread_keys}


COUNT_SECONDS = 300


def _published_counts(*, thread_ids: list[int]) -> dict[int, int]:
    rows = (
        Comment.objects.filter(thread_id__in=thread_ids, status=Published).values("thread_id").annotate(n=Count("pk"))
    )
    counts = {thread_id: 0 for thread_id in thread_ids} | {row["thread_id"]: row["n"] for row in rows}
    for thread_id, unlisted in unlisted_counts(thread_ids=thread_ids).items():
        counts[thread_id] -= unlisted
    return counts


def unlisted_counts(*, thread_ids: list[int]) -> dict[int, int]:
    """Published replies that are not listed because a comment above them is not published (held,
    rejected, or back in the queue after reports), per thread.

    The usual answer comes from one query that finds nothing: published replies whose parent is not
    published. Only the reply chains that have one are read in full.
    """
    if not thread_ids:
        return {}
    roots = set(
        Comment.objects.filter(thread_id__in=thread_ids, status=Published, root__isnull=False)
        .exclude(parent__status=Published)
        .values_list("root_id", flat=True)
    )
    if not roots:
        return {}
    rows = list(
        Comment.objects.filter(Q(pk__in=roots) | Q(root_id__in=roots)).values_list(
            "pk", "parent_id", "status", "thread_id"
        )
    )
    chain = {pk: (parent_id, status) for pk, parent_id, status, _ in rows}
    counts: dict[int, int] = defaultdict(int)
    for pk, _parent_id, status, thread_id in rows:
        if status == Published and not _chain_published(chain, pk):
            counts[thread_id] += 1
    return dict(counts)


def comment_listed(*, comment: Comment) -> bool:
    """Whether the thread listing shows this comment: it and every comment above it are published."""
    if comment.status != Published:
        return False
    if comment.parent_id is None:
        return True
    root = comment.root_id
    rows = Comment.objects.filter(Q(pk=root) | Q(root_id=root)).values_list("pk", "parent_id", "status")
    return _chain_published({pk: (parent_id, status) for pk, parent_id, status in rows}, comment.pk)


def _chain_published(chain: Mapping[int, tuple[int | None, str]], pk: int | None) -> bool:
    while pk is not None:
        parent_id, status = chain.get(pk, (None, ""))
        if status != Published:
            return False
        pk = parent_id
    return True


def thread_get(*, site: Site, thread_key: str) -> Thread | None:
    """The site's thread of this key, or None (``comments.sql``: the query compiled once; through the
    ORM, building it cost a third of a cached page's CPU)."""
    return sql.thread_by_key(site_id=site.pk, key=thread_key_canonical(thread_key))


def thread_accepting(*, site: Site, thread: Thread | None) -> tuple[bool, datetime | None]:
    """Whether a new comment to this thread would be taken now, and when the site's ``close_after_days``
    closes it (None: never). A thread not made yet takes one if the site makes threads on a first comment."""
    if thread is None:
        return site.auto_create_threads, None
    return thread.takes_comments(site, timezone.now()), thread.closes_at(site)


# A thread's listing version: a random token in the shared cache, replaced whenever a comment of the
# thread enters or leaves the listing (moderation.services, after commit). Cached pages are stored
# under it, and it is their ETag, so a change makes every cached page and every browser's copy stale
# at once. With the cache down, pages are built from the database and carry no version.


VERSION_SECONDS = 30 * 86400  # a version that expires is only a new one: its pages are built again


def _version_key(thread: Thread) -> str:
    # With its creation time: a thread id used again (a restored backup, a test's rolled-back
    # transaction) never finds another thread's pages.
    return f"thread-listing:{thread.pk}:{thread.created_at.timestamp():.6f}"


def listing_version(*, thread: Thread) -> str | None:
    """The thread's current listing version (made on first use), or None when the cache is down."""
    try:
        version = cache.get(_version_key(thread))
        if version is None:
            cache.add(_version_key(thread), secrets.token_hex(8), timeout=VERSION_SECONDS)
            version = cache.get(_version_key(thread))
    except Exception:  # Redis down: serve from the database (the rate limits fail open the same way)
        logger.warning("thread listing cache unavailable", exc_info=True)
        return None
    return str(version) if version is not None else None


def thread_listing_changed(*, thread: Thread) -> None:
    """A comment of this thread entered or left the listing: every cached page of it is stale."""
    thread_listings_changed(threads=[thread])


def thread_listings_changed(*, threads: Collection[Thread]) -> None:
    """``thread_listing_changed`` of many threads, in one round trip to the cache (a batch of decisions)."""
    if not threads:
        return
    try:
        cache.set_many({_version_key(thread): secrets.token_hex(8) for thread in threads}, timeout=VERSION_SECONDS)
    except Exception:  # pages then live out their cache time (comments.views.LISTING_PAGE_SECONDS) at most
        ids = ", ".join(str(thread.pk) for thread in threads)
        logger.warning("thread listing cache unavailable: threads %s not invalidated", ids, exc_info=True)
