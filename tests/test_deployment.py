"""The production topology as an operator runs it: real processes on one PostgreSQL (and the same
on one SQLite file, as several processes on a single box share it).

Three `staydown db upgrade` race on an empty database; two `staydown api` and two `staydown
worker` serve it with a real SMTP sink; two `staydown timers run` race on the same due timers; and
a worker is killed with SIGKILL in the middle of sending. Every decision and every letter happens
exactly once (a letter cut off mid-send at most once more, under the same Message-ID).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from staydown.db.engine import Database
from staydown.db.migrate import current_heads, expected_heads
from staydown.enforcement.models import OutboxMessage, OutboxStatus, Timer, TimerStatus
from staydown.enforcement.transport import delivery_key
from tests.conftest import POSTGRES_URL, Clock, _postgres_available, make_keys
from tests.support import ChallengeOrigin, customer_body, notice_body

STAYDOWN = [sys.executable, "-m", "staydown.cli"]
LEASE_SECONDS = 4
CONCURRENT_NOTICES = 10
REVIEWED_NOTICES = 20
DEADLINE = 90  # seconds any one wait in this test may take


class Sink:
    """An SMTP server that keeps each delivery's Message-ID; it can hold one delivery mid-DATA."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.stall_next = False
        self.stalled: str | None = None
        self.release = False
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = BytesHeaderParser().parsebytes(envelope.content)["Message-ID"]
        with self._lock:
            self.received.append(message_id)
            stall = self.stall_next and self.stalled is None
            if stall:
                self.stalled = message_id
        if stall:  # the sender is now inside DATA, waiting for our answer
            deadline = time.monotonic() + DEADLINE
            while not self.release and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return "250 OK"

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.received)


@dataclass
class Topology:
    url: str
    env: dict[str, str]
    workdir: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[str]:
        log = (self.workdir / f"{args[0]}-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [*STAYDOWN, *args], stdout=log, stderr=subprocess.STDOUT, text=True, env=self.env
        )
        log.close()
        self.processes.append(process)
        return process

    def run(self, *args: str) -> list[subprocess.CompletedProcess[str]]:
        """Run one command, or several at once when ``args`` holds tuples; wait for every one."""
        commands = [list(a) for a in args] if isinstance(args[0], tuple) else [list(args)]
        started = [
            subprocess.Popen(
                [*STAYDOWN, *command],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
            )
            for command in commands
        ]
        self.processes += started
        results = []
        for process, command in zip(started, commands, strict=True):
            out, err = process.communicate(timeout=DEADLINE)
            results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
        return results

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(self.workdir.glob("*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], bool], what: str, topology: Topology, state: Callable[[], object] = str
) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {DEADLINE}s: {state()}\n{topology.log()}")
        time.sleep(0.1)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a scratch database on the PostgreSQL server, or a new SQLite file (which
    several processes on one machine share through its single writer)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared' / 'staydown.db'}"
        return
    reason = _postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test against PostgreSQL: {reason}")
        pytest.skip(reason)
    name = f"staydown_topology_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    handler.release = True
    controller.stop()


@pytest.fixture
def topology(empty_database: str, sink: tuple[Sink, int], tmp_path: Path) -> Iterator[Topology]:
    env = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(tmp_path / "data"),
        "STAYDOWN_DATABASE_URL": empty_database,
        "STAYDOWN_SMTP_HOST": "127.0.0.1",
        "STAYDOWN_SMTP_PORT": str(sink[1]),
        "STAYDOWN_SMTP_TIMEOUT_SECONDS": str(DEADLINE),
        "STAYDOWN_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "STAYDOWN_DATABASE_POOL_SIZE": "4",
        "STAYDOWN_DATABASE_MAX_OVERFLOW": "4",
        "STAYDOWN_ORIGIN_ALLOW": "127.0.0.0/8",  # the zones' origins below run on loopback
        # Deadlines of notices waiting for review pass a second after intake, so that the letters
        # `timers run` writes are due at once.
        "STAYDOWN_ACTION_DEADLINE_HOURS": str(1 / 3600),
    }
    topology = Topology(empty_database, env, tmp_path)
    try:
        yield topology
    finally:
        topology.stop()


def api_client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=DEADLINE)


def active_zone(agent: httpx.Client, hostname: str) -> dict[str, Any]:
    customer = agent.post("/v1/customers", json=customer_body(hostname.partition(".")[0])).json()
    decided = agent.post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": "identity", "reason": "passport checked"},
    )
    assert decided.status_code == 200, decided.text
    with ChallengeOrigin() as origin:
        zone = agent.post(
            "/v1/zones",
            json={"customer_id": customer["id"], "hostname": hostname, "origin": origin.url},
        ).json()
        origin.files[zone["challenge"]["http_path"]] = zone["challenge"]["token"]
        validated = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
    assert validated["status"] == "active", validated
    return {"customer_id": customer["id"], "zone_id": zone["id"], "hostname": hostname}


def outbox(database: Database) -> dict[str, OutboxMessage]:
    """Every letter by the Message-ID it goes out with."""
    with database.reader() as session:
        return {f"<{delivery_key(m)}@staydown.invalid>": m for m in session.scalars(select(OutboxMessage))}


def sent(database: Database) -> dict[str, OutboxMessage]:
    return {mid: m for mid, m in outbox(database).items() if m.status is OutboxStatus.sent}


def drained(database: Database) -> bool:
    return not pending(database)


def pending(database: Database) -> list[tuple[Any, ...]]:
    return [
        (m.id, m.kind, m.attempts, m.last_error, m.next_attempt_at, m.claimed_by, m.lease_until)
        for m in outbox(database).values()
        if m.status is OutboxStatus.pending
    ]


def test_two_apis_two_workers_one_database(topology: Topology, sink: tuple[Sink, int]) -> None:
    smtp, _port = sink

    # A serving process never migrates: on the empty database it names the release step and exits.
    [refused] = topology.run("api", "--port", str(free_port()))
    assert refused.returncode == 1
    assert "staydown db upgrade" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    upgrades = topology.run(*[("db", "upgrade")] * 3)
    assert [r.returncode for r in upgrades] == [0, 0, 0], [r.stderr for r in upgrades]
    database = Database.from_url(topology.url)
    clients: list[httpx.Client] = []
    try:
        assert current_heads(database.engine) == expected_heads()
        keys = make_keys(database, Clock())

        ports = [free_port(), free_port()]
        apis = [topology.start("api", "--port", str(port)) for port in ports]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_for(lambda url=url: _healthy(url), f"the API at {url}", topology)

        agent = api_client(urls[0], keys["agent"])
        clients.append(agent)
        struck = active_zone(agent, "struck.example.test")
        reviewed = active_zone(agent, "reviewed.example.test")

        # N trusted notices at once against one customer, half through each API.
        barrier = threading.Barrier(CONCURRENT_NOTICES)
        statuses: list[int] = []

        def notify(n: int) -> None:
            with api_client(urls[n % 2], keys["trusted_flagger"]) as client:
                barrier.wait(DEADLINE)
                url = f"http://{struck['hostname']}/chapter-{n}/page.jpg"
                statuses.append(client.post("/v1/notices", json=notice_body([url])).status_code)

        threads = [threading.Thread(target=notify, args=(n,)) for n in range(CONCURRENT_NOTICES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
        assert statuses == [201] * CONCURRENT_NOTICES
        ledger = agent.get(f"/v1/customers/{struck['customer_id']}/strikes").json()
        assert [(s["kind"], s["strikes_counted"]) for s in ledger["steps"]] == [
            ("warning", 1),
            ("suspension", 3),
            ("termination", 5),
        ]
        assert ledger["standing"] == "terminated"

        # Notices waiting for review; their deadlines are raced by two `timers run`.
        with api_client(urls[1], keys["submitter"]) as submitter:
            for n in range(REVIEWED_NOTICES):
                url = f"http://{reviewed['hostname']}/page-{n}.jpg"
                assert submitter.post("/v1/notices", json=notice_body([url])).status_code == 201
        time.sleep(1.5)  # every deadline has passed
        raced = topology.run(*[("timers", "run")] * 2)
        assert [r.returncode for r in raced] == [0, 0], [r.stderr for r in raced]
        ran = [json.loads(r.stdout)["ran"] for r in raced]
        assert sum(ran) == REVIEWED_NOTICES, ran
        with database.reader() as session:
            timers = session.execute(select(Timer.status, func.count()).group_by(Timer.status)).all()
            assert dict(timers).get(TimerStatus.done) == REVIEWED_NOTICES
        overdue = [m for m in outbox(database).values() if m.kind == "notice_overdue"]
        assert sorted(m.notice_id for m in overdue) == sorted({m.notice_id for m in overdue})
        assert len(overdue) == REVIEWED_NOTICES

        # Two workers send the outbox: every letter reaches SMTP exactly once, by its Message-ID.
        workers = [topology.start("worker") for _ in range(2)]
        wait_for(lambda: drained(database), "the outbox draining", topology, lambda: pending(database))
        letters = sent(database)
        assert len(letters) > 2 * REVIEWED_NOTICES
        assert smtp.counts() == Counter(dict.fromkeys(letters, 1))

        # A worker killed inside DATA: its lease runs out and the other sends the letter again.
        smtp.stall_next = True
        with api_client(urls[0], keys["submitter"]) as submitter:
            url = f"http://{reviewed['hostname']}/after-the-crash.jpg"
            assert submitter.post("/v1/notices", json=notice_body([url])).status_code == 201
        wait_for(lambda: smtp.stalled is not None, "a delivery reaching DATA", topology)
        stalled = smtp.stalled
        assert stalled is not None
        holder = outbox(database)[stalled].claimed_by
        assert holder is not None
        victim = next(w for w in workers if f":{w.pid}:" in holder)
        victim.send_signal(signal.SIGKILL)
        victim.wait(DEADLINE)
        smtp.release = True
        wait_for(
            lambda: drained(database),
            "the outbox draining after the crash",
            topology,
            lambda: pending(database),
        )
        letters = sent(database)
        counts = smtp.counts()
        assert set(counts) == set(letters)
        assert counts[stalled] == 2  # cut off once, then sent again whole by the survivor
        assert {mid: n for mid, n in counts.items() if mid != stalled} == dict.fromkeys(
            set(letters) - {stalled}, 1
        )
        survivor = next(w for w in workers if w is not victim)
        assert letters[stalled].claimed_by is not None and f":{survivor.pid}:" in letters[stalled].claimed_by
        assert all(p.poll() is None for p in [*apis, survivor]), topology.log()
    finally:
        for client in clients:
            client.close()
        database.dispose()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
