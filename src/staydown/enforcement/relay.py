"""Publish the enforcement log to NATS JetStream, in order and exactly once.

A fleet of edges should not long-poll one database: the relay reads each committed record once and
publishes it to a JetStream stream, which fans it out (and mirrors it to points of presence, see
docs/fleet.md). Stream sequence *n* is feed sequence *n*: every record is published with
``Nats-Msg-Id: <seq>`` (JetStream drops a duplicate inside its window) and
``Nats-Expected-Last-Sequence: <seq - 1>`` (JetStream refuses a record that would not land at its own
sequence). So a relay resumes from the stream's last sequence after a restart, two relays running
at once cannot interleave, and an edge can ask the stream for "feed sequence n" directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.enforcement.feed import FeedAhead, FeedHub
from staydown.enforcement.registry import Contact, EdgeRegistry, edge_id_of
from staydown.enforcement.service import feed_signal
from staydown.feedrecords import StreamNames

log = logging.getLogger("staydown.enforcement.relay")

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"


async def ensure_stream(js: JetStreamContext, names: StreamNames, *, retain: int) -> None:
    """Create the feed's stream if it does not exist (an existing one is used as it is)."""
    try:
        await js.stream_info(names.stream)
        return
    except NotFoundError:
        pass
    config = StreamConfig(
        name=names.stream,
        subjects=[names.subject],
        storage=StorageType.FILE,
        max_msgs=retain,
        duplicate_window=120.0,
    )
    with contextlib.suppress(APIError):  # another relay created it first
        await js.add_stream(config)


async def stream_last(js: JetStreamContext, names: StreamNames) -> int:
    info = await js.stream_info(names.stream)
    return int(info.state.last_seq)


class Relay:
    """Follow the log through a ``FeedHub`` and publish what it reads, one batch in flight at a time."""

    def __init__(
        self,
        hub: FeedHub,
        *,
        url: str,
        names: StreamNames,
        retain: int,
        batch: int = 1000,
        on_heartbeat: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.hub, self.url, self.names = hub, url, names
        self.retain, self.batch, self.on_heartbeat = retain, batch, on_heartbeat
        self.published = 0  # records this process has had acknowledged by JetStream
        self.last = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                nc = await nats.connect(self.url, name="staydown-relay", max_reconnect_attempts=-1)
            except Exception as exc:
                log.warning("NATS at %s unreachable (%s); retrying", self.url, exc)
                await _pause(stop, backoff)
                backoff = min(10.0, backoff * 2)
                continue
            backoff = 0.5
            try:
                await self._relay(nc, stop)
            except (APIError, nats.errors.Error, OSError) as exc:
                log.warning("relay interrupted (%s); resuming from the stream's last sequence", exc)
                await _pause(stop, 0.5)
            finally:
                with contextlib.suppress(Exception):
                    await nc.close()

    async def _relay(self, nc: Client, stop: asyncio.Event) -> None:
        js = nc.jetstream()
        await ensure_stream(js, self.names, retain=self.retain)
        if self.on_heartbeat is not None:
            await nc.subscribe(self.names.heartbeats, cb=self._heartbeat)
        self.last = await stream_last(js, self.names)
        log.info("relay publishing %s from seq %d", self.names.subject, self.last + 1)
        while not stop.is_set():
            try:
                records = await self.hub.records(after=self.last, limit=self.batch, wait=1.0)
            except FeedAhead as exc:
                log.error(
                    "stream %s is at %d, beyond the log's head %d: it was fed from another database; "
                    "not publishing until one of them is replaced",
                    self.names.stream,
                    exc.after,
                    exc.head,
                )
                await _pause(stop, 10)
                self.last = await stream_last(js, self.names)
                continue
            if records:
                await self._publish(js, records)

    async def _publish(self, js: JetStreamContext, records: list[tuple[int, bytes]]) -> None:
        pending = []
        for seq, body in records:
            headers = {MSG_ID: str(seq), EXPECTED_LAST_SEQ: str(seq - 1)}
            pending.append(await js.publish_async(self.names.subject, body, headers=headers))
        results = await asyncio.gather(*pending, return_exceptions=True)
        for (seq, _body), result in zip(records, results, strict=True):
            if isinstance(result, BaseException):
                # The stream is not where this relay thought (another relay, a recreated stream):
                # what JetStream holds is the truth; continue after it.
                log.warning("publish of seq %d refused (%s); re-reading the stream", seq, result)
                self.last = await stream_last(js, self.names)
                return
            self.last = seq
            self.published += 1

    async def _heartbeat(self, msg: Msg) -> None:
        assert self.on_heartbeat is not None
        try:
            report = json.loads(msg.data)
        except ValueError:
            return
        if isinstance(report, dict):
            await self.on_heartbeat(report)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_relay(settings: Settings, database: Database, url: str) -> None:
    """Run the relay until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub = FeedHub(
        database,
        feed_signal,
        page_limit=settings.feed_page_limit,
        idle_interval=settings.feed_poll_interval_seconds,
        safety_interval=settings.feed_safety_poll_seconds,
    )
    names = StreamNames(settings.nats_stream, settings.nats_subject, settings.nats_heartbeat_subject)
    registry = EdgeRegistry(database)

    async def heartbeat(report: dict[str, Any]) -> None:
        edge_id, seq = report.get("edge"), report.get("seq")
        if not isinstance(edge_id, str) or not isinstance(seq, int):
            return
        version = str(report.get("version") or "")[:64]
        at = datetime.now(UTC)
        registry.note(
            Contact(edge_id_of(edge_id, key_id=None), at, version=version, transport="nats", seq=seq)
        )

    relay = Relay(hub, url=url, names=names, retain=settings.nats_retain_records, on_heartbeat=heartbeat)
    try:
        await relay.run(stop)
    finally:
        await hub.close()
        await registry.close()
