"""CPU cost of the scoring drain in-process, per wake-up and per decided comment, and where it goes.

Runs against the configured database and cache (DATABASE_URL / REDIS_URL as the instance has them),
on a site of its own ("drain-profile", created if missing):

    .venv/bin/python bench/drain_profile.py --sizes 1,4,16,64 --repeats 20 2>/dev/null
    .venv/bin/python bench/drain_profile.py --rate 300 --seconds 10 2>/dev/null

With ``--sizes``: for each size n it stores n pending comments (not timed), then times one drain run
in-process (``pending_comments_drain.apply()``: the task with Celery's signals, not the worker's message
handling) until it has decided them and gone back to sleep, and prints the CPU per drain and per comment,
the PostgreSQL backend's (a local PostgreSQL whose /proc this user can read) and the statements per drain;
then a cProfile of the drains of ``--profile-size``.

With ``--rate``: a steady load. Another process stores comments at that rate for ``--seconds``, each
followed by the wake-up a submission makes (a drain "queued" is a drain run here, as a worker would);
it prints the drains run, this process's CPU and its PostgreSQL backend's per decided comment, and the
statements per comment: the worker's side of a submission at that rate.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.submit_profile import backend_cpu_seconds

TEXTS = [
    "Thanks for the article, I learned a lot about the new bridge",
    "I disagree with the council here, the parking plan makes no sense",
    "Great reporting, please follow up on the budget next month",
    "The photos of the harbour at dawn are lovely, who took them",
    "My grandmother used to run the bakery on that street, good memories",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16,64", help="comments pending at each drain, comma-separated")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--profile-size", type=int, default=4)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0, help="comments a second: a steady load instead of sizes")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from comments.models import Comment, Site, Thread
    from moderation import tasks

    site, _ = Site.objects.get_or_create(public_key="drain-profile", defaults={"name": "Drain profile"})
    thread, _ = Thread.objects.get_or_create(site=site, key="/bench/drain")
    while Comment.objects.filter(status=Comment.Status.PENDING, scoring_attempts=0).exists():
        tasks.pending_comments_drain.apply()  # what was left pending (by bench/submit_profile.py, say)
    counter = iter(range(10**9))

    def store(n: int) -> None:
        Comment.objects.bulk_create(
            Comment(
                thread=thread,
                author_name=f"Reader {number}",
                body=f"{TEXTS[number % len(TEXTS)]} ({number})",
                ip_hash=f"{number:064x}",
                commenter=f"c{number}",
            )
            for number in (next(counter) for _ in range(n))
        )

    def drain(n: int) -> None:
        decided = tasks.pending_comments_drain.apply().get()
        if decided != n:
            raise SystemExit(f"a drain decided {decided} comments, not {n}")

    store(4)
    drain(4)  # warm up: models, connections, caches
    if args.rate:
        steady(args.rate, args.seconds, thread.pk)
        return 0
    print("| pending at wake-up | CPU ms per drain | CPU ms per comment | + PostgreSQL ms per comment | statements |")
    print("|---:|---:|---:|---:|---:|")
    for n in (int(size) for size in args.sizes.split(",")):
        cpu = backend = 0.0
        statements = 0
        for _ in range(args.repeats):
            store(n)
            backend_before = backend_cpu_seconds()
            started = time.process_time()
            with CaptureQueriesContext(connection) as queries:
                drain(n)
            cpu += time.process_time() - started
            backend_after = backend_cpu_seconds()
            if backend_before is not None and backend_after is not None:
                backend += backend_after - backend_before
            statements += len(queries.captured_queries)
        drains = args.repeats
        print(
            f"| {n} | {cpu / drains * 1000:.2f} | {cpu / drains / n * 1000:.3f} | {backend / drains / n * 1000:.3f} "
            f"| {statements / drains:.1f} |"
        )
    profile = cProfile.Profile(time.process_time)  # CPU, not the waits on the database
    for _ in range(args.repeats):
        store(args.profile_size)
        profile.enable()
        drain(args.profile_size)
        profile.disable()
    stats = pstats.Stats(profile)
    # Unlike CPU time, the count of Python calls does not move with the machine's load.
    print(f"{stats.total_calls / args.repeats:.0f} Python function calls per drain of {args.profile_size}")  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


def steady(rate: float, seconds: float, thread_id: int) -> None:
    """Comments at ``rate`` a second for ``seconds`` from another process, drains run here as they are
    woken (see above)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from comments.models import Comment
    from moderation import tasks

    tasks.cache.delete(tasks.DRAIN_WAKEUP_KEY)
    first = Comment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    context = multiprocessing.get_context("spawn")
    woken: multiprocessing.Queue[bool] = context.Queue()
    tasks.pending_comments_drain.delay = lambda: woken.put(True)  # type: ignore[method-assign]  # a hand-over
    submitting = context.Process(target=submissions, args=(rate, seconds, thread_id, woken))
    backend_before = backend_cpu_seconds()
    cpu = time.process_time()
    drains = 0
    with CaptureQueriesContext(connection) as queries:
        submitting.start()
        while woken.get():
            tasks.pending_comments_drain.apply()
            drains += 1
        submitting.join()
        while Comment.objects.filter(pk__gt=first, status=Comment.Status.PENDING).exists():
            tasks.pending_comments_drain.apply()
            drains += 1
    cpu = time.process_time() - cpu
    backend_after = backend_cpu_seconds()
    decided = Comment.objects.filter(pk__gt=first).count()
    line = f"{decided} comments at {rate:g}/s, {drains} drains: {cpu / decided * 1000:.3f} ms CPU per comment"
    if backend_before is not None and backend_after is not None:
        line += f" (+ {(backend_after - backend_before) / decided * 1000:.3f} ms PostgreSQL backend)"
    print(f"{line}, {len(queries.captured_queries) / decided:.2f} statements per comment")


def submissions(rate: float, seconds: float, thread_id: int, woken: multiprocessing.Queue[bool]) -> None:
    """The submitting process: store a comment and make a submission's wake-up, ``rate`` times a second."""
    import django

    django.setup()
    from django.db import connection

    from comments.models import Comment
    from moderation import tasks

    tasks.pending_comments_drain.delay = lambda: woken.put(True)  # type: ignore[method-assign]
    start = time.monotonic()
    stored = 0
    while (elapsed := time.monotonic() - start) < seconds:
        for _ in range(int(elapsed * rate) + 1 - stored):
            number = stored = stored + 1
            Comment.objects.create(
                thread_id=thread_id,
                author_name=f"Reader {number}",
                body=f"{TEXTS[number % len(TEXTS)]} (steady {number})",
                ip_hash=f"{number:064x}",
                commenter=f"s{number}",
            )
            tasks.pending_comments_drain_wake()  # autocommit: at once, as after a submission's commit
        time.sleep(max(0.0, stored / rate - (time.monotonic() - start)))
    connection.close()
    woken.put(False)


if __name__ == "__main__":
    sys.exit(main())
