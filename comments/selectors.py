"""Reading published threads: pages of top-level comments with their replies nested."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q

from comments.models import Comment, Site, Thread

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


def thread_comments_page(*, site: Site, thread_key: str, page: int, page_size: int) -> ThreadPage:
    """Return one page of published top-level comments, oldest first, with published replies nested.

    A reply is shown only when its whole chain up to the top is published. Replies nest at most
    ``site.max_reply_depth`` deep: a reply to a comment at that depth is listed next to it, under the
    same parent (as WordPress does), however deep the stored chain.
    """
    thread = Thread.objects.filter(site=site, key=thread_key).first()
    if thread is None:
        return ThreadPage(count=0, total=0, nodes=[])
    published = Comment.objects.filter(thread=thread, status=Published)
    totals = published.aggregate(total=Count("pk"), count=Count("pk", filter=Q(parent__isnull=True)))
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
    """Return the number of published comments of each thread key (0 for unknown threads)."""
    rows = (
        Comment.objects.filter(thread__site=site, thread__key__in=thread_keys, status=Published)
        .values("thread__key")
        .annotate(n=Count("pk"))
    )
    found = {row["thread__key"]: row["n"] for row in rows}
    return {key: found.get(key, 0) for key in thread_keys}
