"""Follow the enforcement feed from NATS JetStream instead of long-polling the control plane.

The relay (``enforcement.relay``) publishes feed record *n* as stream message *n*, so the edge asks
the stream for an ordered consumer starting at its local sequence + 1 and applies exactly as the
HTTP consumer does: durable in the local store first, then enforced. When the stream no longer holds
that position (retention moved past it, or the edge is new or reset), the edge loads a snapshot from
the control plane and continues from the snapshot's sequence. The edge reports its id, version and
applied sequence on the heartbeat subject, which the relay writes to the edge registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from staydown.edge.feed import EdgeIdentity, LocalApply, load_snapshot
from staydown.edge.server import Edge
from staydown.edge.state import LocalStore
from staydown.feedrecords import (
    HEARTBEAT_SIGNATURE,
    StreamNames,
    heartbeat_key_id,
    heartbeat_signature,
    key_digest,
)

log = logging.getLogger("staydown.edge.nats")

_BATCH = 1000


class PositionLost(Exception):
    """The stream no longer holds the record after the local sequence."""


class NatsFollower:
    """An edge worker's feed consumer over JetStream (same counters as ``FeedConsumer``)."""

    def __init__(
        self,
        edge: Edge,
        store: LocalStore,
        *,
        url: str,
        names: StreamNames,
        identity: EdgeIdentity,
        control_plane: str | None = None,
        key: str | None = None,
        heartbeat_every: float = 5.0,
        compact_every: int = 50_000,
    ) -> None:
        self.edge, self.url, self.names, self.identity = edge, url, names, identity
        self.control_plane, self.key = control_plane, key
        self.heartbeat_every = heartbeat_every
        self.local = LocalApply(edge, store, compact_every=compact_every)
        self.head = edge.state.seq
        self.last_contact: float | None = None
        self.refused: int | None = None
        self.snapshots_loaded = 0
        self._tried_snapshot = False
        self.connected = asyncio.Event()

    @property
    def lag(self) -> int:
        return max(0, self.head - self.edge.state.seq)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                nc = await nats.connect(
                    self.url, name=f"staydown-edge {self.identity.edge_id}", max_reconnect_attempts=-1
                )
            except Exception as exc:
                log.warning("NATS at %s unreachable (%s); enforcing the local state", self.url, exc)
                await _pause(stop, backoff)
                backoff = min(10.0, backoff * 2)
                continue
            backoff = 0.5
            beats = asyncio.create_task(self._heartbeats(nc, stop))
            try:
                if self.edge.state.seq == 0 and self.control_plane and not self._tried_snapshot:
                    self._tried_snapshot = True
                    raise PositionLost("a new edge starts from a snapshot")
                await self._follow(nc.jetstream(), stop)
            except PositionLost as exc:
                log.warning("%s; loading a snapshot", exc)
                try:
                    await self._bootstrap(stop)
                except (httpx.HTTPError, ValueError) as failed:
                    log.error("snapshot from %s failed (%s); retrying", self.control_plane, failed)
                    await _pause(stop, 2)
            except (nats.errors.Error, httpx.HTTPError, ValueError, OSError) as exc:
                log.warning("following %s interrupted (%s); resuming", self.names.stream, exc)
                await _pause(stop, 0.5)
            finally:
                beats.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await beats
                with contextlib.suppress(Exception):
                    await nc.close()

    async def _follow(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        try:
            info = await js.stream_info(self.names.stream)
        except NotFoundError:
            log.info("stream %s does not exist yet (no relay has run); waiting", self.names.stream)
            await _pause(stop, 2)
            return
        first, last = int(info.state.first_seq), int(info.state.last_seq)
        self.head = max(self.head, last)
        seq = self.edge.state.seq
        if (seq == 0 and first > 1) or (seq < last and seq + 1 < first):
            raise PositionLost(f"stream {self.names.stream} starts at {first}, after local seq {seq}")
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq + 1)
        sub = await js.subscribe(
            self.names.subject, stream=self.names.stream, ordered_consumer=True, config=config
        )
        self.connected.set()
        self.last_contact = time.time()
        try:
            while not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    self.last_contact = time.time()  # idle, and the connection is alive
                    continue
                batch = [msg]
                while len(batch) < _BATCH and sub.pending_msgs > 0:
                    batch.append(await sub.next_msg(timeout=1.0))
                await self._apply(batch)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _apply(self, batch: list[Any]) -> None:
        records: list[dict[str, Any]] = []
        expected = self.edge.state.seq + 1
        for msg in batch:
            record = json.loads(msg.data)
            seq = int(record["seq"])
            if seq < expected:
                continue  # already applied
            if seq > expected:
                await self.local.apply(records)
                raise PositionLost(f"stream delivered seq {seq} after local seq {expected - 1}")
            records.append(record)
            expected += 1
        pending = int(batch[-1].metadata.num_pending) if batch[-1].metadata else 0
        self.head = max(self.head, expected - 1 + pending)
        self.last_contact = time.time()
        await self.local.apply(records)

    async def _bootstrap(self, stop: asyncio.Event) -> None:
        if not self.control_plane or not self.key:
            log.error(
                "stream %s no longer holds the records after seq %d and no --control-plane/--key is set "
                "to load a snapshot from; enforcing the local state",
                self.names.stream,
                self.edge.state.seq,
            )
            await _pause(stop, 30)
            return
        headers = {"authorization": f"Bearer {self.key}", **self.identity.headers()}
        async with httpx.AsyncClient(base_url=self.control_plane, headers=headers, timeout=120) as client:
            snapshot = await load_snapshot(client)
        log.warning("loaded the control plane's snapshot at seq %d", snapshot.state.seq)
        await self.local.replace(snapshot)
        self.snapshots_loaded += 1

    async def _heartbeats(self, nc: Client, stop: asyncio.Event) -> None:
        """Report this worker on the heartbeat subject, signed with its key (``feedrecords``): the
        registry lists an edge whose key is revoked, unknown or missing as refused."""
        digest = key_digest(self.key) if self.key else None
        while not stop.is_set():
            report: dict[str, Any] = {
                "edge": self.identity.edge_id,
                "version": self.identity.version,
                "seq": self.edge.state.seq,
                "head": self.head,
                "transport": "nats",
                "at": round(time.time(), 3),
            }
            if digest is not None:
                report["key"] = heartbeat_key_id(digest)
            body = json.dumps(report).encode()
            headers = None if digest is None else {HEARTBEAT_SIGNATURE: heartbeat_signature(digest, body)}
            with contextlib.suppress(Exception):
                await nc.publish(self.names.heartbeats, body, headers=headers)
            await _pause(stop, self.heartbeat_every)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
