"""Mail intake throughput: messages/s received over SMTP by `staydown mail serve`, each stored
before its 250, then parsed and persisted as a notice; and how long a 10,000-URL CSV attachment
takes from the end of DATA to its notice.

A real `staydown mail serve` process on a fresh database; ``--connections`` smtplib clients send
``--messages`` distinct messages as fast as the server answers.

``--setup demo`` (the default) seeds the demo first (``staydown up --demo``'s two customers with
live zones, manga.demo.test and photos.demo.test) and sends what arrives in production: English
letters, ACNS 2.x reports, CSV lists, Japanese letters (ISO-2022-JP, Shift_JIS), X-ARF reports, a
few URLs off the network and a few senders' resends, so messages become notices in the review queue
(and duplicates). ``--setup bare`` is the earlier figure: no zone, one one-URL letter each, which
end as notices with nothing on the network.

Targets (DESIGN.md / issue 19): >= 200 messages/s received, parsed and persisted on SQLite
(PostgreSQL reported); the 10,000-URL CSV a notice in < 5 s.

    python bench/mail_intake.py                     # the embedded SQLite default, demo zones
    python bench/mail_intake.py --setup bare        # no zone, one-URL letters
    python bench/mail_intake.py --postgres          # a scratch database on 127.0.0.1:5432
    python bench/mail_intake.py --messages 2000 --connections 4
    python bench/mail_intake.py --readers 1         # a second process reads what the first one stores
    python bench/mail_intake.py --readers 1 --receive-only   # the first only receives (`--no-process`)
"""

from __future__ import annotations

import argparse
import collections
import os
import random
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.inbound import samples

from staydown import assembly
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.demo.seed import seed_demo
from staydown.inbound.models import InboundMessage, InboundStatus
from staydown.notices.models import Notice

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


def demo_zones(database: Database, data_dir: Path, url: str) -> dict[str, list[str]]:
    """Seed the demo as ``staydown up --demo`` does (its origins only while zones prove control);
    return each live zone's asset paths."""
    settings = Settings(data_dir=data_dir, database_url=url, origin_allow=["127.0.0.0/8"])  # type: ignore[list-item]
    document, origins = seed_demo(
        database, settings, api_url="http://127.0.0.1:1", edge_url=None, desk_url=None
    )
    for origin in origins:
        origin.stop()
    return {hostname: zone["assets"] for hostname, zone in document["zones"].items()}


class Mix:
    """The messages a provider receives, drawn from a fixed seed: mostly short letters and reports
    of one to five URLs, now and then a CSV list of tens to hundreds, a Japanese letter, an X-ARF
    report, a URL on no zone here, and a sender's resend of an earlier message (a duplicate)."""

    KINDS = (("letter", 45), ("acns", 25), ("csv", 8), ("japanese", 10), ("xarf", 5), ("resend", 7))

    def __init__(self, zones: dict[str, list[str]], seed: int = 19) -> None:
        self.rng = random.Random(seed)
        self.zones = zones
        self.sent: list[bytes] = []
        self.kinds: collections.Counter[str] = collections.Counter()

    def url(self) -> str:
        if self.rng.random() < 0.05:
            return f"http://mirror.elsewhere.example/{self.rng.randrange(10**6)}.jpg"
        hostname = self.rng.choice(sorted(self.zones))
        if self.rng.random() < 0.5:
            return f"http://{hostname}{self.rng.choice(self.zones[hostname])}"
        return (
            f"http://{hostname}/chapter-{self.rng.randrange(1, 80)}/page-{self.rng.randrange(1, 40):02d}.jpg"
        )

    def urls(self, low: int, high: int) -> list[str]:
        return [self.url() for _ in range(self.rng.randint(low, high))]

    def message(self, n: int) -> bytes:
        kind = self.rng.choices([k for k, _w in self.KINDS], [w for _k, w in self.KINDS])[0]
        if kind == "resend" and not self.sent:
            kind = "letter"
        self.kinds[kind] += 1
        if kind == "resend":
            return self.rng.choice(self.sent)
        if kind == "letter":
            raw = samples.message(
                samples.ENGLISH.format(urls="\n".join(self.urls(1, 5))),
                sender=f"Rights Agent <agent{n % 50}@rights.example>",
                subject=f"DMCA notice {n}",
            )
        elif kind == "acns":
            xml = samples.acns_xml(case_id=f"B{n:08d}", urls=tuple(self.urls(1, 3)))
            raw = samples.message(samples.acns_letter(xml, signed=self.rng.random() < 0.3))
        elif kind == "csv":
            table = "url,title\n" + "".join(f"{u},Demo Manga\n" for u in self.urls(10, 300))
            raw = samples.with_attachment(
                "The attached list names copies of our work.\nWork: Demo Manga\n" + samples.STATEMENTS,
                table.encode(),
                "urls.csv",
                "text/csv",
            )
        elif kind == "japanese":
            charset = self.rng.choice(("iso-2022-jp", "shift_jis"))
            raw = samples.japanese("\n".join(self.urls(1, 3)), charset=charset)
        else:
            raw = samples.xarf(report_id=str(uuid.UUID(int=self.rng.getrandbits(128))), url=self.url())
        self.sent.append(raw)
        return raw


def outcomes(database: Database) -> str:
    with database.reader() as session:
        inbound = session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
        ).all()
        made = session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all()
    said = ", ".join(f"{status.value} {count}" for status, count in sorted(inbound, key=lambda r: -r[1]))
    notices = ", ".join(f"{status.value} {count}" for status, count in sorted(made, key=lambda r: -r[1]))
    return f"messages: {said}; notices: {notices}"


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


def send(port: int, messages: list[bytes], waits: list[float] | None = None) -> None:
    """Send ``messages`` on one connection; add how long each DATA waited for its 250 to ``waits``."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        for raw in messages:
            for code, reply in (client.mail("agent@rights.example"), client.rcpt("abuse@staydown.invalid")):
                if code != 250:
                    raise RuntimeError(f"{code} {reply!r}")
            started = time.perf_counter()
            code, reply = client.data(raw)
            if waits is not None:
                waits.append(time.perf_counter() - started)
            if code != 250:
                raise RuntimeError(f"{code} {reply!r}")


def run(
    *,
    messages: int,
    connections: int,
    csv_urls: int,
    postgres: bool,
    setup: str,
    readers: int,
    receive_only: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        name = None
        url = f"sqlite:///{Path(tmp) / 'staydown.db'}"
        if postgres:
            name = f"staydown_bench_mail_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(SERVER, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        upgrade(url)
        database = Database.from_url(url)
        if setup == "demo":
            mix = Mix(demo_zones(database, Path(tmp), url))
            bodies = [mix.message(n) for n in range(messages)]
            sizes = sorted(len(b) for b in bodies)
            kinds = ", ".join(f"{kind} {count}" for kind, count in mix.kinds.most_common())
            print(f"  demo zones {sorted(mix.zones)}; {kinds}")
            print(
                f"  sizes: median {sizes[len(sizes) // 2] / 1e3:.1f} kB, "
                f"largest {sizes[-1] / 1e3:.1f} kB, {sum(sizes) / 1e6:.1f} MB in all"
            )
        else:
            bodies = [letter(n) for n in range(messages)]
        env = {**os.environ, "STAYDOWN_DATA_DIR": tmp, "STAYDOWN_DATABASE_URL": url}
        log = Path(tmp) / "serve.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [
                    *[sys.executable, "-m", "staydown.cli", "mail", "serve", "--port", "0"],
                    *(["--no-process"] if receive_only else []),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            # Further readers: each a `mail serve` of its own, reading what the first one stores.
            others = [
                subprocess.Popen(
                    [sys.executable, "-m", "staydown.cli", "mail", "serve", "--port", "0"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=out,
                )
                for _ in range(readers)
            ]
        processes = [server, *others]
        try:
            deadline = time.monotonic() + 60
            while not (found := re.search(r"smtp\s+127\.0\.0\.1:(\d+)", log.read_text())):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(log.read_text())
                time.sleep(0.1)
            port = int(found.group(1))
            shares = [bodies[i::connections] for i in range(connections)]
            cpu_before = sum(cpu_seconds(p.pid) for p in processes)
            started = time.perf_counter()
            waits: list[float] = []
            threads = [threading.Thread(target=send, args=(port, share, waits)) for share in shares]
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
            cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
            total, _pending = counts(database)
            assert total == messages, (total, messages)
            print(
                f"  {messages} letters over {connections} SMTP connection(s): "
                f"received (stored, 250) {messages / received:7.0f}/s in {received:.2f} s; "
                f"received, parsed and persisted as notices {messages / done:7.0f}/s in {done:.2f} s"
            )
            print(
                f"  the server process{'es' if readers else ''} used {cpu:.2f} CPU-seconds: "
                f"{messages / cpu:7.0f} messages per CPU-second (what one uncontended core sustains)"
            )
            waits.sort()
            print(
                f"  DATA to 250: median {waits[len(waits) // 2] * 1e3:.0f} ms, "
                f"99th percentile {waits[len(waits) * 99 // 100] * 1e3:.0f} ms, "
                f"longest {waits[-1] * 1e3:.0f} ms"
            )
            print(f"  {outcomes(database)}")
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
            print(f"  load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
            for process in processes:
                process.wait(30)
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
    parser.add_argument(
        "--setup",
        choices=("demo", "bare"),
        default="demo",
        help="demo: the demo's live zones and a production mix; bare: no zone, one-URL letters",
    )
    parser.add_argument(
        "--readers", type=int, default=0, help="further `mail serve` processes that read what is stored"
    )
    parser.add_argument(
        "--receive-only",
        action="store_true",
        help="the receiving process only stores (`mail serve --no-process`); the --readers read",
    )
    args = parser.parse_args()
    if args.receive_only and not args.readers:
        parser.error("--receive-only needs --readers 1 or more")
    assembly.install()
    print(
        f"mail intake, {'PostgreSQL' if args.postgres else 'SQLite'}, {args.setup} set-up, "
        f"{args.readers + (not args.receive_only)} reading process(es)"
        f"{', the receiving one apart' if args.receive_only else ''}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    run(
        messages=args.messages,
        connections=args.connections,
        csv_urls=args.csv_urls,
        postgres=args.postgres,
        setup=args.setup,
        readers=args.readers,
        receive_only=args.receive_only,
    )


if __name__ == "__main__":
    main()
