"""Time the transparency report over a generated year of 100,000 notices (bulk-inserted).

    python bench/transparency_report.py [--postgres URL] [--notices N]

Prints the time to compute the report (query layer + pure functions) and to render each format,
in-process, on SQLite (a fresh file) or on the given PostgreSQL database (its tables are emptied).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reports.year import generate

from staydown.db.engine import Database
from staydown.db.migrate import metadata, upgrade
from staydown.reports import service
from staydown.reports.render import render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL to use instead of a fresh SQLite file")
    parser.add_argument("--notices", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.postgres or f"sqlite:///{Path(scratch) / 'staydown.db'}"
        upgrade(url)
        database = Database.from_url(url)
        if args.postgres:
            tables = ", ".join(f'"{t.name}"' for t in metadata().sorted_tables if t.name != "chain_heads")
            with database.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        started = time.perf_counter()
        generate(database, notices=args.notices)
        print(
            f"{database.engine.dialect.name}: generated {args.notices:,} notices "
            f"in {time.perf_counter() - started:.1f} s"
        )
        period = service.parse_period("2025-01-01", "2025-12-31")
        with database.reader() as session:
            started = time.perf_counter()
            report = service.transparency(session, period, now=datetime.now(UTC), provider="bench")
            print(
                f"report computed in {time.perf_counter() - started:.2f} s ({report.notices.total:,} notices)"
            )
        for fmt in ("json", "csv", "html"):
            started = time.perf_counter()
            size = len(render(report, fmt))
            print(f"{fmt}: rendered {size:,} bytes in {time.perf_counter() - started:.2f} s")
        database.dispose()


if __name__ == "__main__":
    main()
