"""How long ``manage.py backup`` and ``manage.py restore`` take on a site with many comments (SQLite).

    .venv/bin/python bench/backup.py                 # 20,000 comments on 100 posts
    .venv/bin/python bench/backup.py --comments 100000 --threads 2000

Imports a generated WordPress export (``bench/imports.py``'s generator) into a fresh data directory,
times ``backup --output DIR`` (the process's start included, as an operator runs it), then times
``restore DIR`` into a second, freshly migrated data directory, and prints the backup's size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from imports import manage, wxr_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moderato-backup-") as tmp:
        export, backup = Path(tmp) / "export.xml", Path(tmp) / "backup"
        expected = wxr_write(export, comments=args.comments, threads=args.threads)
        base = os.environ | {"MODERATO_LOG_FORMAT": "plain", "LOG_LEVEL": "WARNING"}
        base.pop("DATABASE_URL", None)
        source = base | {"MODERATO_DATA_DIR": str(Path(tmp) / "var")}
        target = base | {"MODERATO_DATA_DIR": str(Path(tmp) / "var-restored")}
        manage(source, "migrate", "-v", "0")
        manage(source, "shell", "-c", "from comments.models import Site; Site.objects.create(name='B', public_key='b')")
        manage(source, "import_wordpress", str(export), "--site", "b")
        start, _ = manage(source, "check")  # what any manage.py command pays before its work
        backed_up, summary = manage(source, "backup", "--output", str(backup))
        print(summary)
        manage(target, "migrate", "-v", "0")
        restored, summary = manage(target, "restore", str(backup))
        print(summary)
        size = sum(path.stat().st_size for path in backup.rglob("*") if path.is_file())
    print()
    print("| comments | backup | restore | backup size | a manage.py start (check) |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {expected:,} | {backed_up:.1f} s | {restored:.1f} s | {size / 1000:,.0f} KB | {start:.1f} s |")


if __name__ == "__main__":
    main()
