"""Bulk notice intake: one notice of N URLs over HTTP, validated, canonicalised, resolved to zones,
persisted and (for a trusted flagger) blocked with its feed records and audit entries.

    python bench/notice_intake.py                      # SQLite in a temporary directory
    python bench/notice_intake.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Prints URLs/s for a review-queue notice and for a trusted-flagger notice (actioned at once).
Target: >= 5,000 URLs/s on SQLite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerThread, make_keys
from tests.support import active_zone, notice_body

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.types import system_clock


class _Api:
    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url, self.keys = url, keys

    def as_(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.keys[role]}"}, timeout=600
        )


def run(url: str, data_dir: Path, count: int) -> None:
    from staydown.api.app import create_app

    upgrade(url)
    database = Database.from_url(url)
    # The zone's challenge origin listens on loopback, which zone origins may reach only when allowed.
    settings = Settings(data_dir=data_dir, database_url=url, origin_allow=["127.0.0.0/8"])  # type: ignore[list-item]
    app = create_app(settings, database)
    keys = make_keys(database, system_clock)
    with ServerThread(app) as server:
        api = _Api(server.url, keys)
        active_zone(api, "bulk.example.test", name="Bulk Owner")  # type: ignore[arg-type]
        for label, role in (("review queue", "submitter"), ("trusted flagger", "trusted_flagger")):
            tag = uuid.uuid4().hex[:8]
            urls = [
                f"http://bulk.example.test/{tag}/chapter-{i // 100}/page-{i % 100:03d}.jpg"
                for i in range(count)
            ]
            urls[::10] = [f"http://elsewhere.example/{tag}/{i}.jpg" for i in range(len(urls[::10]))]
            body = notice_body(urls)
            with api.as_(role) as client:
                started = time.perf_counter()
                r = client.post("/v1/notices", json=body)
                elapsed = time.perf_counter() - started
            assert r.status_code == 201, r.text[:500]
            statuses = {i["status"] for i in r.json()["items"]}
            print(
                f"{label:16} {count} URLs in {elapsed:6.2f} s = {count / elapsed:8.0f} URLs/s",
                f"statuses={sorted(statuses)}",
            )
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--urls", type=int, default=50_000)
    parser.add_argument("--postgres", help="PostgreSQL URL; a scratch database is created and dropped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            name = f"staydown_bench_{uuid.uuid4().hex[:8]}"
            admin = args.postgres.replace("+psycopg", "")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                print("PostgreSQL")
                run(args.postgres.rsplit("/", 1)[0] + f"/{name}", Path(tmp), args.urls)
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print("SQLite")
            run(f"sqlite:///{tmp}/staydown.db", Path(tmp), args.urls)


if __name__ == "__main__":
    main()
