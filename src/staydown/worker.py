"""Assemble the worker: which step each timer kind runs, which transports send the outbox, the
received mail it reads into notices, the stay-down captures and the ACME certificate orders. The
loop itself, and how work is claimed, live in ``enforcement.worker``.

``staydown worker`` runs it alone (as many as the operator wants); ``staydown up`` runs it beside
the API; ``staydown timers run --as-of`` runs the timers due by one instant and exits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from staydown.certificates import service as certificates
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.disclosure import retention
from staydown.due_process import service as due_process
from staydown.enforcement import worker as loop
from staydown.enforcement.models import Channel, OutboxMessage, Timer
from staydown.enforcement.transport import Signer, SmtpTransport, Transport, WebhookTransport
from staydown.enforcement.worker import Claims, FetchingTimer, TimerHandler, Worker
from staydown.fingerprints import service as fingerprints
from staydown.hosts import service as hosts
from staydown.inbound import service as inbound
from staydown.netguard import OriginAccess, OriginGuard
from staydown.notices import service as notices
from staydown.serial import service as serial
from staydown.types import Clock, system_clock


def timer_handlers(settings: Settings, *, guard: OriginGuard | None = None) -> dict[str, TimerHandler]:
    """The step each kind of timer runs; OCSP responders are reached through ``guard`` (by default
    one of the settings' origin policy)."""
    guards: list[OriginGuard] = [guard] if guard is not None else []

    def notice_deadline(session: Session, timer: Timer, now: datetime) -> None:
        notices.run_deadline(session, timer.subject_id, now=now, settings=settings)

    def counter_notice_restore(session: Session, timer: Timer, now: datetime) -> None:
        due_process.run_restoration(session, timer.subject_id, now=now, settings=settings)

    def notice_incomplete(session: Session, timer: Timer, now: datetime) -> None:
        notices.expire_incomplete(session, timer.subject_id, now=now, settings=settings)

    def notice_inquiry(session: Session, timer: Timer, now: datetime) -> None:
        notices.run_inquiry(session, timer.subject_id, now=now, settings=settings)

    def review_due(session: Session, timer: Timer, now: datetime) -> None:
        serial.run_review_due(session, timer.subject_id, now=now, settings=settings)

    def fetch_staple(database: Database, timer: Timer, now: datetime) -> object:
        if not guards:
            guards.append(OriginGuard(OriginAccess.from_settings(settings)))
        return certificates.fetch_staple(database, timer, now, settings=settings, guard=guards[0])

    def record_staple(session: Session, timer: Timer, now: datetime, answer: object) -> None:
        certificates.refresh_staple(session, timer, now, answer, settings=settings)

    return {
        certificates.OCSP_TIMER: FetchingTimer(fetch_staple, record_staple),
        notices.DEADLINE_TIMER: notice_deadline,
        notices.INCOMPLETE_TIMER: notice_incomplete,
        notices.INQUIRY_TIMER: notice_inquiry,
        due_process.RESTORE_TIMER: counter_notice_restore,
        serial.REVIEW_DUE_TIMER: review_due,
    }


RETENTION_INTERVAL = timedelta(hours=1)


def run_retention(database: Database, *, now: datetime, settings: Settings) -> dict[str, int]:
    """Erase personal data past its retention period (legal holds kept), in one transaction.

    Erasure only overwrites, so workers that run it at the same time agree on the result."""
    with database.writer() as session:
        erased = retention.run_retention(session, now=now, settings=settings)
        session.commit()
    return erased


def webhook_signer(database: Database) -> Signer:
    """Sign each submitter webhook with its key's secret, read as the message leaves."""

    def signer(message: OutboxMessage) -> str | None:
        with database.reader() as session:
            return notices.webhook_secret(session, message)

    return signer


def transports(settings: Settings, *, database: Database | None = None) -> dict[Channel, Transport]:
    """The transports this configuration allows; a channel without one keeps its messages stored.

    Webhooks connect only where the origin policy allows; with ``database``, submitter webhooks are
    signed with their key's secret.
    """
    available: dict[Channel, Transport] = {
        Channel.webhook: WebhookTransport(
            timeout=settings.webhook_timeout_seconds,
            secret=settings.webhook_secret,
            guard=OriginGuard(OriginAccess.from_settings(settings)),
            signer=webhook_signer(database) if database is not None else None,
        )
    }
    if settings.smtp_host:
        available[Channel.email] = SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
        )
    return available


def claims_of(settings: Settings) -> Claims:
    return Claims(lease=timedelta(seconds=settings.worker_lease_seconds), batch=settings.worker_batch)


def build(
    settings: Settings,
    database: Database,
    *,
    clock: Clock = system_clock,
    origin_guard: OriginGuard | None = None,
) -> Worker:
    """The worker this configuration runs; captures connect to origins through ``origin_guard``
    (by default one of the settings' origin policy)."""
    guard = origin_guard or OriginGuard(OriginAccess.from_settings(settings))

    def captures(database: Database, now: datetime) -> int:
        return fingerprints.run_captures(
            database, now=now, settings=settings, guard=guard, claimant=claim.claimant
        )

    def mail(database: Database, now: datetime) -> int:
        return inbound.process_due(database, now=now, settings=settings, claimant=claim.claimant)

    def host_forwards(database: Database, now: datetime) -> int:
        sent = hosts.run_forwards(database, now=now, settings=settings, guard=guard, claimant=claim.claimant)
        return sent + hosts.run_reminders(database, now=now, settings=settings)

    def content_probes(database: Database, now: datetime) -> int:
        probed = serial.run_content_probes(database, now=now, settings=settings, guard=guard)
        if sweep_due and now < sweep_due[0]:
            return probed
        sweep_due[:] = [now + RETENTION_INTERVAL]
        return probed + serial.sweep(database, now=now, settings=settings)

    sweep_due: list[datetime] = []

    retention_due: list[datetime] = []

    def retention_job(database: Database, now: datetime) -> int:
        if retention_due and now < retention_due[0]:
            return 0
        retention_due[:] = [now + RETENTION_INTERVAL]
        return sum(run_retention(database, now=now, settings=settings).values())

    staples_due: list[datetime] = []

    def certificate_orders(database: Database, now: datetime) -> int:
        worked = certificates.run_orders(
            database, now=now, settings=settings, claimant=claim.claimant, clock=clock
        )
        # Staples are fetched by their timers; certificates stored before stapling existed get one.
        if not staples_due or now >= staples_due[0]:
            staples_due[:] = [now + RETENTION_INTERVAL]
            worked += certificates.start_staples(database, now=now)
        return worked

    claim = claims_of(settings)
    return Worker(
        database,
        timer_handlers(settings, guard=guard),
        transports(settings, database=database),
        jobs=[retention_job, mail, captures, certificate_orders, host_forwards, content_probes],
        claim=claim,
        clock=clock,
    )


def run_timers(database: Database, *, as_of: datetime, settings: Settings) -> int:
    """Run every timer due by ``as_of`` that no other worker holds; return how many ran here."""
    return loop.run_timers(database, timer_handlers(settings), as_of=as_of, claim=claims_of(settings))


def send_outbox(database: Database, *, now: datetime, available: Mapping[Channel, Transport]) -> int:
    """Send the messages that are due; return how many were attempted."""
    return loop.send_outbox(database, now=now, available=available)
