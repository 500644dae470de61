"""The enforcement feed fanned out to many edges: idle cost, notice-to-edge latency, snapshot start.

    python bench/feed_fanout.py idle     [--pollers 1000] [--seconds 20] [--spread] [--postgres URL]
    python bench/feed_fanout.py intake   [--pollers 1000] [--notices 30] [--feed-processes N] [--nats URL]
                                         [--postgres URL]
    python bench/feed_fanout.py latency  [--edges 1000] [--notices 5] [--nats URL] [--postgres URL]
    python bench/feed_fanout.py snapshot [--blocks 1000000] [--hashes 1000000] [--compare OTHER/src]
    python bench/feed_fanout.py repoll   [--pollers 1000] [--rounds 20] [--postgres URL]

idle      one `staydown api` process and --pollers simulated edges long-polling /v1/edge/feed
          (wait=25) on their own connections. Prints the API process's CPU (share of one core,
          from /proc) and, on PostgreSQL, the database's transactions per second (pg_stat_database,
          an upper bound of what the process asks: every read is one transaction of 1-2 queries).
          Polls arriving together are authenticated in one read; --spread starts the pollers evenly
          over one wait, so that their polls arrive one by one (the worst case for that).
          Targets at 1,000 pollers: < 5% of a core, < 50 queries/s.
intake    trusted notices posted one after another to one API process, first with no edge
          waiting, then while --pollers simulated edges long-poll it, then with none again (how
          much other load on the machine moved meanwhile): the time to each 201.
          Target: the p50 while they wait within 1.5x of the p50 with none. --feed-processes N
          runs `staydown api --feed-port` with N feed processes, which the edges poll instead;
          with --nats the edges follow JetStream consumers fed by a `staydown relay` process.
          --feed-niceness N: the feed processes run N nicer than the API (10, as by default).
          Prints the CPU the API, its feed processes and the simulated edges used meanwhile.
latency   --edges simulated edges follow the feed (HTTP long-polls to one API process, or with --nats
          JetStream ordered consumers fed by a `staydown relay` process); a trusted notice is posted
          --notices times; for each edge, the time from the notice's 201 to the page or message that
          carries its block. Targets p99: <= 1 s over HTTP, <= 500 ms over NATS. --feed-processes
          and --feed-niceness as for intake (the edges poll the feed processes).
snapshot  a log of --blocks block records and --hashes hash_add records is written straight into a
          SQLite database; a `staydown api` process and a new `staydown edge` process start; prints
          the time from starting the edge until it answers 451 for the last blocked URL (snapshot
          built by the API, downloaded, loaded, made durable, enforced), and the CPU seconds the
          edge's processes used meanwhile (what a busy machine does not inflate). --compare times
          another checkout's edge (its src/ directory) against the same control plane afterwards.
          Target: < 30 s at 1M + 1M.
repoll    --pollers connections each ask --rounds times, one after another, for a page that is
          already there (after = head - 1, wait=25): what one released poll's answer and the edge's
          next poll cost the API (parse, authenticate, answer from the shared page), without the
          wait. Prints the API process's CPU per request: CPU time, which a busy machine inflates
          far less than wall time. Run it with PYTHONPATH=OTHER/src to measure another checkout.
The simulated edges run in this process, so on a small machine they compete with what they measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import Clock, ServerThread, make_keys
from tests.dnsserver import LocalDnsServer
from tests.support import active_zone, notice_body

from staydown import assembly
from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.base import bulk_insert
from staydown.db.engine import Database
from staydown.db.journal import ChainHead
from staydown.db.migrate import upgrade
from staydown.enforcement.models import EnforcementRecord
from staydown.feedrecords import FeedKind

HOST = "fanout.example.test"
STAYDOWN = [sys.executable, "-m", "staydown.cli"]
# The notice client: a process of its own, started on first use.
NOTICE_CLIENT = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_named(name: str) -> int | None:
    """The pid of a process of this name on the machine (a service the bench uses), if one runs."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    return int(entry.name)
            except OSError:
                continue
    return None


@contextmanager
def database_url(postgres: str | None, directory: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{directory / 'staydown.db'}"
        return
    name = f"fanout_{uuid.uuid4().hex[:8]}"
    admin = postgres.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_transactions(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (name,)
        ).fetchone()
        return int(row[0]) if row else 0


class KeysApi:
    """What tests.support's helpers need of the API: a URL and a client per role."""

    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url, self.keys = url, keys

    def as_(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.keys[role]}"}, timeout=60
        )


def prepare(url: str, directory: Path) -> dict[str, str]:
    """Migrate, make keys and one active zone (through an API in this process)."""
    upgrade(url)
    database = Database.from_url(url)
    clock = Clock(datetime.now(UTC))
    with LocalDnsServer() as dns:
        settings = Settings(
            data_dir=directory,
            database_url=url,
            dns_nameservers=[dns.nameserver],
            origin_allow=["127.0.0.0/8"],  # type: ignore[list-item]  # the zone's origin is on loopback
        )
        keys = make_keys(database, clock)
        with ServerThread(create_app(settings, database, clock=clock)) as server:
            active_zone(KeysApi(server.url, keys), HOST)  # type: ignore[arg-type]
    database.dispose()
    return keys


def lenient_policy(directory: Path) -> Path:
    """A repeat-infringer policy that never suspends, so every bench notice blocks in one zone."""
    path = directory / "lenient.toml"
    path.write_text(
        "[repeat_infringer]\nwarning_strikes = 1000\n[repeat_infringer.suspension]\nstrikes = 1000\n"
        "[repeat_infringer.termination]\nstrikes = 1000\n"
    )
    return path


class Api:
    """`staydown api` as a process of its own."""

    def __init__(
        self, url: str, directory: Path, *, feed_processes: int = 0, feed_niceness: int = 10, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # With feed processes (`staydown api --feed-port`), the edges poll a port of their own.
        self.feed_port = free_port() if feed_processes else self.port
        extra = ["--feed-port", str(self.feed_port), "--feed-processes", str(feed_processes)]
        extra += ["--feed-niceness", str(feed_niceness)]
        full = {
            **os.environ,
            "STAYDOWN_DATA_DIR": str(directory),
            "STAYDOWN_DATABASE_URL": url,
            "STAYDOWN_POLICY_FILE": str(lenient_policy(directory)),
            **env,
        }
        self.log = (directory / "api.log").open("w")
        self.proc = subprocess.Popen(
            [*STAYDOWN, "api", "--port", str(self.port), *(extra if feed_processes else [])],
            env=full,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if all(
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                    for port in {self.port, self.feed_port}
                ):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


async def http_edge(
    port: int,
    key: str,
    name: str,
    after: int,
    seen: dict[int, float],
    stop: asyncio.Event,
    answers: list[int] | None = None,
) -> None:
    """A simulated edge: long-polls on one keep-alive connection and notes when each seq arrives
    (and counts its answers in ``answers[0]``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            writer.write(
                f"GET /v1/edge/feed?after={after}&wait=25 HTTP/1.1\r\nHost: api\r\n"
                f"Authorization: Bearer {key}\r\nStaydown-Edge: {name}\r\n\r\n".encode()
            )
            body = await read_response(reader)
            now = time.perf_counter()
            if answers is not None:
                answers[0] += 1
            page = json.loads(body)
            for record in page["records"]:
                seen.setdefault(record["seq"], now)
            after = page["last"]
    finally:
        writer.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def idle(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        with database_url(args.postgres, directory) as url:
            keys = prepare(url, directory)
            api = Api(url, directory)
            try:
                asyncio.run(_idle(args, api, keys, url))
            finally:
                api.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _idle(args: argparse.Namespace, api: Api, keys: dict[str, str], url: str) -> None:
    head = httpx.get(f"{api.url}/v1/edge/feed", headers={"authorization": f"Bearer {keys['edge']}"}).json()[
        "head"
    ]
    stop = asyncio.Event()
    seen: dict[int, float] = {}
    spread = 25.0 / args.pollers if args.spread else 0.0  # start times spread over one wait

    answers = [0]

    async def poller(n: int) -> None:
        await asyncio.sleep(n * spread)
        await http_edge(api.port, keys["edge"], f"sim-{n}", head, seen, stop, answers)

    edges = [asyncio.create_task(poller(n)) for n in range(args.pollers)]
    await asyncio.sleep(args.warmup + spread * args.pollers)  # every poller connected and parked
    cpu0, wall0 = cpu_seconds(api.proc.pid), time.perf_counter()
    tx0 = pg_transactions(url) if args.postgres else 0
    answers[0] = 0
    await asyncio.sleep(args.seconds)
    cpu = cpu_seconds(api.proc.pid) - cpu0
    polls = answers[0]
    wall = time.perf_counter() - wall0
    tx = pg_transactions(url) - tx0 if args.postgres else None
    stop.set()
    for task in edges:
        task.cancel()
    await asyncio.gather(*edges, return_exceptions=True)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    timing = "polls spread evenly over the wait" if args.spread else "polls in step"
    print(f"idle: {args.pollers} long-pollers on one API process ({backend}, {timing}), {wall:.1f} s")
    print(
        f"  API CPU: {100 * cpu / wall:.2f}% of one core (target < 5%); {polls} polls timed out and "
        f"asked again, {1e6 * cpu / max(1, polls):.0f} us of API CPU per poll (everything included); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    if tx is not None:
        print(f"  database transactions: {tx / wall:.1f}/s (target < 50 queries/s)")


def intake(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        with database_url(args.postgres, directory) as url:
            keys = prepare(url, directory)
            api = Api(url, directory, feed_processes=args.feed_processes, feed_niceness=args.feed_niceness)
            try:
                with relay_to(args.nats, url, directory) as (names, relay):
                    asyncio.run(_intake(args, api, keys, names, relay))
            finally:
                api.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _post_notices(
    api: Api, keys: dict[str, str], count: int, tag: str, created: dict[str, float] | None = None
) -> list[float]:
    """Trusted notices one after another, sent from a process of their own (as rightsholders send
    them, not sharing this process's event loop with the simulated edges): the time each takes to
    be answered 201 (and when, by the path of its one URL, in ``created``; the monotonic clock is
    the machine's, so it compares with this process's)."""
    took, when = await asyncio.get_running_loop().run_in_executor(
        NOTICE_CLIENT, post_notices, api.url, keys["trusted_flagger"], count, tag
    )
    if created is not None:
        created.update(when)
    return took


def post_notices(url: str, token: str, count: int, tag: str) -> tuple[list[float], dict[str, float]]:
    """In the notice client's process: post ``count`` notices, return their times."""
    took: list[float] = []
    created: dict[str, float] = {}
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:
        for n in range(count):
            started = time.perf_counter()
            answer = client.post("/v1/notices", json=notice_body([f"http://{HOST}/{tag}/{n}.jpg"]))
            took.append(time.perf_counter() - started)
            assert answer.status_code == 201, answer.text
            created[f"/{tag}/{n}.jpg"] = time.perf_counter()
            time.sleep(0.05)
    return took, created


async def _intake(
    args: argparse.Namespace, api: Api, keys: dict[str, str], names: dict[str, str], relay: int | None
) -> None:
    await _post_notices(api, keys, 5, "warm")
    cpu0 = cpu_seconds(api.proc.pid)
    idle_times = await _post_notices(api, keys, args.notices, "idle")
    idle_cpu = cpu_seconds(api.proc.pid) - cpu0
    head = httpx.get(f"{api.url}/v1/edge/feed", headers={"authorization": f"Bearer {keys['edge']}"}).json()[
        "head"
    ]
    stop = asyncio.Event()
    answers = [0]
    followed: list[dict[int, float]] = [{} for _ in range(args.pollers)]  # when each edge got each seq
    if args.nats:
        await wait_for_stream(args.nats, names["STAYDOWN_NATS_STREAM"], head)
        edges = await nats_edges(args.nats, names, args.pollers, head, followed, stop)
    else:
        edges = [
            asyncio.create_task(
                http_edge(api.feed_port, keys["edge"], f"sim-{n}", head, followed[n], stop, answers)
            )
            for n in range(args.pollers)
        ]
    await asyncio.sleep(args.warmup)
    answers[0], cpu0, tree0 = 0, cpu_seconds(api.proc.pid), tree_cpu_seconds(api.proc.pid)
    relay0 = cpu_seconds(relay) if relay else 0.0
    nats_server = process_named("nats-server") if args.nats else None
    nats0 = cpu_seconds(nats_server) if nats_server else 0.0
    own0, wall0 = time.process_time(), time.perf_counter()
    created: dict[str, float] = {}
    waiting_times = await _post_notices(api, keys, args.notices, "waiting", created)
    await asyncio.sleep(1)  # the last release is answered and re-polled
    waiting_cpu = cpu_seconds(api.proc.pid) - cpu0
    released = sum(len(got) for got in followed) if args.nats else answers[0]
    feed_cpu = tree_cpu_seconds(api.proc.pid) - tree0 - waiting_cpu  # the feed processes, if any
    relay_cpu = cpu_seconds(relay) - relay0 if relay else 0.0
    nats_cpu = cpu_seconds(nats_server) - nats0 if nats_server else 0.0
    own, wall = time.process_time() - own0, time.perf_counter() - wall0
    stop.set()
    for task in edges:
        task.cancel()
    await asyncio.gather(*edges, return_exceptions=True)
    delays, missing = block_delays(api, keys, head, created, followed)
    await asyncio.sleep(1)
    # No edge again: how much the machine's other load moved the figure meanwhile.
    after_times = await _post_notices(api, keys, args.notices, "after")
    backend = "PostgreSQL" if args.postgres else "SQLite"
    idle_p50, waiting_p50 = statistics.median(idle_times), statistics.median(waiting_times)
    after_p50 = statistics.median(after_times)
    following = "following NATS through `staydown relay`" if args.nats else "long-polling"
    print(
        f"intake: trusted notice POST -> 201 on one API process ({backend}), {args.notices} notices each; "
        f"edges {following}"
    )
    print(
        f"  no edges waiting:        p50 {1000 * idle_p50:.0f} ms  "
        f"p90 {1000 * percentile(idle_times, 0.9):.0f} ms"
    )
    print(
        f"  {args.pollers} edges waiting:     p50 {1000 * waiting_p50:.0f} ms  "
        f"p90 {1000 * percentile(waiting_times, 0.9):.0f} ms  ({waiting_p50 / idle_p50:.2f}x; target <= 1.5x)"
    )
    print(
        f"  no edges waiting, after:  p50 {1000 * after_p50:.0f} ms  "
        f"p90 {1000 * percentile(after_times, 0.9):.0f} ms  (waiting vs both idle runs: "
        f"{2 * waiting_p50 / (idle_p50 + after_p50):.2f}x)"
    )
    per_notice = idle_cpu / args.notices
    print(
        f"  API CPU per notice: {1000 * per_notice:.0f} ms idle, "
        f"{1000 * waiting_cpu / args.notices:.0f} ms with the edges waiting; {released} feed answers, "
        f"{1e6 * max(0.0, waiting_cpu - per_notice * args.notices) / max(1, released):.0f} us of API CPU "
        f"each (answer and re-poll); load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  meanwhile, notice 201 -> block at each edge: p50 {1000 * statistics.median(delays):.0f} ms"
        f"  p99 {1000 * percentile(delays, 0.99):.0f} ms  max {1000 * max(delays):.0f} ms"
        + (f"; {missing} (edge, block) pairs not received" if missing else "")
    )
    feed_share = f", its {args.feed_processes} feed process(es) {100 * feed_cpu / wall:.0f}%"
    relay_share = f", the relay {100 * relay_cpu / wall:.0f}%"
    if nats_server:
        relay_share += f", nats-server {100 * nats_cpu / wall:.0f}%"
    print(
        f"  CPU meanwhile, share of one core over {wall:.1f} s: API process {100 * waiting_cpu / wall:.0f}%"
        + (feed_share if args.feed_processes else "")
        + (relay_share if relay else "")
        + f", the simulated edges (this process) {100 * own / wall:.0f}%"
    )


def block_delays(
    api: Api, keys: dict[str, str], head: int, created: dict[str, float], followed: list[dict[int, float]]
) -> tuple[list[float], int]:
    """For every edge and every block of the notices in ``created``: the time from the notice's 201
    to the edge's receiving it; and how many such blocks an edge never received."""
    page = httpx.get(
        f"{api.url}/v1/edge/feed", params={"after": head}, headers={"authorization": f"Bearer {keys['edge']}"}
    ).json()
    blocks = {r["seq"]: created[r["target"]] for r in page["records"] if r.get("target") in created}
    delays, missing = [], 0
    for got in followed:
        for seq, at in blocks.items():
            if seq in got:
                delays.append(max(0.0, got[seq] - at))
            else:
                missing += 1
    return delays, missing


def repoll(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        with database_url(args.postgres, directory) as url:
            keys = prepare(url, directory)
            api = Api(url, directory)
            try:
                asyncio.run(_repoll(args, api, keys))
            finally:
                api.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _repoll(args: argparse.Namespace, api: Api, keys: dict[str, str]) -> None:
    head = httpx.get(f"{api.url}/v1/edge/feed", headers={"authorization": f"Bearer {keys['edge']}"}).json()[
        "head"
    ]
    answered = 0

    async def edge(n: int, rounds: int) -> None:
        nonlocal answered
        request = (
            f"GET /v1/edge/feed?after={head - 1}&wait=25 HTTP/1.1\r\nHost: api\r\n"
            f"Authorization: Bearer {keys['edge']}\r\nStaydown-Edge: sim-{n}\r\n\r\n"
        ).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
        try:
            for _ in range(rounds):
                writer.write(request)
                page = json.loads(await read_response(reader))
                assert page["last"] == head and len(page["records"]) == 1, page
                answered += 1
        finally:
            writer.close()

    await asyncio.gather(*(edge(n, 2) for n in range(args.pollers)))  # connected, warmed up
    answered = 0
    cpu0, wall0 = cpu_seconds(api.proc.pid), time.perf_counter()
    await asyncio.gather(*(edge(n, args.rounds) for n in range(args.pollers)))
    cpu = cpu_seconds(api.proc.pid) - cpu0
    wall = time.perf_counter() - wall0
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"repoll: {answered} feed requests answered at once from the shared page by one API process "
        f"({backend}), {args.pollers} connections, {wall:.1f} s, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  API CPU per request: {1e6 * cpu / answered:.0f} us  ({answered / wall:.0f} requests/s)")


@contextmanager
def relay_to(nats_url: str | None, url: str, directory: Path) -> Iterator[tuple[dict[str, str], int | None]]:
    """With ``nats_url``, a `staydown relay` process publishing the log to a stream of its own
    (deleted afterwards): the stream's names and the relay's pid; else nothing runs."""
    names = {
        "STAYDOWN_NATS_STREAM": f"BENCH_{uuid.uuid4().hex[:8]}",
        "STAYDOWN_NATS_SUBJECT": f"bench.feed.{uuid.uuid4().hex[:8]}",
    }
    if not nats_url:
        yield names, None
        return
    env = {**os.environ, "STAYDOWN_DATABASE_URL": url, "STAYDOWN_DATA_DIR": str(directory), **names}
    with (directory / "relay.log").open("w") as log:
        relay = subprocess.Popen(
            [*STAYDOWN, "relay", "--nats", nats_url], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield names, relay.pid
    finally:
        relay.terminate()
        relay.wait(20)
        asyncio.run(_delete_stream(nats_url, names["STAYDOWN_NATS_STREAM"]))


def latency(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        with database_url(args.postgres, directory) as url:
            keys = prepare(url, directory)
            api = Api(url, directory, feed_processes=args.feed_processes, feed_niceness=args.feed_niceness)
            try:
                with relay_to(args.nats, url, directory) as (names, _relay):
                    asyncio.run(_latency(args, api, keys, names))
            finally:
                api.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _delete_stream(url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    except NotFoundError:
        pass
    finally:
        await nc.close()


async def wait_for_stream(url: str, stream: str, head: int) -> None:
    """Until the relay has created the stream and published up to ``head``."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        for _ in range(600):
            try:
                if (await nc.jetstream().stream_info(stream)).state.last_seq >= head:
                    return
            except NotFoundError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("the relay did not publish")
    finally:
        await nc.close()


async def nats_edges(
    url: str, names: dict[str, str], count: int, after: int, seen: list[dict[int, float]], stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy

    connections = [await nats.connect(url) for _ in range(max(1, count // 100))]
    tasks = []
    for n in range(count):
        js = connections[n % len(connections)].jetstream()
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
        sub = await js.subscribe(
            names["STAYDOWN_NATS_SUBJECT"],
            stream=names["STAYDOWN_NATS_STREAM"],
            ordered_consumer=True,
            config=config,
        )
        mine = seen[n]

        async def follow(sub=sub, mine=mine) -> None:  # type: ignore[no-untyped-def]
            while not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    continue
                mine.setdefault(json.loads(msg.data)["seq"], time.perf_counter())

        tasks.append(asyncio.create_task(follow()))
    return tasks


async def _latency(args: argparse.Namespace, api: Api, keys: dict[str, str], names: dict[str, str]) -> None:
    edge_headers = {"authorization": f"Bearer {keys['edge']}"}
    head = httpx.get(f"{api.url}/v1/edge/feed", headers=edge_headers).json()["head"]
    stop = asyncio.Event()
    seen: list[dict[int, float]] = [{} for _ in range(args.edges)]
    if args.nats:
        await wait_for_stream(args.nats, names["STAYDOWN_NATS_STREAM"], head)
        tasks = await nats_edges(args.nats, names, args.edges, head, seen, stop)
    else:
        tasks = [
            asyncio.create_task(http_edge(api.feed_port, keys["edge"], f"sim-{n}", head, seen[n], stop))
            for n in range(args.edges)
        ]
    await asyncio.sleep(3)
    delays: list[float] = []
    async with httpx.AsyncClient(
        base_url=api.url, headers={"authorization": f"Bearer {keys['trusted_flagger']}"}
    ) as client:
        for n in range(args.notices):
            answer = await client.post("/v1/notices", json=notice_body([f"http://{HOST}/{n}.jpg"]))
            created = time.perf_counter()
            assert answer.status_code == 201, answer.text
            with httpx.Client(base_url=api.url, headers=edge_headers) as edge:
                records = edge.get("/v1/edge/feed", params={"after": head}).json()["records"]
            seq = next(r["seq"] for r in records if r["kind"] == "block" and r["target"] == f"/{n}.jpg")
            deadline = time.monotonic() + 30
            while sum(1 for s in seen if seq in s) < args.edges and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            arrived = [s[seq] for s in seen if seq in s]
            mine = [max(0.0, t - created) for t in arrived]
            delays += mine
            if args.verbose and mine:
                print(f"  notice {n}: min {1000 * min(mine):.0f} ms  max {1000 * max(mine):.0f} ms")
            missing = args.edges - len(arrived)
            if missing:
                print(f"  notice {n}: {missing} edge(s) did not receive seq {seq} within 30 s")
            head = max(head, *(r["seq"] for r in records))
            await asyncio.sleep(0.5)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    transport = "NATS JetStream" if args.nats else "HTTP long-poll"
    print(
        f"latency: notice 201 -> block received at {args.edges} simulated edges ({transport}), "
        f"{args.notices} notices"
    )
    print(
        f"  p50 {1000 * statistics.median(delays):.0f} ms  p99 {1000 * percentile(delays, 0.99):.0f} ms  "
        f"max {1000 * max(delays):.0f} ms  (target p99 <= {500 if args.nats else 1000} ms)"
    )


def snapshot(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        url = f"sqlite:///{directory / 'staydown.db'}"
        keys = prepare(url, directory)
        database = Database.from_url(url)
        started = time.perf_counter()
        last_target = write_log(database, blocks=args.blocks, hashes=args.hashes)
        database.dispose()
        print(
            f"snapshot: wrote {args.blocks} blocks + {args.hashes} bank hashes "
            f"in {time.perf_counter() - started:.0f} s"
        )
        api = Api(url, directory)
        started = time.perf_counter()
        warm = httpx.get(
            f"{api.url}/v1/edge/snapshot", headers={"authorization": f"Bearer {keys['edge']}"}, timeout=600
        )
        warm.raise_for_status()
        print(
            f"  control plane: first snapshot (fold of the whole log, encode, gzip) "
            f"{time.perf_counter() - started:.1f} s, {len(warm.content) / 1e6:.0f} MB of JSON lines (decoded)"
        )
        api.stop()
        api = Api(url, directory)  # a restarted (or another) API process: it starts from the checkpoint
        started = time.perf_counter()
        again = httpx.get(
            f"{api.url}/v1/edge/snapshot", headers={"authorization": f"Bearer {keys['edge']}"}, timeout=600
        )
        again.raise_for_status()
        print(
            f"  control plane restarted: first snapshot {time.perf_counter() - started:.1f} s "
            "(from the checkpoint)"
        )
        try:
            for label, pythonpath in [("", None), *[("before", path) for path in args.compare or []]]:
                start_edge(api, keys, last_target, directory, label=label, pythonpath=pythonpath)
        finally:
            api.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and every process under it (the edge's supervisor and its workers)."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                total += tree_cpu_seconds(int(entry.name))
    return total


def start_edge(
    api: Api, keys: dict[str, str], last_target: str, directory: Path, *, label: str, pythonpath: str | None
) -> None:
    """Start a new edge and time it until it answers 451 for the last blocked URL."""
    edge_port = free_port()
    edge_dir = directory / f"edge-node{label}"
    env = {**os.environ, "STAYDOWN_DATA_DIR": str(edge_dir)}
    env.pop("STAYDOWN_DATABASE_URL", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath  # another checkout's edge, against the same control plane
    log_path = directory / f"edge{label}.log"
    started = time.perf_counter()
    edge = subprocess.Popen(
        [*STAYDOWN, "edge", "--control-plane", api.url, "--key", keys["edge"], "--port", str(edge_port)],
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        while True:
            try:
                status = httpx.get(
                    f"http://127.0.0.1:{edge_port}{last_target}", headers={"host": HOST}, timeout=5
                ).status_code
            except httpx.HTTPError:
                status = 0
            if status == 451:
                break
            if time.perf_counter() - started > 600 or edge.poll() is not None:
                raise RuntimeError(log_path.read_text()[-2000:])
            time.sleep(0.1)
        wall, cpu = time.perf_counter() - started, tree_cpu_seconds(edge.pid)
        print(
            f"  new edge{' (' + label + ')' if label else ''} serving from the snapshot (451 on the last "
            f"block): {wall:.1f} s (target < 30 s); the edge's processes used {cpu:.1f} CPU seconds, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        deadline = time.monotonic() + 60  # the log line follows the state being made durable
        while time.monotonic() < deadline and "snapshot at seq" not in log_path.read_text():
            time.sleep(0.2)
        for line in log_path.read_text().splitlines():
            if "snapshot at seq" in line:
                print("  edge:", line.split(": ", 1)[1])
    finally:
        edge.terminate()
        edge.wait(30)


def write_log(database: Database, *, blocks: int, hashes: int) -> str:
    """Append block and hash_add records after the zone's, straight into the log (bulk)."""
    columns = ("seq", "kind", "at", "zone_id", "target", "notice_id", "item_id", "payload")
    at = datetime.now(UTC)
    with database.transaction() as session:
        head = session.get(ChainHead, "enforcement")
        assert head is not None
        seq = head.seq
        zone_id = session.scalar(
            __import__("sqlalchemy")
            .select(EnforcementRecord.zone_id)
            .where(EnforcementRecord.kind == FeedKind.zone)
        )
    target = "/"
    for start in range(0, blocks + hashes, 100_000):
        rows = []
        for n in range(start, min(blocks + hashes, start + 100_000)):
            seq += 1
            if n < blocks:
                target = f"/b/{n}.jpg"
                rows.append(
                    (
                        seq,
                        FeedKind.block,
                        at,
                        zone_id,
                        target,
                        None,
                        None,
                        {"url": f"http://{HOST}{target}", "reason": "bench"},
                    )
                )
            else:
                entry = n - blocks + 1
                pdq = uuid.UUID(int=entry * 2654435761 % (1 << 128)).hex * 2
                rows.append(
                    (
                        seq,
                        FeedKind.hash_add,
                        at,
                        None,
                        None,
                        None,
                        None,
                        {
                            "entry_id": entry,
                            "scope": "network",
                            "scope_zone_id": None,
                            "scope_customer_id": None,
                            "notice_id": None,
                            "work_id": None,
                            "sha256": pdq,
                            "pdq": [pdq],
                        },
                    )
                )
        with database.transaction() as session:
            bulk_insert(session, EnforcementRecord, columns, rows)
            stored = session.get(ChainHead, "enforcement")
            assert stored is not None
            stored.seq = seq
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    p_idle = sub.add_parser("idle")
    p_idle.add_argument("--pollers", type=int, default=1000)
    p_idle.add_argument("--seconds", type=float, default=50)
    p_idle.add_argument("--warmup", type=float, default=10)
    p_idle.add_argument("--postgres")
    p_idle.add_argument(
        "--spread", action="store_true", help="start the pollers over one wait, not all at once"
    )
    p_intake = sub.add_parser("intake")
    p_intake.add_argument("--pollers", type=int, default=1000)
    p_intake.add_argument("--notices", type=int, default=30)
    p_intake.add_argument("--warmup", type=float, default=10)
    p_intake.add_argument("--postgres")
    p_intake.add_argument("--nats", help="the edges follow NATS JetStream here, fed by `staydown relay`")
    p_intake.add_argument("--feed-niceness", type=int, default=10, help="`staydown api --feed-niceness`")
    p_intake.add_argument(
        "--feed-processes",
        type=int,
        default=0,
        help="run the API with this many feed processes of its own (`staydown api --feed-port`): "
        "the edges poll them, notices go to the main port",
    )
    p_lat = sub.add_parser("latency")
    p_lat.add_argument("--edges", type=int, default=1000)
    p_lat.add_argument("--notices", type=int, default=5)
    p_lat.add_argument("--nats")
    p_lat.add_argument("--verbose", action="store_true")
    p_lat.add_argument("--postgres")
    p_lat.add_argument("--feed-processes", type=int, default=0, help="as intake's")
    p_lat.add_argument("--feed-niceness", type=int, default=10, help="as intake's")
    p_snap = sub.add_parser("snapshot")
    p_snap.add_argument("--blocks", type=int, default=1_000_000)
    p_snap.add_argument("--hashes", type=int, default=1_000_000)
    p_snap.add_argument(
        "--compare", action="append", metavar="SRC", help="also time the edge of another checkout's src/"
    )
    p_repoll = sub.add_parser("repoll")
    p_repoll.add_argument("--pollers", type=int, default=1000)
    p_repoll.add_argument("--rounds", type=int, default=20)
    p_repoll.add_argument("--postgres")
    args = parser.parse_args()
    assembly.install()  # the journals the bench writes to, as every command registers them
    try:
        {"idle": idle, "intake": intake, "latency": latency, "snapshot": snapshot, "repoll": repoll}[
            args.mode
        ](args)
    finally:
        NOTICE_CLIENT.shutdown()


if __name__ == "__main__":
    main()
