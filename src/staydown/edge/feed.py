"""Follow the control plane's enforcement feed: long-poll, persist, then apply, in order.

A page of records is made durable in the local store before it is applied and before the next
poll acknowledges it, so what this edge has enforced survives a restart even when the control
plane is unreachable then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import httpx

from staydown.edge.server import Edge
from staydown.edge.state import EnforcementState, LocalStore

log = logging.getLogger("staydown.edge.feed")


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
    ) -> None:
        self.edge, self.store = edge, store
        self.control_plane, self.key, self.wait = control_plane.rstrip("/"), key, wait
        self.compact_every = compact_every
        self.head = edge.state.seq
        self.last_contact: float | None = None
        self.since_compaction = 0
        self.connected = asyncio.Event()

    @property
    def lag(self) -> int:
        return max(0, self.head - self.edge.state.seq)

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        backoff = 0.2
        async with httpx.AsyncClient(
            base_url=self.control_plane, headers=headers, timeout=self.wait + 15
        ) as client:
            while not stop.is_set():
                try:
                    await self.poll(client)
                    backoff = 0.2
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("feed poll failed (%s); enforcing the local state, retrying", exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(5.0, backoff * 2)

    async def poll(self, client: httpx.AsyncClient, *, wait: float | None = None) -> int:
        """Fetch, persist and apply one page; return how many records it held."""
        response = await client.get(
            "/v1/edge/feed",
            params={"after": self.edge.state.seq, "wait": self.wait if wait is None else wait},
        )
        if response.status_code == 409:
            await self.resync(client)
            return 0
        response.raise_for_status()
        page = response.json()
        records = page["records"]
        self.head = int(page["head"])
        self.last_contact = time.time()
        self.connected.set()
        if records:
            await asyncio.to_thread(self.store.append, records)
            self.edge.apply(records)
            self.since_compaction += len(records)
            if self.since_compaction >= self.compact_every:
                await asyncio.to_thread(self.store.compact, self.edge.state)
                self.since_compaction = 0
        return len(records)

    async def resync(self, client: httpx.AsyncClient) -> None:
        """The control plane's log is behind ours (a different database): rebuild from its start."""
        log.error(
            "feed reset: local state at %s is ahead of the control plane; rebuilding", self.edge.state.seq
        )
        fresh = EnforcementState()
        while True:
            response = await client.get("/v1/edge/feed", params={"after": fresh.seq, "limit": 10_000})
            response.raise_for_status()
            records = response.json()["records"]
            if not records:
                break
            for record in records:
                fresh.apply(record)
        self.edge.replace_state(fresh)
        await asyncio.to_thread(self.store.compact, fresh)


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
