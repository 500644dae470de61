"""Run edge workers: load the local state before listening, serve, follow the feed, expose metrics.

Several workers share one port with SO_REUSEPORT; each keeps its own local store and follows the
feed itself, so every worker enforces every record on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from staydown import __version__
from staydown.config import Settings
from staydown.edge.feed import EdgeIdentity, FeedConsumer, MatchReporter
from staydown.edge.nats import NatsFollower
from staydown.edge.server import Edge, EdgeConfig, close, serve
from staydown.edge.state import LocalStore
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
    feed_wait: float = 25.0
    nats: NatsOptions | None = None  # follow JetStream instead of long-polling control_plane
    edge_id: str = ""
    # Where origins may be (public addresses unless the settings allow more); the worker adds the
    # control plane's and its own addresses, which are never an origin.
    origins: OriginAccess = field(default_factory=OriginAccess)

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
    ) -> EdgeOptions:
        """Options for an edge following ``control_plane``, keeping its stores under the data directory."""
        return cls(
            host=host,
            port=port,
            control_plane=control_plane,
            key=key,
            data_dir=settings.data_dir / "edge",
            config=edge_config(settings, legal_url or f"{control_plane.rstrip('/')}/legal"),
            admin_port=admin_port,
            nats=nats,
            edge_id=settings.edge_id or socket.gethostname(),
            origins=OriginAccess.from_settings(settings),
        )


def nats_options(settings: Settings, url: str) -> NatsOptions:
    """Where this edge follows the feed in NATS, from the one settings object."""
    names = StreamNames(settings.nats_stream, settings.nats_subject, settings.nats_heartbeat_subject)
    return NatsOptions(url, names, settings.edge_heartbeat_seconds)


def origin_guard(options: EdgeOptions, index: int) -> OriginGuard:
    """The guard of worker ``index``: the allowed origins, less every address the staydown service
    is known to listen on (the control plane, this edge, its metrics ports)."""
    guard = OriginGuard(options.origins)
    control = urlsplit(options.control_plane)
    endpoints = [(options.host, options.port)]
    if options.admin_port is not None:
        endpoints += [(options.host, options.admin_port), ("127.0.0.1", options.admin_port + 1 + index)]
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
        cache_budget=settings.edge_cache_bytes,
        max_object=settings.edge_max_object_bytes,
        rate_per_second=settings.edge_rate_per_second,
        rate_burst=settings.edge_rate_burst,
        max_connections=settings.edge_max_connections,
        auto_block_distance=settings.staydown_auto_block_distance,
        review_distance=settings.staydown_review_distance,
        max_image_bytes=settings.staydown_max_image_bytes,
        max_image_pixels=settings.staydown_max_image_pixels,
    )


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
    options: EdgeOptions, index: int, *, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """One worker: local state first, then the socket, then the feed."""
    store = LocalStore(options.data_dir / f"worker-{index}")
    state = await asyncio.to_thread(store.load)
    # The loaded state (up to millions of blocks) is long-lived: keep the cyclic GC from rescanning it.
    gc.collect()
    gc.freeze()
    edge = Edge(state, options.config)
    edge.pool.guard = await asyncio.to_thread(origin_guard, options, index)
    consumer = follower(options, index, edge, store)
    registry = CollectorRegistry()
    registry.register(EdgeCollector(edge, consumer, index))
    edge.registry = registry
    if options.admin_port is not None:  # read by serve_admin in the process that started the workers
        start_http_server(options.admin_port + 1 + index, addr="127.0.0.1", registry=registry)
    sock = reuseport_socket(options.host, options.port)
    server = await serve(edge, sock)
    log.info("edge worker %d serving %s:%d from seq %d", index, options.host, options.port, state.seq)
    feed = asyncio.create_task(consumer.run(stop))
    tasks = [feed]
    if options.control_plane:
        reporter = MatchReporter(control_plane=options.control_plane, key=options.key)
        edge.report = reporter.submit
        tasks.append(asyncio.create_task(reporter.run(stop)))
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await close(server, edge)
        await asyncio.to_thread(store.compact, edge.state)


def _worker_process(options: EdgeOptions, index: int) -> None:
    import uvloop

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s edge[{index}] %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("staydown.edge.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    parent = os.getppid()

    async def orphaned(stop: asyncio.Event) -> None:
        while not stop.is_set():  # a worker never outlives the process that started it
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
        await run_worker(options, index, stop=stop)
        watcher.cancel()

    uvloop.run(main())


class WorkersCollector(Collector):
    """The metrics of every worker of this edge, read from each worker's own endpoint on loopback
    at scrape time and merged family by family (every sample carries its ``worker`` label)."""

    def __init__(self, ports: list[int], *, timeout: float = 2.0) -> None:
        self.ports, self.timeout = ports, timeout

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        up = GaugeMetricFamily("staydown_edge_worker_up", "Worker answered this scrape", labels=["worker"])
        for index, port in enumerate(self.ports):
            try:
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


def serve_admin(options: EdgeOptions, workers: int) -> None:
    """Serve ``/metrics`` for the whole edge on ``options.admin_port`` (each worker serves its own on
    the next ports, on loopback), from a thread of the calling process."""
    if options.admin_port is None:
        return
    registry = CollectorRegistry()
    registry.register(WorkersCollector([options.admin_port + 1 + index for index in range(workers)]))
    start_http_server(options.admin_port, addr=options.host, registry=registry)


def start_processes(options: EdgeOptions, workers: int, *, first: int = 0) -> list[SpawnProcess]:
    """Start worker processes ``first`` .. ``workers - 1`` (spawned, each with its own loop)."""
    context = multiprocessing.get_context("spawn")
    processes = []
    for index in range(first, workers):
        process = context.Process(target=_worker_process, args=(options, index), daemon=True)
        process.start()
        processes.append(process)
    return processes


def stop_processes(processes: list[SpawnProcess]) -> None:
    for process in processes:
        if process.pid and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()
