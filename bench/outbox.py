"""Outbox throughput: messages/s that 1 and 2 `staydown worker` processes deliver to a local SMTP sink.

Each round starts the workers (real processes) on a fresh database, writes ``--messages`` due
letters in one transaction, and times until the sink has received every one; it also counts
letters received more than once (there should be none). Target (DESIGN.md): >= 200 messages/s
with two workers, each delivered once.

    python bench/outbox.py                          # PostgreSQL at 127.0.0.1:5432 (a scratch database)
    python bench/outbox.py --sqlite                 # the embedded SQLite default
    python bench/outbox.py --messages 3000 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller

from staydown import assembly
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message_id = BytesHeaderParser().parsebytes(envelope.content)["Message-ID"]
        with self.lock:
            self.received[message_id] += 1
        return "250 OK"

    def totals(self) -> tuple[int, int]:
        with self.lock:
            return len(self.received), sum(self.received.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_database(sqlite: bool, tmp: Path) -> tuple[str, str | None]:
    if sqlite:
        return f"sqlite:///{tmp / 'staydown.db'}", None
    name = f"staydown_bench_outbox_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name


def drop(name: str | None) -> None:
    if name:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_round(*, workers: int, messages: int, sqlite: bool) -> dict[str, float]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        url, name = scratch_database(sqlite, Path(tmp))
        processes: list[subprocess.Popen[bytes]] = []
        try:
            upgrade(url)
            env = {
                **os.environ,
                "STAYDOWN_DATA_DIR": tmp,
                "STAYDOWN_DATABASE_URL": url,
                "STAYDOWN_SMTP_HOST": "127.0.0.1",
                "STAYDOWN_SMTP_PORT": str(port),
            }
            processes = [
                subprocess.Popen(
                    [sys.executable, "-m", "staydown.cli", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            time.sleep(3)  # the workers have started and poll an empty outbox
            database = Database.from_url(url)
            now = datetime.now(UTC)
            with database.transaction() as session:
                for n in range(messages):
                    enforcement.enqueue_message(
                        session,
                        at=now,
                        kind="bench",
                        channel=Channel.email,
                        recipient=f"customer-{n}@example.test",
                        subject=f"Letter {n}",
                        body="A notice names content on your zone.\n" * 20,
                        payload={"n": n},
                    )
            database.dispose()
            started = time.perf_counter()
            while sink.totals()[0] < messages:
                if time.perf_counter() - started > 300:
                    raise RuntimeError(f"only {sink.totals()[0]} of {messages} letters arrived")
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            time.sleep(1)  # anything sent twice would arrive now
            distinct, total = sink.totals()
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
            for process in processes:
                process.wait(20)
            controller.stop()
            drop(name)
    return {"rate": messages / elapsed, "seconds": elapsed, "duplicates": total - distinct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite, not PostgreSQL")
    args = parser.parse_args()
    assembly.install()
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"outbox to a local SMTP sink, {args.messages} letters, {backend}")
    for workers in args.workers:
        result = one_round(workers=workers, messages=args.messages, sqlite=args.sqlite)
        print(
            f"  {workers} worker(s): {result['rate']:7.0f} messages/s "
            f"({result['seconds']:.2f} s, {result['duplicates']:.0f} delivered twice)"
        )


if __name__ == "__main__":
    main()
