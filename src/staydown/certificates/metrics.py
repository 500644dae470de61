"""Prometheus gauges of the zones' certificates, read from the database at scrape time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from staydown.certificates import service
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.types import Clock


class CertificatesCollector(Collector):
    """Certificates by source and status, seconds to each zone's expiry, alerts and failing orders."""

    def __init__(self, database: Database, clock: Clock, settings: Settings) -> None:
        self.database, self.clock, self.settings = database, clock, settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        with self.database.reader() as session:
            certificates = service.overview(session, now=now, settings=self.settings)
            failing = service.failing_orders(session)
        counts = GaugeMetricFamily(
            "staydown_certificates", "Zones' certificates by source and status", labels=["source", "status"]
        )
        for (source, status), count in Counter(
            (c.source.value, c.status.value) for c in certificates
        ).items():
            counts.add_metric([source, status], count)
        yield counts
        expiry = GaugeMetricFamily(
            "staydown_certificate_expiry_seconds",
            "Seconds until a served certificate expires (negative once expired)",
            labels=["zone", "source"],
        )
        for cert in certificates:
            if cert.status.value == "active":
                expiry.add_metric(
                    [str(cert.zone_id), cert.source.value], (cert.not_after - now).total_seconds()
                )
        yield expiry
        staples = GaugeMetricFamily(
            "staydown_certificate_staple_seconds",
            "Seconds until the OCSP staple the edges send expires (negative once it has; they stop)",
            labels=["zone"],
        )
        for cert in certificates:
            if cert.status.value == "active" and cert.ocsp is not None and cert.ocsp.next_update:
                staples.add_metric([str(cert.zone_id)], (cert.ocsp.next_update - now).total_seconds())
        yield staples
        alerts = GaugeMetricFamily(
            "staydown_certificate_alerts",
            "Served certificates expiring within the alert window, expired, failing to renew; whose "
            "OCSP staple ends within its alert window or fails to refresh; revoked by their CA",
            labels=["alert"],
        )
        by_alert = Counter(alert for cert in certificates for alert in cert.alerts)
        for alert in (
            "expiring",
            "expired",
            "renewal_failing",
            "staple_expiring",
            "staple_failing",
            "revoked",
        ):
            alerts.add_metric([alert], by_alert.get(alert, 0))
        yield alerts
        orders = GaugeMetricFamily(
            "staydown_certificate_orders_failing", "Pending ACME orders that failed at least once"
        )
        orders.add_metric([], len(failing))
        yield orders
