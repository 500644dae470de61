"""Desk render time at production size: the main pages an agent, a customer and a rightsholder
open, with 100,000 notices, 2,000 customers with strikes and 20,000 stay-down matches stored.

The rows are bulk-inserted into a fresh SQLite (or PostgreSQL) database; each page is fetched over
HTTP as a signed-in browser would, once to warm the caches and then ``--rounds`` times. The
reference measured in the same run is the desk's sign-in page, which reads nothing stored: each
page's median is reported in milliseconds and as a multiple of it.

Target: each main page under 200 ms at 100,000 notices.

    python bench/desk_render.py
    python bench/desk_render.py --notices 20000 --rounds 9
    python bench/desk_render.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import Api, Clock, ServerThread, make_keys, settings_for
from tests.desk.bulk import busy_desk
from tests.desk.support import DeskClient
from tests.dnsserver import LocalDnsServer

from staydown.api.app import create_app
from staydown.db.engine import Database
from staydown.db.migrate import upgrade

BUDGET_MS = 200.0


def median_ms(client: DeskClient, path: str, rounds: int) -> float:
    assert client.get(path).status_code == 200, path  # warm the caches once
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return statistics.median(times)


def run(url: str, tmp: Path, *, notices: int, customers: int, matches: int, rounds: int) -> None:
    upgrade(url)
    database = Database.from_url(url)
    clock = Clock()
    with LocalDnsServer() as dns:
        settings = settings_for(tmp, url, dns)
        app = create_app(settings, database, clock=clock)
        keys = make_keys(database, clock)
        with ServerThread(app) as server:
            app.state.origin_guard.serving(*server.sock.getsockname()[:2])
            api = Api(server.url, keys, database, clock, settings)
            started = time.perf_counter()
            pages = busy_desk(api, notices=notices, customers=customers, matches=matches)
            print(f"  filled {notices} notices in {time.perf_counter() - started:.1f} s")
            reference = median_ms(DeskClient(api), "/desk/signin", rounds)
            print(f"  reference: the sign-in page {reference:.1f} ms")
            over = []
            for name, (client, path) in pages.items():
                ms = median_ms(client, path, rounds)
                mark = "" if ms <= BUDGET_MS else f"  over {BUDGET_MS:.0f} ms"
                print(f"  {name:38s} {ms:7.1f} ms  {ms / reference:6.1f}x the reference{mark}")
                if ms > BUDGET_MS:
                    over.append(name)
            api.close()
    database.dispose()
    print(f"  {len(pages) - len(over)} of {len(pages)} pages within {BUDGET_MS:.0f} ms")
    print(f"  load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="a server to create a scratch database on")
    args = parser.parse_args()
    sizes = {"notices": args.notices, "customers": args.customers, "matches": args.matches}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.postgres:
            print(f"desk render, SQLite, {sizes}")
            run(f"sqlite:///{Path(tmp) / 'staydown.db'}", Path(tmp), **sizes, rounds=args.rounds)
            return
        name = f"staydown_bench_desk_{uuid.uuid4().hex[:8]}"
        server = args.postgres.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            print(f"desk render, PostgreSQL, {sizes}")
            url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
            run(url, Path(tmp), **sizes, rounds=args.rounds)
        finally:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
