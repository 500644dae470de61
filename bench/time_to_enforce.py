"""Time from a trusted notice's 201 to the first 451 at every edge worker, under load.

    python bench/time_to_enforce.py [--notices 1000] [--workers 2]

Starts the control plane (SQLite), an origin with one object per notice, and the edge with
--workers processes sharing one port. Every object is fetched into the cache first; wrk keeps a
cached object under load throughout. For each notice it holds one keep-alive connection per worker
(a connection learns its worker from /proc, Linux: the worker that holds the socket it reached) and
polls each until it answers 451, pausing 0.5 ms between rounds of polls so that the poller does
not hold the GIL the control plane's thread (in this process) needs to answer the edges' feed polls.
Prints p50/p99/max of 201 → 451 over all (notice, worker) pairs. Target: p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerThread, make_keys
from tests.edge.harness import free_port
from tests.support import active_zone, notice_body

from staydown.api.app import create_app
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.db.migrate import upgrade
from staydown.demo.origin import run_origin_in_thread
from staydown.edge.main import EdgeOptions, start_workers
from staydown.edge.server import EdgeConfig
from staydown.netguard import OriginAccess
from staydown.netpolicy import OriginPolicy, parse_networks
from staydown.types import system_clock

# The bench origins listen on loopback: allowed as an operator allows private origins.
LOOPBACK_ORIGINS = OriginAccess(OriginPolicy(allow=parse_networks(["127.0.0.0/8"])))
HOST = "enforce.example.test"
POLL_PAUSE = 0.0005  # seconds between rounds of polls, far below the 50 ms target


class Connection:
    """A keep-alive HTTP/1.1 connection that reads whole Content-Length responses."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""

    def get(self, path: str, host: str) -> tuple[int, bytes]:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buffer = rest[length:]
        return int(head[9:12]), rest[:length]


def worker_of(connection: Connection, port: int, pids: list[int | None]) -> int:
    """The index of the worker that accepted ``connection`` (it has answered one request, so it
    has been accepted): the socket /proc/net/tcp pairs with it, and the worker holding that socket."""
    client = connection.sock.getsockname()[1]
    local, remote = f"0100007F:{port:04X}", f"0100007F:{client:04X}"
    inode = next(
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if fields[1] == local and fields[2] == remote
    )
    for index, pid in enumerate(pids):
        for fd in Path(f"/proc/{pid}/fd").iterdir() if pid else ():
            with contextlib.suppress(OSError):
                if str(fd.readlink()) == f"socket:[{inode}]":
                    return index
    raise RuntimeError(f"no worker holds the connection from port {client}")


def connections_per_worker(port: int, pids: list[int | None]) -> dict[int, Connection]:
    found: dict[int, Connection] = {}
    for _ in range(len(pids) * 50):
        connection = Connection(port)
        connection.get("/", "edge-check.invalid")
        worker = worker_of(connection, port, pids)
        if worker in found:
            connection.sock.close()
        else:
            found[worker] = connection
        if len(found) == len(pids):
            return found
    raise RuntimeError(f"reached only workers {sorted(found)}")


class Api:
    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url, self.keys = url, keys

    def as_(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.keys[role]}"}, timeout=60
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "origin").mkdir()
        for i in range(args.notices + 1):
            (tmp / "origin" / f"page-{i}.jpg").write_bytes(bytes(2048))
        policy = tmp / "policy.toml"  # the benchmark's one zone must not be suspended by its own notices
        policy.write_text(
            "[repeat_infringer]\nwarning_strikes = 1000000\n[repeat_infringer.suspension]\n"
            "strikes = 1000000\n[repeat_infringer.termination]\nstrikes = 1000000\n"
        )
        url = f"sqlite:///{tmp}/staydown.db"
        upgrade(url)
        database = Database.from_url(url)
        app = create_app(
            Settings(
                data_dir=tmp,
                database_url=url,
                policy_file=policy,
                origin_allow=list(LOOPBACK_ORIGINS.policy.allow),
            ),
            database,
        )
        keys = make_keys(database, system_clock)
        with ServerThread(app) as server, run_origin_in_thread(tmp / "origin") as origin:
            api = Api(server.url, keys)
            zone = active_zone(api, HOST, name="Enforce Owner")  # type: ignore[arg-type]
            from staydown.accounts import service as accounts

            with database.transaction() as session:
                stored = accounts.get_zone(session, zone["zone_id"])
                assert stored is not None
                stored.origin = origin.url
                for event in (accounts.ZoneEvent.suspend, accounts.ZoneEvent.reinstate):
                    accounts.change_zone_status(
                        session, stored, event, now=system_clock(), actor="bench", reason="origin"
                    )
            port = free_port()
            options = EdgeOptions(
                host="127.0.0.1",
                port=port,
                control_plane=server.url,
                key=keys["edge"],
                data_dir=tmp / "edge",
                config=EdgeConfig(legal_url=server.url + "/legal"),
                origins=LOOPBACK_ORIGINS,
            )
            supervisor = start_workers(options, args.workers)
            load = None
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if (
                            httpx.get(
                                f"http://127.0.0.1:{port}/page-0.jpg", headers={"host": HOST}
                            ).status_code
                            == 200
                        ):
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, "edge did not come up"
                    time.sleep(0.2)
                workers = connections_per_worker(port, supervisor.pids())
                for i in range(args.notices + 1):
                    for connection in workers.values():
                        assert connection.get(f"/page-{i}.jpg", HOST)[0] == 200
                if shutil.which("wrk"):
                    load = subprocess.Popen(
                        ["wrk", "-t1", "-c16", "-d3600s", "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}/page-0.jpg"],
                        stdout=subprocess.DEVNULL,
                    )  # fmt: skip
                delays: list[float] = []
                at_first_poll = 0
                with api.as_("trusted_flagger") as flagger:
                    for i in range(1, args.notices + 1):
                        path = f"/page-{i}.jpg"
                        response = flagger.post("/v1/notices", json=notice_body([f"http://{HOST}{path}"]))
                        answered = time.perf_counter()
                        assert response.status_code == 201 and response.json()["status"] == "actioned"
                        pending = dict(workers)
                        first = True
                        while pending:
                            for worker, connection in list(pending.items()):
                                if connection.get(path, HOST)[0] == 451:
                                    delays.append((time.perf_counter() - answered) * 1000)
                                    at_first_poll += first
                                    del pending[worker]
                            first = False
                            if pending:
                                # The control plane answers the edges' feed polls from a thread of
                                # this process: a poll loop that never sleeps would hold the GIL.
                                time.sleep(POLL_PAUSE)
                delays.sort()
                p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
                print(
                    f"{args.notices} notices x {args.workers} workers: 201 -> 451 "
                    f"p50 {statistics.median(delays):.2f} ms, p99 {p99:.2f} ms, max {delays[-1]:.2f} ms; "
                    f"{at_first_poll} of {len(delays)} already 451 at the first poll after the 201"
                )
            finally:
                if load is not None:
                    load.terminate()
                    load.wait(10)
                supervisor.stop()
        database.dispose()


if __name__ == "__main__":
    main()
