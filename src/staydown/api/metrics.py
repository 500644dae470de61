"""Prometheus metrics of the control plane, read from the database at scrape time.

They are served by a listener of their own (``MetricsListener``, on loopback unless configured
otherwise), never on the API's port: they tell anyone who reads them how much is noticed, queued
and overdue, which is the operator's business alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import OutboxMessage
from staydown.inbound.models import InboundMessage, InboundStatus
from staydown.notices.models import Notice
from staydown.types import Clock, as_utc


class StateCollector(Collector):
    """Gauges computed from the database on each scrape."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database, self.clock = database, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.database.reader() as session:
            yield GaugeMetricFamily(
                "staydown_feed_head_seq",
                "Last sequence number of the enforcement log",
                value=enforcement.head(session),
            )
            yield _by_status(session, "staydown_notices", "Notices by status", Notice.status)
            yield GaugeMetricFamily(
                "staydown_notices_overdue",
                "Accepted notices past their deadline",
                value=_count(session, Notice, Notice.status == "accepted", Notice.deadline_at < self.clock()),
            )
            yield _by_status(
                session, "staydown_outbox_messages", "Outbox messages by status", OutboxMessage.status
            )
            yield from self._inbound(session)

    def _inbound(self, session: Session) -> Iterator[GaugeMetricFamily]:
        """Mail intake: messages by status, and how long the oldest one stored has waited to be read
        (it grows when no process reads, e.g. ``mail serve --no-process`` with no worker)."""
        yield _by_status(
            session, "staydown_inbound_messages", "Received mail messages by status", InboundMessage.status
        )
        yield GaugeMetricFamily(
            "staydown_inbound_triage_open",
            "Received messages in triage that no one has answered yet",
            value=_count(
                session,
                InboundMessage,
                InboundMessage.status == InboundStatus.triage,
                InboundMessage.answered_at.is_(None),
            ),
        )
        oldest = session.scalar(
            select(func.min(InboundMessage.received_at)).where(InboundMessage.status == InboundStatus.pending)
        )
        yield GaugeMetricFamily(
            "staydown_inbound_oldest_pending_seconds",
            "Seconds the oldest stored message has waited to be read (0 when none waits)",
            value=max(0.0, (self.clock() - as_utc(oldest)).total_seconds()) if oldest else 0.0,
        )


def _count(session: Session, model: type[Any], *conditions: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def _by_status(session: Session, name: str, documentation: str, column: Any) -> GaugeMetricFamily:
    """A gauge of the rows of ``column``'s table by their status (an enum column)."""
    gauge = GaugeMetricFamily(name, documentation, labels=["status"])
    for status, count in session.execute(select(column, func.count()).group_by(column)):
        gauge.add_metric([status.value], count)
    return gauge


class ApiMetrics:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "staydown_api_requests", "API requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "staydown_api_request_seconds",
            "API request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.registry.register(StateCollector(database, clock))


class MetricsListener:
    """Serve ``registry`` as Prometheus text on ``host:port`` (0 picks a free port), from a thread."""

    def __init__(self, registry: CollectorRegistry, *, host: str, port: int) -> None:
        self.server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.host, self.port = host, int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> MetricsListener:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
