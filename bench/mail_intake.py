"""Mail intake throughput: messages/s received over SMTP by `staydown mail serve`, each stored
before its 250, then parsed and persisted as a notice; and how long a 10,000-URL CSV attachment
takes from the end of DATA to its notice.

A real `staydown mail serve` process on a fresh database; ``--connections`` smtplib clients send
``--messages`` distinct DMCA letters (one URL each, on a demo zone) as fast as the server answers.
Targets (DESIGN.md / issue 19): >= 200 messages/s received, parsed and persisted on SQLite
(PostgreSQL reported); the 10,000-URL CSV a notice in < 5 s.

    python bench/mail_intake.py                     # the embedded SQLite default
    python bench/mail_intake.py --postgres          # a scratch database on 127.0.0.1:5432
    python bench/mail_intake.py --messages 2000 --connections 4
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from staydown import assembly
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.inbound.models import InboundMessage, InboundStatus

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
STATEMENTS = (
    "I have a good faith belief that this use is not authorized by the copyright owner, its agent, or "
    "the law. Under penalty of perjury, the information in this notice is accurate and I am authorized "
    "to act on behalf of the owner.\nAddress: 2-1 Otemachi, Tokyo\nPhone: +81 3 1111 2222\n\n"
    "Sincerely,\nRights Agent\n"
)


def letter(n: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Rights Agent <agent{n % 50}@rights.example>"
    mail["To"] = "abuse@staydown.invalid"
    mail["Subject"] = f"DMCA notice {n}"
    mail["Message-ID"] = f"<bench-{n}-{uuid.uuid4().hex}@rights.example>"
    mail.set_content(
        f"Our work is copied at:\nhttp://manga.demo.test/chapter-{n}/page-01.jpg\n\n"
        f"Work: Demo Manga, volume {n}\n{STATEMENTS}"
    )
    return mail.as_bytes(policy=SMTP)


def csv_letter(urls: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Rights Agent <bulk@rights.example>"
    mail["To"] = "abuse@staydown.invalid"
    mail["Subject"] = "DMCA notice: list attached"
    mail["Message-ID"] = f"<bench-csv-{uuid.uuid4().hex}@rights.example>"
    mail.set_content("The attached list names copies of our work.\nWork: Demo Manga\n" + STATEMENTS)
    table = "url,title\n" + "".join(f"http://manga.demo.test/c/{i}.jpg,Demo Manga\n" for i in range(urls))
    mail.add_attachment(table.encode(), maintype="text", subtype="csv", filename="urls.csv")
    return mail.as_bytes(policy=SMTP)


def counts(database: Database) -> tuple[int, int]:
    with database.reader() as session:
        total = session.scalar(select(func.count()).select_from(InboundMessage)) or 0
        pending = session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.status == InboundStatus.pending)
        )
        return total, pending or 0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux), to state throughput per core under load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send(port: int, messages: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for raw in messages:
            client.sendmail("agent@rights.example", ["abuse@staydown.invalid"], raw)


def run(*, messages: int, connections: int, csv_urls: int, postgres: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        name = None
        url = f"sqlite:///{Path(tmp) / 'staydown.db'}"
        if postgres:
            name = f"staydown_bench_mail_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(SERVER, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        upgrade(url)
        env = {**os.environ, "STAYDOWN_DATA_DIR": tmp, "STAYDOWN_DATABASE_URL": url}
        log = Path(tmp) / "serve.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "staydown.cli", "mail", "serve", "--port", "0"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        database = Database.from_url(url)
        try:
            deadline = time.monotonic() + 60
            while not (found := re.search(r"smtp\s+127\.0\.0\.1:(\d+)", log.read_text())):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(log.read_text())
                time.sleep(0.1)
            port = int(found.group(1))
            bodies = [letter(n) for n in range(messages)]
            shares = [bodies[i::connections] for i in range(connections)]
            cpu_before = cpu_seconds(server.pid)
            started = time.perf_counter()
            threads = [threading.Thread(target=send, args=(port, share)) for share in shares]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            received = time.perf_counter() - started
            while counts(database)[1]:
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"still pending: {counts(database)}")
                time.sleep(0.02)
            done = time.perf_counter() - started
            cpu = cpu_seconds(server.pid) - cpu_before
            total, _pending = counts(database)
            assert total == messages, (total, messages)
            print(
                f"  {messages} letters over {connections} SMTP connection(s): "
                f"received (stored, 250) {messages / received:7.0f}/s in {received:.2f} s; "
                f"received, parsed and persisted as notices {messages / done:7.0f}/s in {done:.2f} s"
            )
            print(
                f"  the server process used {cpu:.2f} CPU-seconds: "
                f"{messages / cpu:7.0f} messages per CPU-second (what one uncontended core sustains)"
            )
            raw = csv_letter(csv_urls)
            started = time.perf_counter()
            send(port, [raw])
            acknowledged = time.perf_counter() - started
            while counts(database)[1]:
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            with database.reader() as session:
                row = session.scalars(
                    select(InboundMessage).order_by(InboundMessage.id.desc()).limit(1)
                ).one()
                status, notice_id = row.status.value, row.notice_id
            print(
                f"  CSV of {csv_urls} URLs ({len(raw) / 1e6:.1f} MB): 250 after {acknowledged:.2f} s, "
                f"{status} #{notice_id} after {elapsed:.2f} s"
            )
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
            database.dispose()
            if name:
                with psycopg.connect(SERVER, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--csv-urls", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432, not SQLite")
    args = parser.parse_args()
    assembly.install()
    print(
        f"mail intake, {'PostgreSQL' if args.postgres else 'SQLite'}; load average {os.getloadavg()[0]:.2f}"
    )
    run(messages=args.messages, connections=args.connections, csv_urls=args.csv_urls, postgres=args.postgres)


if __name__ == "__main__":
    main()
