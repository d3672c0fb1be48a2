"""How fast the moderators' pages answer with a big queue (issue 15 item 7), on SQLite or PostgreSQL.

    .venv/bin/python bench/admin_pages.py                   # SQLite, in var/bench/admin-pages/
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME REDIS_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/admin_pages.py               # PostgreSQL (an empty database of its own)

Migrates the database, replaces its comments with ``--comments`` comments of the last 30 days on
``--threads`` threads of 5 sites (bulk_create: 80 % published, 15 % held, 5 % rejected, scored and
explained, a tenth of them replies, 5,000 commenters; one flood of 2,000 held comments from one
address on one thread; a moderator's decision on every tenth), then, logged in as a moderator, times
``--requests`` requests of each page: the queue (first page, held comments of one site, one thread, a
later page, a moderator limited to two sites and two languages), a comment's page, the dashboard
(figures kept, figures a minute old, nothing kept) and a search, each after one untimed request.
Prints p50 / p95 / max in ms and the queries of one more request per page, with the machine's load.
``--reuse`` keeps a previous run's comments. Target: p95 under 300 ms (search stated apart).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("MODERATO_DATA_DIR", str(ROOT / "var" / "bench" / "admin-pages"))
    Path(os.environ["MODERATO_DATA_DIR"]).mkdir(parents=True, exist_ok=True)

from bench.http_bench import machine_line  # noqa: E402

SITES = 5
COMMENTERS = 5_000
FLOOD = 2_000
LANGUAGES = [("en", "Latn"), ("bg", "Cyrl"), ("sr", "Cyrl"), ("sq", "Latn"), ("de", "Latn")]
WORDS = "bridge council river vote budget school night market train mayor storm harbour".split()
VERSIONS = {"TOXICITY": "toxicity-2026.11.30.2", "SPAM": "spam-2026.11.30.1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep the comments a previous run wrote")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    # No collectstatic here: static URLs without the manifest, as the tests serve them.
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }
    settings.MODERATO_MODEL_REFRESH_SECONDS = 3600  # the active versions read once, not between two requests
    print(f"Machine: {machine_line()} at the start")
    call_command("migrate", verbosity=0)
    if not args.reuse:
        started = time.perf_counter()
        fill(comments=args.comments, thread_count=args.threads)
        print(f"wrote {args.comments:,} comments on {args.threads:,} threads in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum would after a day's comments
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"{connection.vendor}, {args.requests} timed requests per page after one untimed")
    print()
    print("| page | p50 ms | p95 ms | max ms | queries |")
    print("|---|---:|---:|---:|---:|")
    for name, user, urls, before in pages():
        times, queries = timed(user, urls, before, args.requests)
        p95 = sorted(times)[max(int(len(times) * 0.95) - 1, 0)]
        print(f"| {name} | {statistics.median(times):.0f} | {p95:.0f} | {max(times):.0f} | {queries} |")
    print()
    print(f"Machine: {machine_line()} at the end")
    return 0


def pages() -> list[tuple[str, Any, Callable[[int], str], Callable[[], None]]]:
    """(page, user, the URL of the n-th request, what to do before each request)."""
    from django.contrib.auth.models import Group, User

    from comments.models import Comment, Site, Thread
    from moderation import dashboard
    from moderation.models import ModeratorLanguages, SitePolicy
    from tests.conftest import moderate_every_site

    group = Group.objects.get(name="moderators")
    alice = User.objects.filter(username="bench-alice").first() or User.objects.create_user(
        "bench-alice", password="pw", is_staff=True
    )
    alice.groups.add(group)
    moderate_every_site(alice)
    boris = User.objects.filter(username="bench-boris").first() or User.objects.create_user(
        "bench-boris", password="pw", is_staff=True
    )
    boris.groups.add(group)
    bench_sites = list(Site.objects.filter(public_key__startswith="bench").order_by("pk"))
    for site in bench_sites[:2]:
        SitePolicy.objects.get_or_create(site=site)[0].moderators.add(boris)
    ModeratorLanguages.objects.update_or_create(user=boris, defaults={"languages": "bg sr-Cyrl"})
    flood = Thread.objects.get(key="/bench/flood")
    site_ids = [site.pk for site in bench_sites]
    held = list(
        Comment.objects.filter(status="held").exclude(thread=flood).order_by("?").values_list("pk", flat=True)[:50]
    )
    flooded = list(Comment.objects.filter(thread=flood).values_list("pk", flat=True)[:10])
    queue, board = "/admin/comments/comment/", "/admin/dashboard/"
    later = max(min(200, Comment.objects.count() // 100), 1)  # a page at 10,000 rows in, or halfway
    attributes = dashboard.dashboard_attributes()

    def nothing() -> None:
        pass

    def figures_a_minute_old() -> None:
        dashboard.dashboard_rows_age(seconds=dashboard.CACHE_SECONDS + 1, attributes=attributes)

    def nothing_kept() -> None:
        dashboard.dashboard_rows_forget(attributes=attributes)

    return [
        ("queue, first page", alice, lambda n: queue, nothing),
        ("queue, held of one site", alice, lambda n: f"{queue}?status__exact=held&site={site_ids[n % 5]}", nothing),
        ("queue, the flood's thread", alice, lambda n: f"{queue}?thread={flood.pk}", nothing),
        (f"queue, page {later} (rows from {(later - 1) * 50 + 1:,})", alice, lambda n: f"{queue}?p={later}", nothing),
        ("queue, moderator of 2 sites in 2 languages", boris, lambda n: queue, nothing),
        ("a held comment's page", alice, lambda n: f"{queue}{held[n % len(held)]}/change/", nothing),
        ("a flood comment's page (2,000 of its author)", alice, lambda n: f"{queue}{flooded[n % 10]}/change/", nothing),
        ("dashboard, figures kept", alice, lambda n: board, nothing),
        ("dashboard, figures a minute old (refresh queued)", alice, lambda n: board, figures_a_minute_old),
        ("dashboard, moderator of 2 sites in 2 languages", boris, lambda n: board, nothing),
        ("dashboard, nothing kept (computed in the request)", alice, lambda n: board, nothing_kept),
        ("search (stated apart): one word", alice, lambda n: f"{queue}?q={WORDS[n % len(WORDS)]}", nothing),
    ]  # fmt: skip


def timed(user: Any, url: Callable[[int], str], before: Callable[[], None], requests: int) -> tuple[list[float], int]:
    """The milliseconds of ``requests`` requests after an untimed one, and the queries of one more."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    before()
    assert client.get(url(0)).status_code == 200, url(0)
    times = []
    for n in range(1, requests + 1):
        before()
        started = time.perf_counter()
        response = client.get(url(n))
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url(n)
    before()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url(0)).status_code == 200
    return times, len(captured)


def fill(*, comments: int, thread_count: int) -> None:
    """Replace the database's comments with ``comments`` of the last 30 days (see the module's docstring)."""
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone

    from comments.models import Comment, Site, Thread
    from moderation.models import ModerationAction, ModerationDecision

    actor = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", password="pw")
    with transaction.atomic():
        Comment.objects.all().delete()
        Thread.objects.all().delete()
    rng = random.Random(7)
    now = timezone.now()
    sites = [
        Site.objects.get_or_create(public_key=f"bench{i}", defaults={"name": f"Bench {i}"})[0] for i in range(SITES)
    ]
    threads = Thread.objects.bulk_create(
        Thread(site=sites[i % SITES], key=f"/bench/{i}", title=f"{rng.choice(WORDS).title()} story {i}")
        for i in range(thread_count - 1)
    )
    flood = Thread.objects.create(site=sites[0], key="/bench/flood", title="The flooded story")
    rows = [comment_row(rng, threads[i % len(threads)], i, now) for i in range(comments - FLOOD)]
    rows += [
        comment_row(rng, flood, i, now, status="held", ip_hash="f" * 64, minutes=1 + i % 60, name="Flooder")
        for i in range(FLOOD)
    ]
    replies = set(range(10, len(rows), 10))
    Comment.objects.bulk_create([row for i, row in enumerate(rows) if i not in replies], batch_size=2000)
    for i in sorted(replies):  # a reply to the comment before it, on its thread
        parent = rows[i - 1]
        rows[i].thread, rows[i].parent, rows[i].root_id = parent.thread, parent, parent.root_id or parent.pk
        rows[i].created_at = rows[i].decided_at = max(rows[i].created_at, parent.created_at)
    Comment.objects.bulk_create([rows[i] for i in sorted(replies)], batch_size=2000)
    decided = list(Comment.objects.exclude(status="published").values_list("pk", "status"))
    ModerationDecision.objects.bulk_create(
        ModerationDecision(
            comment_id=pk, actor=actor, action=ModerationAction.APPROVE if n % 2 else ModerationAction.REJECT,
            from_status=status, to_status="published" if n % 2 else "rejected",
        )
        for n, (pk, status) in enumerate(decided[: comments // 10])
    )  # fmt: skip


def comment_row(rng: random.Random, thread: Any, i: int, now: Any, **fixed: Any) -> Any:
    """One comment as a scored, explained comment is stored; ``fixed`` overrides status, address and age."""
    from comments.models import Comment

    roll = rng.random()
    status = fixed.get("status") or ("published" if roll < 0.8 else "held" if roll < 0.95 else "rejected")
    toxicity = rng.random() ** (3 if status == "published" else 0.5)
    attribute = "TOXICITY" if toxicity > 0.5 else "SPAM"
    language, script = rng.choice(LANGUAGES)
    commenter = rng.randrange(COMMENTERS)
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 40)))
    span = {"begin": 0, "end": len(words.split()[0]), "text": words.split()[0], "weight": 0.4}
    reason = {"code": "hold_threshold", "detail": "", "attribute": attribute, "score": round(max(toxicity, 0.5), 3),
              "threshold": 0.5, "spans": [span]}  # fmt: skip
    created = now - timedelta(minutes=fixed.get("minutes") or rng.randrange(30 * 24 * 60))
    return Comment(
        thread=thread, author_name=fixed.get("name") or f"Reader {commenter}", body=f"{words} ({i})",
        author_email=f"reader{commenter}@example.org" if commenter % 2 else "",
        ip_hash=fixed.get("ip_hash") or f"{commenter:064x}", commenter=f"{commenter:022x}" if commenter % 3 else "",
        status=status, decided_at=created, created_at=created,
        scores={"TOXICITY": round(toxicity, 3), "SPAM": round(rng.random() ** 4, 3)}, model_versions=VERSIONS,
        reasons=[] if status == "published" else [reason], language=language, script=script,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
