"""Submission latency and submit-to-decision latency of a running instance, at a fixed rate.

Start an instance without the per-address rate limit, then run this against it with the same
data directory (or DATABASE_URL), so that it can read when each comment was decided:

    MODERATO_SUBMIT_RATE= make run                           # terminal 1
    .venv/bin/python bench/pipeline.py --rate 50 --count 500 # terminal 2

It prints the HTTP latency of the POSTs and, from the database, decided_at - created_at.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TEXTS = [
    "Thanks for the article, I learned a lot about the new bridge.",
    "I disagree with the council here, the parking plan makes no sense.",
    "You are a worthless idiot and nobody wants to read your comments.",
    "Earn $5000 a week from home!!! DM me on WhatsApp +1 555 0100",
    "Great reporting, please follow up on the budget next month.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--site", default="demo")
    parser.add_argument("--rate", type=float, default=50, help="requests per second")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for every decision")
    args = parser.parse_args()

    import django

    django.setup()
    from comments.models import Comment

    thread = f"/bench/{int(time.time())}"
    latencies: list[float] = []
    ids: list[int] = []
    errors = 0
    lock = threading.Lock()

    def post(client: httpx.Client, n: int) -> None:
        nonlocal errors
        payload = {"site": args.site, "thread": thread, "name": f"Reader {n}", "comment": TEXTS[n % len(TEXTS)]}
        started = time.perf_counter()
        response = client.post(f"{args.base_url}/api/v1/comments", json=payload)
        elapsed = time.perf_counter() - started
        with lock:
            if response.status_code == 202:
                latencies.append(elapsed)
                ids.append(response.json()["id"])
            else:
                errors += 1

    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=64)) as client:
        threads = []
        start = time.perf_counter()
        for n in range(args.count):
            delay = start + n / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            thread_ = threading.Thread(target=post, args=(client, n))
            thread_.start()
            threads.append(thread_)
        for thread_ in threads:
            thread_.join()
        sent_in = time.perf_counter() - start

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not Comment.objects.filter(pk__in=ids, status=Comment.Status.PENDING).exists():
            break
        time.sleep(0.2)
    rows = Comment.objects.filter(pk__in=ids).exclude(decided_at=None).values_list("created_at", "decided_at")
    decisions = [(decided - created).total_seconds() for created, decided in rows]
    pending = len(ids) - len(decisions)

    ms = 1000
    print(f"posted {len(ids)} comments at {len(ids) / sent_in:.1f}/s ({errors} errors), thread {thread}")
    print(
        f"POST latency    p50 {statistics.median(latencies) * ms:.1f} ms  p99 {percentile(latencies, 99) * ms:.1f} ms"
    )
    if decisions:
        print(
            f"submit->decided p50 {statistics.median(decisions) * ms:.1f} ms  "
            f"p99 {percentile(decisions, 99) * ms:.1f} ms  max {max(decisions) * ms:.1f} ms"
        )
    print(f"still pending after {args.timeout:.0f} s: {pending}")
    return 1 if errors or pending else 0


if __name__ == "__main__":
    sys.exit(main())
