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
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from staydown.config import Settings
from staydown.db.engine import Database
from staydown.enforcement.feed import FeedAhead, FeedHub, read_head
from staydown.enforcement.heartbeats import HeartbeatKeys, refusal
from staydown.enforcement.registry import Contact, EdgeRegistry, edge_id_of
from staydown.enforcement.service import feed_signal
from staydown.feedrecords import HEARTBEAT_SIGNATURE, StreamNames

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
        on_heartbeat: Callable[[dict[str, Any], bytes, str | None], Awaitable[None]] | None = None,
    ) -> None:
        self.hub, self.url, self.names = hub, url, names
        self.retain, self.batch, self.on_heartbeat = retain, batch, on_heartbeat
        self.published = 0  # records this process has had acknowledged by JetStream
        self.last = 0  # the stream's last sequence as this relay knows it (0 until it has connected)
        self.errors: dict[str, int] = {}  # by kind: connection, interrupted, refused, ahead
        self.nc: Client | None = None

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def _error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def _nats_error(self, exc: Exception) -> None:
        """The client's report of a failed (re)connection or a protocol error; it keeps retrying."""
        self._error("connection")
        log.warning("NATS at %s: %s", self.url, exc or type(exc).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                nc = await self._connect(stop)
            except Exception as exc:
                log.warning("NATS at %s unreachable (%s); retrying", self.url, exc)
                self._error("connection")
                await _pause(stop, backoff)
                backoff = min(10.0, backoff * 2)
                continue
            if nc is None:
                return
            backoff = 0.5
            self.nc = nc
            try:
                await self._relay(nc, stop)
            except (APIError, nats.errors.Error, OSError) as exc:
                log.warning("relay interrupted (%s); resuming from the stream's last sequence", exc)
                self._error("interrupted")
                await _pause(stop, 0.5)
            finally:
                self.nc = None
                with contextlib.suppress(Exception):
                    await nc.close()

    async def _connect(self, stop: asyncio.Event) -> Client | None:
        """A connection to NATS, or None once ``stop`` is set first: the client retries a server it
        cannot reach for ever (reporting each failure), so a relay asked to stop meanwhile must not
        wait for it."""
        connecting = asyncio.ensure_future(
            nats.connect(
                self.url, name="staydown-relay", max_reconnect_attempts=-1, error_cb=self._nats_error
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if connecting.done():
            return connecting.result()
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connecting
        return None

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
                self._error("ahead")
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
                self._error("refused")
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
            signature = (msg.headers or {}).get(HEARTBEAT_SIGNATURE)
            await self.on_heartbeat(report, msg.data, signature)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class RelayCollector(Collector):
    """The relay's progress, read at scrape time: what it published, how far the log is ahead of the
    stream, its errors and whether it holds a NATS connection."""

    def __init__(self, relay: Relay, database: Database) -> None:
        self.relay, self.database = relay, database

    def collect(self) -> Iterator[Metric]:
        relay = self.relay
        with self.database.reader() as session:
            head = read_head(session)
        published = CounterMetricFamily(
            "staydown_relay_published_records", "Feed records this relay had acknowledged by JetStream"
        )
        published.add_metric([], relay.published)
        yield published
        last = GaugeMetricFamily(
            "staydown_relay_stream_seq",
            "The stream's last sequence as the relay knows it (0 before it connects)",
        )
        last.add_metric([], relay.last)
        yield last
        head_seq = GaugeMetricFamily("staydown_relay_log_head_seq", "Last sequence of the enforcement log")
        head_seq.add_metric([], head)
        yield head_seq
        lag = GaugeMetricFamily("staydown_relay_lag_records", "Log records not yet in the stream")
        lag.add_metric([], max(0, head - relay.last))
        yield lag
        connected = GaugeMetricFamily(
            "staydown_relay_nats_connected", "1 while the relay holds a NATS connection"
        )
        connected.add_metric([], 1 if relay.connected else 0)
        yield connected
        errors = CounterMetricFamily("staydown_relay_errors", "Relay errors by kind", labels=["kind"])
        for kind in ("connection", "interrupted", "refused", "ahead"):
            errors.add_metric([kind], relay.errors.get(kind, 0))
        yield errors


async def run_relay(
    settings: Settings, database: Database, url: str, *, metrics: CollectorRegistry | None = None
) -> None:
    """Run the relay until SIGINT or SIGTERM; its metrics join ``metrics`` (served by the caller)."""
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
    keys = HeartbeatKeys(database)

    async def heartbeat(report: dict[str, Any], body: bytes, signature: str | None) -> None:
        edge_id, seq, name = report.get("edge"), report.get("seq"), report.get("key")
        if not isinstance(edge_id, str) or not isinstance(seq, int):
            return
        key = await asyncio.to_thread(keys.get, name) if isinstance(name, str) else None
        key_id = key.key_id if key is not None else None
        at = datetime.now(UTC)
        status = refusal(
            report, body, signature, key, now=at.timestamp(), window=settings.edge_lag_alert_seconds
        )
        contact = Contact(
            edge_id_of(edge_id, key_id=key_id),
            at,
            version=str(report.get("version") or "")[:64],
            transport="nats",
            seq=seq if status is None else None,
            key_id=key_id,
            refused_status=status,
        )
        if status is None:
            registry.note(contact)
        else:
            await registry.refused(contact)

    relay = Relay(hub, url=url, names=names, retain=settings.nats_retain_records, on_heartbeat=heartbeat)
    if metrics is not None:
        metrics.register(RelayCollector(relay, database))
    try:
        await relay.run(stop)
    finally:
        await hub.close()
        await registry.close()
