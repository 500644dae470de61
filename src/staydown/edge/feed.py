"""Follow the control plane's enforcement feed: long-poll, persist, then apply, in order.

A page of records is made durable in the local store before it is applied and before the next
poll acknowledges it, so what this edge has enforced survives a restart even when the control
plane is unreachable then.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from staydown.edge.served import ServedCounter, report_zones
from staydown.edge.server import Edge
from staydown.edge.state import EnforcementState, GzipLines, LocalStore, SnapshotLoader, paused_gc
from staydown.feedrecords import parse_record

log = logging.getLogger("staydown.edge.feed")


@dataclass(frozen=True)
class EdgeIdentity:
    """How this edge names itself to the control plane's registry."""

    edge_id: str
    version: str

    def headers(self) -> dict[str, str]:
        return {"staydown-edge": self.edge_id, "staydown-edge-version": self.version}


class LocalApply:
    """Make records durable in the local store, then enforce them; compact now and then."""

    def __init__(self, edge: Edge, store: LocalStore, *, compact_every: int = 50_000) -> None:
        self.edge, self.store, self.compact_every = edge, store, compact_every
        self.since_compaction = 0

    async def apply(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        for record in records:  # a record the edge cannot apply is refused before it is made durable
            parse_record(record)
        await asyncio.to_thread(self.store.append, records)
        self.edge.apply(records)
        self.since_compaction += len(records)
        if self.since_compaction >= self.compact_every:
            await asyncio.to_thread(self.store.compact, self.edge.state)
            self.since_compaction = 0

    async def replace(self, snapshot: LoadedSnapshot) -> None:
        """Enforce a snapshot from now on; it is durable before this returns."""
        # Enforced at once, durable before the next record is asked for: a crash in between leaves
        # the old store, from which the edge fetches the snapshot again. The bytes as they arrived
        # are what is stored: nothing is encoded again.
        with paused_gc():
            await asyncio.to_thread(self.edge.prepare_state, snapshot.state)
        self.edge.replace_state(snapshot.state)
        await asyncio.to_thread(self.store.install, snapshot.gzipped)
        self.since_compaction = 0
        # The loaded state is long-lived: keep the cyclic GC from rescanning it. (No collection
        # first: over millions of objects it would hold up the event loop for seconds.)
        gc.freeze()


@dataclass(frozen=True)
class LoadedSnapshot:
    state: EnforcementState
    gzipped: bytes  # the snapshot as the control plane sent it (gzip-compressed JSON lines)


async def load_snapshot(client: httpx.AsyncClient) -> LoadedSnapshot:
    """Fetch ``/v1/edge/snapshot`` and build the state it holds, line by line as it arrives.

    The body is read compressed and inflated here, so the compressed bytes can be stored as they
    are; the lines are parsed off the event loop (visitors are served meanwhile), with the cyclic
    garbage collector paused (see ``state.paused_gc``)."""
    loader = SnapshotLoader()
    lines = GzipLines()
    received: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    with paused_gc():
        async with client.stream("GET", "/v1/edge/snapshot", headers={"accept-encoding": "gzip"}) as response:
            response.raise_for_status()
            if response.headers.get("content-encoding", "").strip().lower() != "gzip":
                raise ValueError("the snapshot was not sent gzip-encoded")
            async for chunk in response.aiter_raw():
                received.append(chunk)
                for line in lines.push(chunk):
                    batch.append(line)
                    size += len(line)
                if size >= 4 << 20:
                    await asyncio.to_thread(_feed_lines, loader, batch)
                    batch, size = [], 0
        batch.extend(lines.close())
        await asyncio.to_thread(_feed_lines, loader, batch)
        return LoadedSnapshot(loader.finish(), b"".join(received))


def _feed_lines(loader: SnapshotLoader, lines: list[bytes]) -> None:
    for line in lines:
        loader.feed(line)


class FeedConsumer:
    def __init__(
        self,
        edge: Edge,
        store: LocalStore,
        *,
        control_plane: str,
        key: str,
        wait: float = 25.0,
        compact_every: int = 50_000,
        identity: EdgeIdentity | None = None,
    ) -> None:
        self.edge, self.store = edge, store
        self.control_plane, self.key, self.wait = control_plane.rstrip("/"), key, wait
        self.local = LocalApply(edge, store, compact_every=compact_every)
        self.identity = identity
        self.head = edge.state.seq
        self.last_contact: float | None = None
        self.refused: int | None = None  # the status of the last refusal (401/403), until accepted again
        self.connected = asyncio.Event()

    @property
    def lag(self) -> int:
        return max(0, self.head - self.edge.state.seq)

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        if self.identity is not None:
            headers |= self.identity.headers()
        backoff = 0.2
        async with httpx.AsyncClient(
            base_url=self.control_plane, headers=headers, timeout=self.wait + 15
        ) as client:
            if self.edge.state.seq == 0:
                await self._bootstrap(client)
            while not stop.is_set():
                try:
                    await self.poll(client)
                    backoff = 0.2
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("feed poll failed (%s); enforcing the local state, retrying", exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(5.0 if self.refused is None else 30.0, backoff * 2)

    async def _bootstrap(self, client: httpx.AsyncClient) -> None:
        """A new edge loads a snapshot rather than replaying the log from its first record."""
        try:
            await self.resync(client)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("no snapshot (%s); following the feed from its start", exc)

    async def poll(self, client: httpx.AsyncClient, *, wait: float | None = None) -> int:
        """Fetch, persist and apply one page; return how many records it held."""
        response = await client.get(
            "/v1/edge/feed",
            params={"after": self.edge.state.seq, "wait": self.wait if wait is None else wait},
        )
        if response.status_code == 409:
            await self.resync(client)
            return 0
        if response.status_code in (401, 403):
            if self.refused != response.status_code:
                log.error(
                    "the control plane refuses this edge's key (%s): enforcing the local state at seq %d "
                    "and no newer decision until the key is replaced",
                    response.status_code,
                    self.edge.state.seq,
                )
            self.refused = response.status_code
        response.raise_for_status()
        self.refused = None
        page = response.json()
        records = page["records"]
        self.head = int(page["head"])
        self.last_contact = time.time()
        self.connected.set()
        await self.local.apply(records)
        return len(records)

    async def resync(self, client: httpx.AsyncClient) -> None:
        """Load the control plane's snapshot and continue from its sequence: for a new edge, and for
        one ahead of the control plane's log (made against another database)."""
        started, before = time.perf_counter(), self.edge.state.seq
        snapshot = await load_snapshot(client)
        fresh = snapshot.state
        loaded = time.perf_counter()
        await self.local.replace(snapshot)
        log.warning(
            "loaded the control plane's snapshot at seq %d (local state was at %d): "
            "%.1f s to fetch and parse, %.1f s to store and enforce",
            fresh.seq,
            before,
            loaded - started,
            time.perf_counter() - loaded,
        )
        self.head = max(self.head, fresh.seq)


class MatchReporter:
    """Send the stay-down matches this worker finds to the control plane, retrying until it answers.

    A lost report costs nothing lasting: the worker already blocks the copy itself, and the copy is
    matched and reported again the next time it is filled.
    """

    def __init__(self, *, control_plane: str, key: str, limit: int = 10_000) -> None:
        self.control_plane, self.key = control_plane.rstrip("/"), key
        self.pending: deque[dict[str, Any]] = deque(maxlen=limit)
        self.wake = asyncio.Event()
        self.sent = 0
        self.refused = 0

    def submit(self, match: dict[str, Any]) -> None:
        self.pending.append(match)
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        backoff = 0.2
        async with httpx.AsyncClient(base_url=self.control_plane, headers=headers, timeout=15) as client:
            while not stop.is_set():
                if not self.pending:
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                match = self.pending[0]
                try:
                    response = await client.post("/v1/edge/matches", json=match)
                except httpx.HTTPError as exc:
                    log.warning("match report failed (%s); retrying", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(5.0, backoff * 2)
                    continue
                if response.status_code >= 500:
                    await asyncio.sleep(backoff)
                    backoff = min(5.0, backoff * 2)
                    continue
                backoff = 0.2
                self.pending.popleft()
                if response.status_code >= 400:
                    self.refused += 1  # the entry was removed meanwhile, or the zone changed hands
                    log.info("match report refused: %s %s", response.status_code, response.text[:200])
                else:
                    self.sent += 1


class ServedReporter:
    """Send this worker's served-request counts to the control plane every period, as deltas.

    Each report has a sequence number under a name this worker process takes at start (``reporter``),
    and the control plane counts a (reporter, seq) once: a report whose answer was lost is sent
    again unchanged, and counting goes on meanwhile into the next one. While the control plane does
    not answer, what is counted waits in the worker's tables, whose size is bounded per zone.
    """

    def __init__(
        self, counter: ServedCounter, *, control_plane: str, key: str, every: float, edge_id: str = ""
    ) -> None:
        self.counter, self.every = counter, every
        self.control_plane, self.key, self.edge_id = control_plane.rstrip("/"), key, edge_id
        self.reporter = uuid.uuid4().hex
        self.seq = 0
        self.pending: dict[str, Any] | None = None
        self.sent = 0
        self.failed = 0

    def next_report(self) -> dict[str, Any] | None:
        """The report to send now: the one not yet acknowledged, else what was counted since."""
        if self.pending is None:
            zones = report_zones(self.counter.take())
            if zones:
                self.pending = {
                    "reporter": self.reporter,
                    "seq": self.seq + 1,
                    "edge": self.edge_id,
                    "zones": zones,
                }
        return self.pending

    async def send(self, client: httpx.AsyncClient) -> bool:
        """Send the next report if there is one; False if the control plane did not take it."""
        report = self.next_report()
        if report is None:
            return True
        try:
            response = await client.post("/v1/edge/served", json=report)
        except httpx.HTTPError as exc:
            log.warning("served-request report failed (%s); kept for the next period", exc)
            self.failed += 1
            return False
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            self.failed += 1
            return False
        if response.status_code >= 400:  # refused as malformed: sending it again would not help
            log.warning("served-request report refused: %s %s", response.status_code, response.text[:200])
        self.pending = None
        self.seq = report["seq"]
        self.sent += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(base_url=self.control_plane, headers=headers, timeout=15) as client:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every)
                await self.send(client)
