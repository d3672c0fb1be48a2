"""How fast a large WordPress export imports, on SQLite and on PostgreSQL.

    .venv/bin/python bench/imports.py                          # 100,000 comments, SQLite and PostgreSQL
    .venv/bin/python bench/imports.py --comments 20000 --no-postgres

Generates a WXR file (not committed: written to a temporary directory) with ``--comments`` comments on
``--threads`` posts: a third of them replies (to any earlier comment of the post, so chains nest), 90 %
approved, 5 % pending, 3 % spam, 2 % trash, each with an address and an e-mail address, some with
HTML. Then, for each database, on a fresh data directory (SQLite) or a fresh schema of the PostgreSQL
database ``--postgres`` names (everything in it is dropped), it migrates, creates a site and times
``manage.py import_wordpress`` as a publisher runs it (the process's start included), then a second,
idempotent run, and a ``--dry-run``. Prints comments per second of the first run; the target is the
whole file in under 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 120.0
WORDS = (
    "bridge council mayor road budget years finally again article thanks agree disagree really think "
    "people city water weather harvest prices school hospital train late money government report"
).split()


def wxr_write(path: Path, *, comments: int, threads: int, seed: int = 17) -> int:
    """Write the export; return how many comments are not trash (what an import creates)."""
    rng = random.Random(seed)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    per_thread = [comments // threads + (1 if n < comments % threads else 0) for n in range(threads)]
    number = kept = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/">'
            "\n<channel><title>Bench</title><wp:wxr_version>1.2</wp:wxr_version>\n"
        )
        for post, count in enumerate(per_thread, 1):
            out.write(
                f"<item><title>Post {post}</title><link>https://bench.example/{2015 + post % 10}/post-{post}/</link>"
                f"<wp:post_id>{post}</wp:post_id>\n"
            )
            ids: list[int] = []
            for _ in range(count):
                number += 1
                parent = rng.choice(ids) if ids and rng.random() < 0.33 else 0
                ids.append(number)
                roll = rng.random()
                approved = "1" if roll < 0.90 else "0" if roll < 0.95 else "spam" if roll < 0.98 else "trash"
                kept += approved != "trash"
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
                if rng.random() < 0.2:
                    text = f"<p>{text}</p><p>See <a href='https://ref.example/{number}'>this</a> &amp; more.</p>"
                when = (start + timedelta(minutes=number)).strftime("%Y-%m-%d %H:%M:%S")
                out.write(
                    f"<wp:comment><wp:comment_id>{number}</wp:comment_id>"
                    f"<wp:comment_author>Reader {rng.randint(1, 20000)}</wp:comment_author>"
                    f"<wp:comment_author_email>reader{rng.randint(1, 20000)}@example.org</wp:comment_author_email>"
                    f"<wp:comment_author_IP>203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}</wp:comment_author_IP>"
                    f"<wp:comment_date_gmt>{when}</wp:comment_date_gmt>"
                    f"<wp:comment_content>{escape(text, quote=False)}</wp:comment_content>"
                    f"<wp:comment_approved>{approved}</wp:comment_approved>"
                    f"<wp:comment_type>comment</wp:comment_type><wp:comment_parent>{parent}</wp:comment_parent>"
                    "</wp:comment>\n"
                )
            out.write("</item>\n")
        out.write("</channel></rss>\n")
    return kept


def manage(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def postgres_reset(url: str) -> None:
    """An empty public schema in the database (created if it does not exist yet)."""
    import psycopg

    server, _, database = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            connection.execute(f'CREATE DATABASE "{database}"')
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def bench(name: str, env: dict[str, str], export: Path, expected: int) -> dict[str, float]:
    manage(env, "migrate", "-v", "0")
    manage(
        env, "shell", "-c", "from comments.models import Site; Site.objects.create(name='Bench', public_key='bench')"
    )
    first, summary = manage(env, "import_wordpress", str(export), "--site", "bench")
    print(f"{name}: {summary}")
    if f"and {expected} comment(s)" not in summary:
        raise SystemExit(f"{name}: expected {expected} comments created")
    again, summary_again = manage(env, "import_wordpress", str(export), "--site", "bench")
    dry, _ = manage(env, "import_wordpress", str(export), "--site", "bench", "--dry-run")
    print(f"{name}: second run: {summary_again}")
    return {"first": first, "again": again, "dry": dry}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2_000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/imports")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moderato-imports-") as tmp:
        export = Path(tmp) / "wordpress-large.xml"
        started = time.monotonic()
        expected = wxr_write(export, comments=args.comments, threads=args.threads)
        size = export.stat().st_size / 1e6
        print(
            f"generated {args.comments:,} comments ({expected:,} not trash) on {args.threads:,} posts, {size:.0f} MB,"
        )
        print(f"in {time.monotonic() - started:.1f} s")
        base = os.environ | {"MODERATO_LOG_FORMAT": "plain", "LOG_LEVEL": "WARNING"}
        base.pop("DATABASE_URL", None)
        runs = {"SQLite": base | {"MODERATO_DATA_DIR": str(Path(tmp) / "var")}}
        if not args.no_postgres:
            postgres_reset(args.postgres)
            runs["PostgreSQL"] = base | {"MODERATO_DATA_DIR": str(Path(tmp) / "var-pg"), "DATABASE_URL": args.postgres}
        results = {name: bench(name, env, export, expected) for name, env in runs.items()}
    print()
    print("| database | first import | comments/s | second run (nothing new) | --dry-run | under 2 minutes |")
    print("|---|---:|---:|---:|---:|---|")
    for name, times in results.items():
        print(
            f"| {name} | {times['first']:.1f} s | {expected / times['first']:,.0f} | {times['again']:.1f} s"
            f" | {times['dry']:.1f} s | {'yes' if times['first'] < TARGET_SECONDS else 'NO'} |"
        )


if __name__ == "__main__":
    main()
