"""CPU cost of one POST /api/v1/comments in-process (no HTTP server), and where it goes.

Runs against the configured database and broker (set DATABASE_URL / REDIS_URL as the instance does;
a site with public key "demo" must exist, e.g. after `make run`):

    MODERATO_SUBMIT_RATE= .venv/bin/python bench/submit_profile.py --requests 200

Prints the mean time per request and the functions that take the most cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--site", default="demo")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    import django

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    body = f'{{"site": "{args.site}", "thread": "/bench/profile", "name": "A", "comment": "hello there"}}'

    def post() -> None:
        response = client.post("/api/v1/comments", body, content_type="application/json")
        if response.status_code != 202:
            raise SystemExit(f"POST answered {response.status_code}: {response.content[:200]!r}")

    for _ in range(20):  # warm up connections and caches
        post()
    started = time.perf_counter()
    for _ in range(args.requests):
        post()
    print(f"{(time.perf_counter() - started) / args.requests * 1000:.1f} ms per request ({args.requests} requests)")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.requests):
        post()
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
