"""Run edge workers: load the local state before listening, serve, follow the feed, expose metrics.

Several workers share one port with SO_REUSEPORT; each keeps its own local store and follows the
feed itself, so every worker enforces every record on its own. A supervisor (``edge.workers``)
starts them, replaces those that exit or stall, and they never outlive it. Metrics are served on
loopback only, never on the public port.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from staydown import __version__
from staydown.config import Settings
from staydown.edge.certs import CertStore
from staydown.edge.feed import EdgeIdentity, FeedConsumer, MatchReporter, ServedReporter
from staydown.edge.http2 import Http2Protocol
from staydown.edge.nats import NatsFollower
from staydown.edge.server import Edge, EdgeConfig, EdgeProtocol, Request, close, serve
from staydown.edge.state import LocalStore
from staydown.edge.tls import ProtocolFactory, TlsListener, offered
from staydown.edge.workers import Heartbeat, Supervisor, WorkerSlot, heartbeat_interval
from staydown.feedrecords import StreamNames
from staydown.netguard import OriginAccess, OriginGuard

log = logging.getLogger("staydown.edge")


@dataclass(frozen=True)
class NatsOptions:
    url: str
    names: StreamNames
    heartbeat_every: float = 5.0


@dataclass(frozen=True)
class EdgeOptions:
    host: str
    port: int
    control_plane: str
    key: str
    data_dir: Path
    config: EdgeConfig
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"
    feed_wait: float = 25.0
    stall_seconds: float = 5.0
    nats: NatsOptions | None = None  # follow JetStream instead of long-polling control_plane
    edge_id: str = ""
    # Where origins may be (public addresses unless the settings allow more); the worker adds the
    # control plane's and its own addresses, which are never an origin.
    origins: OriginAccess = field(default_factory=OriginAccess)
    tls_port: int | None = None  # serve HTTPS here too (every worker, sharing the port)
    cert_seal_key: bytes | None = None  # opens the certificates' sealed keys (the fleet's secret)
    # Drawn once where the options are made (the supervisor), so every worker derives the same
    # session ticket keys from it (``tickets``): a ticket resumes on whichever worker a client meets.
    ticket_secret: bytes = field(default_factory=lambda: os.urandom(32), repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        host: str,
        port: int,
        control_plane: str,
        key: str,
        legal_url: str | None = None,
        admin_port: int | None = None,
        nats: NatsOptions | None = None,
        tls_port: int | None = None,
        cert_seal_key: bytes | None = None,
    ) -> EdgeOptions:
        """Options for an edge following ``control_plane``, keeping its stores under the data directory.

        With ``tls_port`` it serves HTTPS too, opening certificate keys with ``cert_seal_key``, else
        with the settings' sealing secret (``STAYDOWN_CERT_SEAL_KEY``, else the data directory's)."""
        config = edge_config(settings, legal_url or f"{control_plane.rstrip('/')}/legal")
        if tls_port is not None:
            config = replace(config, https_port=tls_port or 443)
            if cert_seal_key is None:
                cert_seal_key = settings.cert_seal_secret()
        return cls(
            host=host,
            port=port,
            control_plane=control_plane,
            key=key,
            data_dir=settings.data_dir / "edge",
            config=config,
            admin_port=admin_port,
            admin_host=settings.metrics_host,
            stall_seconds=settings.edge_worker_stall_seconds,
            origins=OriginAccess.from_settings(settings),
            nats=nats,
            edge_id=settings.edge_id or socket.gethostname(),
            tls_port=tls_port,
            cert_seal_key=cert_seal_key,
        )


def nats_options(settings: Settings, url: str) -> NatsOptions:
    """Where this edge follows the feed in NATS, from the one settings object."""
    names = StreamNames(settings.nats_stream, settings.nats_subject, settings.nats_heartbeat_subject)
    return NatsOptions(url, names, settings.edge_heartbeat_seconds)


def origin_guard(options: EdgeOptions, index: int, *, metrics_port: int | None = None) -> OriginGuard:
    """The guard of worker ``index``: the allowed origins, less every address the staydown service
    is known to listen on (the control plane, this edge, its admin and this worker's metrics)."""
    guard = OriginGuard(options.origins)
    control = urlsplit(options.control_plane)
    endpoints = [(options.host, options.port)]
    if options.tls_port:
        endpoints.append((options.host, options.tls_port))
    if options.admin_port is not None:
        endpoints.append((options.admin_host, options.admin_port))
    if metrics_port is not None:
        endpoints.append(("127.0.0.1", metrics_port))
    if control.hostname:
        endpoints.append((control.hostname, control.port or (443 if control.scheme == "https" else 80)))
    if options.nats is not None:
        broker = urlsplit(options.nats.url)
        if broker.hostname:
            endpoints.append((broker.hostname, broker.port or 4222))
    for host, port in endpoints:
        try:
            guard.serving(host, port)
        except OSError as exc:  # a name that does not resolve here is not reached from here either
            log.warning("%s not resolved: %s", host, exc)
    return guard


def edge_config(settings: Settings, legal_url: str) -> EdgeConfig:
    """The edge's settings, from the one settings object."""
    return EdgeConfig(
        legal_url=settings.legal_url or legal_url,
        provider=settings.provider_name,
        default_locale=settings.default_locale,
        cache_budget=settings.edge_cache_bytes,
        max_object=settings.edge_max_object_bytes,
        rate_per_second=settings.edge_rate_per_second,
        rate_burst=settings.edge_rate_burst,
        max_connections=settings.edge_max_connections,
        max_body=settings.edge_max_body_bytes,
        auto_block_distance=settings.staydown_auto_block_distance,
        review_distance=settings.staydown_review_distance,
        max_image_bytes=settings.staydown_max_image_bytes,
        max_image_pixels=settings.staydown_max_image_pixels,
        served_capacity=settings.edge_served_capacity,
        served_report_seconds=settings.edge_served_report_seconds,
    )


def tls_protocols() -> dict[str, ProtocolFactory]:
    """The protocol of each ALPN name a TLS client may choose, most preferred first (a client naming
    none gets HTTP/1.1); only these are offered."""
    return {"h2": Http2Protocol, "http/1.1": partial(EdgeProtocol, scheme="https")}


def start_tls(options: EdgeOptions, edge: Edge) -> TlsListener | None:
    """Serve HTTPS on ``options.tls_port`` (shared with the other workers), if it is set."""
    if options.tls_port is None:
        return None
    protocols = tls_protocols()
    edge.certs = CertStore(
        lambda: edge.state,
        secret=options.cert_seal_key,
        alpn=offered(protocols),
        count=edge.count,
        ticket_secret=options.ticket_secret,
    )
    listener = TlsListener(edge, reuseport_socket(options.host, options.tls_port), edge.certs, protocols)
    listener.start()
    return listener


def reuseport_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A socket on ``host:port`` that other workers can bind too (unlistened, it only reserves the port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(4096)
    sock.setblocking(False)
    return sock


class EdgeCollector(Collector):
    def __init__(self, edge: Edge, consumer: FeedConsumer | NatsFollower, worker: int) -> None:
        self.edge, self.consumer, self.worker = edge, consumer, str(worker)

    def collect(self):  # type: ignore[no-untyped-def]
        seq = GaugeMetricFamily("staydown_edge_feed_seq", "Last feed sequence applied", labels=["worker"])
        seq.add_metric([self.worker], self.edge.state.seq)
        yield seq
        lag = GaugeMetricFamily("staydown_edge_feed_lag", "Feed records not yet applied", labels=["worker"])
        lag.add_metric([self.worker], self.consumer.lag)
        yield lag
        refused = GaugeMetricFamily(
            "staydown_edge_feed_refused",
            "1 while the control plane refuses this edge's key: it enforces a stale state",
            labels=["worker"],
        )
        refused.add_metric([self.worker], 1 if self.consumer.refused is not None else 0)
        yield refused
        blocks = GaugeMetricFamily("staydown_edge_blocks", "Blocked resources enforced", labels=["worker"])
        blocks.add_metric([self.worker], sum(len(t) for t in self.edge.state.blocks.values()))
        yield blocks
        bank = GaugeMetricFamily(
            "staydown_edge_bank_entries", "Stay-down bank entries held", labels=["worker"]
        )
        bank.add_metric([self.worker], len(self.edge.guard))
        yield bank
        prints = GaugeMetricFamily(
            "staydown_edge_cached_fingerprints", "Cached images with a fingerprint", labels=["worker"]
        )
        prints.add_metric([self.worker], len(self.edge.guard.cached))
        yield prints
        cache = GaugeMetricFamily("staydown_edge_cache_bytes", "Bytes held in the cache", labels=["worker"])
        cache.add_metric([self.worker], self.edge.cache.used)
        yield cache
        responses = CounterMetricFamily(
            "staydown_edge_responses", "Responses by outcome", labels=["worker", "outcome"]
        )
        for name, value in sorted(self.edge.counters.items()):
            responses.add_metric([self.worker, name], value)
        yield responses


def follower(options: EdgeOptions, index: int, edge: Edge, store: LocalStore) -> FeedConsumer | NatsFollower:
    """The worker's feed consumer: JetStream when ``--nats`` is given, else the HTTP long-poll."""
    identity = EdgeIdentity(f"{options.edge_id or socket.gethostname()}/{index}", __version__)
    if options.nats is not None:
        return NatsFollower(
            edge,
            store,
            url=options.nats.url,
            names=options.nats.names,
            identity=identity,
            control_plane=options.control_plane or None,
            key=options.key or None,
            heartbeat_every=options.nats.heartbeat_every,
        )
    return FeedConsumer(
        edge,
        store,
        control_plane=options.control_plane,
        key=options.key,
        wait=options.feed_wait,
        identity=identity,
    )


async def run_worker(
    options: EdgeOptions,
    index: int,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    slot: WorkerSlot | None = None,
) -> None:
    """One worker: local state first, then the socket, then the feed.

    Its metrics are served on loopback only, on a port of its own that it writes into ``slot``
    (the supervisor's admin listener merges them); never on the public port. Once it serves, its
    event loop stamps ``slot`` with a heartbeat for the supervisor's stall check.
    """
    store = LocalStore(options.data_dir / f"worker-{index}")
    state = await asyncio.to_thread(store.load)
    # The loaded state (up to millions of blocks) is long-lived: keep the cyclic GC from rescanning it.
    gc.collect()
    gc.freeze()
    edge = Edge(state, options.config)
    consumer = follower(options, index, edge, store)
    registry = CollectorRegistry()
    registry.register(EdgeCollector(edge, consumer, index))
    metrics, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    metrics_port = int(metrics.server_address[1])
    edge.pool.guard = await asyncio.to_thread(origin_guard, options, index, metrics_port=metrics_port)
    sock = reuseport_socket(options.host, options.port)
    server = await serve(edge, sock)
    log.info("edge worker %d serving %s:%d from seq %d", index, options.host, options.port, state.seq)
    listener = start_tls(options, edge)
    if listener is not None:
        log.info("edge worker %d serving HTTPS on %s:%d", index, options.host, options.tls_port)
    feed = asyncio.create_task(consumer.run(stop))
    tasks = [feed]
    if options.control_plane:
        reporter = MatchReporter(control_plane=options.control_plane, key=options.key)
        edge.report = reporter.submit
        tasks.append(asyncio.create_task(reporter.run(stop)))
        served = ServedReporter(
            edge.served,
            control_plane=options.control_plane,
            key=options.key,
            every=options.config.served_report_seconds,
            edge_id=options.edge_id,
        )
        tasks.append(asyncio.create_task(served.run(stop)))
    heartbeat = None
    if slot is not None:
        slot.metrics_port = metrics_port
        edge.answering = partial(_tell_request, slot)
        heartbeat = Heartbeat(slot, heartbeat_interval(options.stall_seconds))
        heartbeat.start()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if listener is not None:
            await listener.close()
        await close(server, edge)
        await asyncio.to_thread(metrics.shutdown)  # waits for its serving thread's next poll
        metrics.server_close()
        await asyncio.to_thread(store.compact, edge.state)
        if heartbeat is not None:
            heartbeat.stop()


def _tell_request(slot: WorkerSlot, request: Request | None) -> None:
    """Keep the request line being decided where the supervisor reads it if the worker stalls."""
    slot.answering(
        None if request is None else f"{request.method} {request.headers.get('host', '')} {request.target}"
    )


def _worker_process(options: EdgeOptions, index: int, slot: WorkerSlot) -> None:
    """A worker process's body, run by ``workers.worker_entry`` once its life is tied to its parent's."""
    import uvloop

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s edge[{index}] %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("staydown.edge.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    parent = os.getppid()

    async def orphaned(stop: asyncio.Event) -> None:
        # Where the kernel does not end a worker with its parent (not Linux), it ends itself,
        # between requests, within a second of the parent's end.
        while not stop.is_set():
            if os.getppid() != parent:
                log.warning("edge worker %d: parent exited; stopping", index)
                stop.set()
            await asyncio.sleep(1)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = asyncio.create_task(orphaned(stop))
        await run_worker(options, index, stop=stop, slot=slot)
        watcher.cancel()

    uvloop.run(main())


class WorkersCollector(Collector):
    """The metrics of every worker of this edge, read from each worker's own listener on loopback
    at scrape time and merged family by family (every sample carries its ``worker`` label)."""

    def __init__(
        self,
        ports: Callable[[], list[int]],
        *,
        restarts: Callable[[], dict[tuple[int, str], int]] = dict,
        timeout: float = 2.0,
    ) -> None:
        self.ports, self.restarts, self.timeout = ports, restarts, timeout

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        up = GaugeMetricFamily("staydown_edge_worker_up", "Worker answered this scrape", labels=["worker"])
        for index, port in enumerate(self.ports()):
            try:
                if not port:
                    raise OSError("not serving yet")
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/metrics", timeout=self.timeout
                ) as answer:
                    text = answer.read().decode("utf-8")
            except OSError as exc:
                log.warning("edge worker %d metrics unreadable: %s", index, exc)
                up.add_metric([str(index)], 0)
                continue
            up.add_metric([str(index)], 1)
            for family in text_string_to_metric_families(text):
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(family.name, family.documentation, family.type)
                merged.samples.extend(family.samples)
        yield from families.values()
        yield up
        replaced = CounterMetricFamily(
            "staydown_edge_worker_restarts",
            "Workers replaced, because one exited or because its event loop stalled",
            labels=["worker", "reason"],
        )
        for (index, reason), count in sorted(self.restarts().items()):
            replaced.add_metric([str(index), reason], count)
        yield replaced


def edge_supervisor(options: EdgeOptions, workers: int) -> Supervisor:
    """A supervisor of ``workers`` worker processes (see ``edge.workers``), not started yet."""
    return Supervisor(_worker_process, options, workers, stall=options.stall_seconds)


def start_workers(options: EdgeOptions, workers: int) -> Supervisor:
    """Start ``workers`` worker processes under a supervisor."""
    supervisor = edge_supervisor(options, workers)
    supervisor.start()
    return supervisor


def serve_admin(options: EdgeOptions, supervisor: Supervisor) -> int | None:
    """Serve ``/metrics`` for the whole edge on ``options.admin_host:options.admin_port`` (loopback
    unless configured otherwise; 0 picks a port), from a thread; return the port, which the
    workers must be told (their origin guard refuses it) before they start."""
    if options.admin_port is None:
        return None
    registry = CollectorRegistry()
    registry.register(WorkersCollector(supervisor.metrics_ports, restarts=supervisor.restarts.copy))
    server, _thread = start_http_server(options.admin_port, addr=options.admin_host, registry=registry)
    return int(server.server_address[1])
