"""Find the host behind a zone's origin, forward notices to it, remind it when it is silent.

A notice's forward to the host is written in the notice's own transaction (:func:`forward_notice`)
and carried out later by the worker (:func:`run_forwards`), because finding the host is network
I/O: the origin's name is resolved through the origin guard (so a refused origin is never looked
up, let alone connected to) and each address is looked up by RDAP. Nothing about it can hold up
or fail a notice's intake; every lookup that gives nothing leaves its reason on the forward.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.models import Zone
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.db import claims
from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.hosts import bootstrap, letters, rdap
from staydown.hosts.models import ForwardStatus, HostForward, HostLookup, LookupStatus
from staydown.netguard import DEFAULT_PORTS, OriginAccess, OriginGuard, OriginRefused, ResolveError
from staydown.netpolicy import IPAddress, OriginPolicy, literal_address
from staydown.notices.models import Notice
from staydown.wording import recipient_locale

MAX_ADDRESSES = 4  # addresses of one origin looked up (a round-robin name may have many)
BATCH = 20


class HostError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# --- finding the host -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """Who hosts an origin, as far as it could be found, and why not where it could not."""

    addresses: tuple[str, ...] = ()
    contact: str | None = None
    contact_source: str | None = None  # "manual" | "rdap"
    host_name: str | None = None
    rdap_source: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)


class Rdap:
    """RDAP lookups under one configuration: the bootstrap registries or one service, a guarded
    client, the bounds on answers, and the cache in ``host_lookups``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        access = OriginAccess.from_settings(settings)
        allow = access.policy.allow + self._configured_networks(settings.rdap_url)
        # Every RDAP connection, redirects included, is held to the origin-address policy; the
        # configured service's own address is allowed as the operator's choice.
        self.guard = OriginGuard(
            OriginAccess(OriginPolicy(allow=allow), access.nameservers, access.timeout, access.cache_seconds)
        )
        self._bootstraps: dict[bootstrap.Registry, bootstrap.Bootstrap] = {}

    @staticmethod
    def _configured_networks(url: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The configured RDAP service is the operator's choice: its own address is allowed."""
        host = urlsplit(url).hostname if url else None
        if not host:
            return ()
        try:
            literal = literal_address(host)
        except ValueError:
            return ()
        if literal is None:
            return ()
        return (ipaddress.ip_network(literal),)

    def service_url(self, address: IPAddress) -> str | None:
        if self.settings.rdap_url:
            return self.settings.rdap_url.rstrip("/") + "/"
        registry = bootstrap.Registry.ipv4 if address.version == 4 else bootstrap.Registry.ipv6
        if registry not in self._bootstraps:
            self._bootstraps[registry] = bootstrap.load(registry, self.settings.data_dir)
        return self._bootstraps[registry].service_for(address)

    def lookup(self, database: Database, address: IPAddress, *, now: datetime) -> HostLookup:
        """What RDAP says of ``address``: from the cache while it is fresh, else asked now."""
        key = str(address)
        with database.reader() as session:
            cached = session.scalar(select(HostLookup).where(HostLookup.address == key))
            if cached is not None and cached.expires_at > now:
                session.expunge(cached)
                return cached
        values = self._ask(address, now=now)
        with database.writer() as session:
            row = session.scalar(select(HostLookup).where(HostLookup.address == key))
            if row is None:
                row = HostLookup(address=key, **values)
                session.add(row)
            else:
                for name, value in values.items():
                    setattr(row, name, value)
            try:
                session.commit()
            except IntegrityError:  # another worker stored it first: theirs is as good
                session.rollback()
                row = session.scalar(select(HostLookup).where(HostLookup.address == key))
                assert row is not None
            session.expunge(row)
            return row

    def _ask(self, address: IPAddress, *, now: datetime) -> dict[str, Any]:
        base = self.service_url(address)
        failed: dict[str, Any] = {
            "status": LookupStatus.failed,
            "source": base,
            "handle": None,
            "network": None,
            "holder": None,
            "abuse_email": None,
            "abuse_name": None,
            "fetched_at": now,
            "expires_at": now + timedelta(seconds=self.settings.rdap_error_cache_seconds),
        }
        if base is None:
            return {**failed, "reason": f"no RDAP service in the bootstrap registry covers {address}"}
        url = f"{base}ip/{address}"
        settings = self.settings
        try:
            with httpx.Client(
                transport=self.guard.http_transport(),
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(settings.rdap_timeout_seconds),
            ) as client:
                fetched = rdap.fetch(
                    url,
                    client=client,
                    max_bytes=settings.rdap_max_bytes,
                    max_redirects=settings.rdap_max_redirects,
                    timeout=settings.rdap_timeout_seconds,
                )
        except rdap.RdapError as exc:
            return {**failed, "source": url, "reason": exc.reason}
        holder = rdap.read_network(fetched.document)
        ttl = fetched.max_age if fetched.max_age is not None else settings.rdap_cache_seconds
        ttl = min(max(ttl, 60.0), 30 * 86400.0)
        found = holder.abuse is not None
        return {
            "status": LookupStatus.found if found else LookupStatus.no_contact,
            "source": fetched.url,
            "handle": holder.handle,
            "network": holder.network,
            "holder": holder.holder,
            "abuse_email": holder.abuse.emails[0] if holder.abuse else None,
            "abuse_name": holder.abuse.name if holder.abuse else None,
            "reason": None if found else "the network's record names no abuse contact with an e-mail address",
            "fetched_at": now,
            "expires_at": now + timedelta(seconds=ttl if found else settings.rdap_error_cache_seconds),
        }


def origin_addresses(origin: str, *, guard: OriginGuard) -> tuple[tuple[str, ...], str | None]:
    """The addresses the origin's host resolves to that the policy allows, or why there are none."""
    parts = urlsplit(origin)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    try:
        return tuple(str(a) for a in guard.addresses(host, port)), None
    except OriginRefused as exc:
        return (), f"the origin is not looked up: {exc.reason}"
    except ResolveError as exc:
        return (), f"the origin's host has no address: {exc}"


def find_host(
    database: Database,
    *,
    origin: str,
    manual_contact: str | None,
    origin_guard: OriginGuard,
    rdap_lookups: Rdap,
    now: datetime,
) -> Finding:
    """Resolve the origin (through the origin guard) and ask RDAP about its addresses; a contact
    set by hand wins."""
    addresses, why = origin_addresses(origin, guard=origin_guard)
    reasons = [why] if why else []
    contact = host_name = source = None
    for text in addresses[:MAX_ADDRESSES]:
        found = rdap_lookups.lookup(database, ipaddress.ip_address(text), now=now)
        host_name = host_name or found.holder
        if found.status is LookupStatus.found and contact is None:
            contact, host_name, source = found.abuse_email, found.holder, found.source
        elif found.reason:
            reasons.append(f"{text}: {found.reason}")
    if manual_contact:
        return Finding(addresses, manual_contact, "manual", host_name, source, tuple(reasons))
    return Finding(addresses, contact, "rdap" if contact else None, host_name, source, tuple(reasons))


# --- forwarding -------------------------------------------------------------------------------


def forward_notice(
    session: Session,
    zone: Zone,
    *,
    notice_id: int,
    urls: Sequence[str],
    subject: str,
    body: str,
    payload: dict[str, Any],
    complainant_email: str | None,
    complainant_trusted: bool,
    now: datetime,
    settings: Settings,
) -> HostForward:
    """Forward a notice to the host of the zone's origin.

    A contact set by hand on the zone wins, and the forward goes at once, with the origin
    addresses known without a lookup (a literal address, or what was found for the zone before).
    Otherwise the worker finds the host (:func:`run_forwards`) and sends it."""
    forward = HostForward(
        notice_id=notice_id,
        zone_id=zone.id,
        customer_id=zone.customer_id,
        urls=list(urls),
        subject=subject,
        body=body,
        payload=payload,
        complainant_email=complainant_email,
        complainant_trusted=complainant_trusted,
        status=ForwardStatus.pending,
        created_at=now,
        origin_addresses=[],
        reasons=[],
        reminders=0,
    )
    session.add(forward)
    session.flush()
    if zone.host_contact:
        known = _known_without_lookup(session, zone)
        finding = Finding(known, zone.host_contact, "manual", None, None, ())
        _settle(
            session, forward, finding, origin=zone.origin, hostname=zone.hostname, now=now, settings=settings
        )
    return forward


def _known_without_lookup(session: Session, zone: Zone) -> tuple[str, ...]:
    host = urlsplit(zone.origin).hostname or ""
    try:
        literal = literal_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return (str(literal),)
    latest = session.scalar(
        select(HostForward.origin_addresses)
        .where(HostForward.zone_id == zone.id, HostForward.status != ForwardStatus.pending)
        .order_by(HostForward.id.desc())
        .limit(1)
    )
    return tuple(latest or ())


def run_forwards(
    database: Database,
    *,
    now: datetime,
    settings: Settings,
    guard: OriginGuard | None = None,
    claimant: str | None = None,
    limit: int = BATCH,
) -> int:
    """Claim pending forwards, find each one's host and send it; return how many were settled."""
    claimant = claimant or claims.claimant_name()
    claimed = claims.claim(
        database,
        HostForward,
        due=HostForward.status == ForwardStatus.pending,
        order_by=[HostForward.created_at, HostForward.id],
        now=now,
        claimant=claimant,
        lease=timedelta(seconds=settings.worker_lease_seconds),
        limit=limit,
    )
    if not claimed:
        return 0
    lookups = Rdap(settings)
    guard = guard or OriginGuard(OriginAccess.from_settings(settings))
    for forward in claimed:
        with database.reader() as session:
            zone = accounts.get_zone(session, forward.zone_id)
            origin = zone.origin if zone is not None else None
            manual = zone.host_contact if zone is not None else None
        if origin is None:
            finding = Finding(reasons=("the zone no longer exists",))
        else:
            finding = find_host(
                database,
                origin=origin,
                manual_contact=manual,
                origin_guard=guard,
                rdap_lookups=lookups,
                now=now,
            )
        with database.writer() as session:
            row = session.get(HostForward, forward.id, with_for_update=True, populate_existing=True)
            if row is not None and row.status is ForwardStatus.pending and row.claimed_by == claimant:
                zone = accounts.get_zone(session, row.zone_id)
                hostname = zone.hostname if zone is not None else "(removed zone)"
                _settle(session, row, finding, origin=origin, hostname=hostname, now=now, settings=settings)
                session.commit()
    return len(claimed)


def _settle(
    session: Session,
    forward: HostForward,
    finding: Finding,
    *,
    origin: str | None,
    hostname: str,
    now: datetime,
    settings: Settings,
) -> None:
    forward.host_contact, forward.contact_source = finding.contact, finding.contact_source
    forward.host_name, forward.rdap_source = finding.host_name, finding.rdap_source
    forward.origin_addresses, forward.reasons = list(finding.addresses), list(finding.reasons)
    forward.status = ForwardStatus.sent if finding.contact else ForwardStatus.unreachable
    forward.sent_at = now if finding.contact else None
    forward.lease_until = None
    body = letters.forward_body(
        forward.body,
        origin=origin or "",
        hostname=hostname,
        addresses=finding.addresses,
        urls=forward.urls,
        locale=settings.default_locale,
    )
    # A reply names the forward by its Message-ID, or by this reference if its mailer drops that.
    forward.payload = {**forward.payload, REFERENCE_FIELD: secrets.token_hex(8)}
    enforcement.enqueue_message(
        session,
        at=now,
        kind=FORWARD_KIND,
        channel=Channel.email,
        recipient=finding.contact or "(no host contact found)",
        subject=reply_subject(forward),
        body=body,
        payload={
            **forward.payload,
            "origin_addresses": list(finding.addresses),
            "host_forward_id": forward.id,
        },
        notice_id=forward.notice_id,
        customer_id=forward.customer_id,
        deliverable=finding.contact is not None,
    )
    audit.record(
        session,
        at=now,
        actor="worker",
        action="host.forwarded" if finding.contact else "host.unreachable",
        entity=("notice", forward.notice_id),
        data={
            "host_forward_id": forward.id,
            "zone_id": forward.zone_id,
            "contact": finding.contact,
            "contact_source": finding.contact_source,
            "rdap_source": finding.rdap_source,
            "reasons": list(finding.reasons),
        },
    )
    if forward.complainant_email:
        _tell_complainant(session, forward, hostname=hostname, now=now, settings=settings)


def _tell_complainant(
    session: Session, forward: HostForward, *, hostname: str, now: datetime, settings: Settings
) -> None:
    """The complainant's receipt names the host and its abuse contact; the origin addresses only
    for a trusted flagger, and that disclosure is audited."""
    disclosed = list(forward.origin_addresses) if forward.complainant_trusted else None
    subject, body = letters.receipt(
        forward.notice_id,
        hostname=hostname,
        host_name=forward.host_name,
        contact=forward.host_contact,
        addresses=disclosed,
        provider=settings.provider_name,
        # The complainant reads its receipt in the language of its notice.
        locale=recipient_locale(
            session.scalar(select(Notice.language).where(Notice.id == forward.notice_id)),
            settings.default_locale,
        ),
    )
    assert forward.complainant_email is not None
    enforcement.enqueue_message(
        session,
        at=now,
        kind="notice_host_receipt",
        channel=Channel.email,
        recipient=forward.complainant_email,
        subject=subject,
        body=body,
        payload={
            "notice_id": forward.notice_id,
            "zone_id": forward.zone_id,
            "host_contact": forward.host_contact,
        },
        notice_id=forward.notice_id,
    )
    # The outbox keeps the letter (under its own retention); the forward keeps no copy of the address.
    forward.complainant_email = None
    if disclosed:
        _audit_disclosure(session, forward, to="trusted flagger (receipt)", actor="worker", now=now)


def _audit_disclosure(session: Session, forward: HostForward, *, to: str, actor: str, now: datetime) -> None:
    audit.record(
        session,
        at=now,
        actor=actor,
        action="host.origin_disclosed",
        entity=("notice", forward.notice_id),
        data={"host_forward_id": forward.id, "zone_id": forward.zone_id, "to": to},
    )


def run_reminders(database: Database, *, now: datetime, settings: Settings, limit: int = BATCH) -> int:
    """Remind each host that has not answered a forward within ``host_reply_days`` (of the forward
    or of the last reminder), up to ``host_reminders`` times; return how many were reminded.

    The due forwards are taken with ``FOR UPDATE SKIP LOCKED`` (SQLite: its one writer), so workers
    running this at once remind each host once."""
    if settings.host_reminders <= 0:
        return 0
    before = now - timedelta(days=settings.host_reply_days)
    conditions = (
        HostForward.status == ForwardStatus.sent,
        HostForward.reminders < settings.host_reminders,
        func.coalesce(HostForward.last_reminded_at, HostForward.sent_at) <= before,
    )
    with database.reader() as session:  # asked every tick: take the write lock only for work
        if session.scalar(select(HostForward.id).where(*conditions).limit(1)) is None:
            return 0
    with database.writer() as session:
        forwards = session.scalars(
            select(HostForward)
            .where(*conditions)
            .order_by(HostForward.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for forward in forwards:
            _remind(session, forward, now=now, settings=settings)
        session.commit()
        return len(forwards)


def _remind(session: Session, forward: HostForward, *, now: datetime, settings: Settings) -> None:
    assert forward.sent_at is not None and forward.host_contact is not None
    zone = accounts.get_zone(session, forward.zone_id)
    subject, body = letters.reminder(
        forward.notice_id,
        hostname=zone.hostname if zone is not None else "(removed zone)",
        sent_days=(now - forward.sent_at).total_seconds() / 86400,
        provider=settings.provider_name,
        subject=reply_subject(forward),
        locale=settings.default_locale,
    )
    enforcement.enqueue_message(
        session,
        at=now,
        kind=REMINDER_KIND,
        channel=Channel.email,
        recipient=forward.host_contact,
        subject=subject,
        body=body,
        payload={"host_forward_id": forward.id},
        notice_id=forward.notice_id,
        customer_id=forward.customer_id,
    )
    forward.reminders += 1
    forward.last_reminded_at = now
    audit.record(
        session,
        at=now,
        actor="worker",
        action="host.reminded",
        entity=("notice", forward.notice_id),
        data={"host_forward_id": forward.id, "reminder": forward.reminders},
    )


def record_answer(
    session: Session, forward_id: int, *, answer: str, now: datetime, actor: str
) -> HostForward:
    """Record the host's answer (an agent read it); reminders stop."""
    forward = session.get(HostForward, forward_id, with_for_update=True)
    if forward is None:
        raise HostError("not_found", f"host forward {forward_id} does not exist", status=404)
    if forward.status is not ForwardStatus.sent:
        raise HostError("not_sent", f"host forward {forward_id} is {forward.status.value}, not sent")
    forward.status, forward.answered_at, forward.answer = ForwardStatus.answered, now, answer
    audit.record(
        session,
        at=now,
        actor=actor,
        action="host.answered",
        entity=("notice", forward.notice_id),
        data={"host_forward_id": forward.id},
    )
    return forward


# --- answers by mail -----------------------------------------------------------------------

FORWARD_KIND = "notice_forward_host"
REMINDER_KIND = "notice_forward_host_reminder"
REFERENCE_FIELD = "reply_token"
_REFERENCE = re.compile(r"\[ref\s+HF(\d{1,12})-([0-9a-f]{16})\s*\]")  # folding may add spaces
ANSWER_LIMIT = 8000


def reply_subject(forward: HostForward) -> str:
    """The subject a forward (and its reminders) go out with: its own, and a reference a reply's
    subject keeps (``[ref HF<id>-<token>]``; the token is random, so references cannot be guessed)."""
    token = forward.payload.get(REFERENCE_FIELD)
    return f"{forward.subject} [ref HF{forward.id}-{token}]" if token else forward.subject


# Where a reply's own text ends and the letter it answers begins.
_ATTRIBUTION = re.compile(r"^(?:On .{0,300} wrote:|-+ ?Original Message ?-+|.{0,200}書きました[:\uff1a])$")


def answer_text(body: str, *, limit: int = ANSWER_LIMIT) -> str:
    """What a host wrote in a reply: its lines up to the attribution of the quoted letter ("On …
    wrote:"), less quoted lines (``>``), cut to ``limit``."""
    lines = []
    for line in body.splitlines():
        if _ATTRIBUTION.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            lines.append(line.rstrip())
    text = "\n".join(lines).strip()
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def forward_replied_to(session: Session, *, references: str, subject: str) -> HostForward | None:
    """The forward a message answers: the first forward or reminder its ``In-Reply-To`` /
    ``References`` name (``references``, both fields' text), else the reference in its subject
    with the token that forward was sent with. Only a forward that went out can be answered."""
    forward: HostForward | None = None
    for message in enforcement.messages_replied_to(session, references):
        forward_id = message.payload.get("host_forward_id")
        if message.kind in (FORWARD_KIND, REMINDER_KIND) and isinstance(forward_id, int):
            forward = session.get(HostForward, forward_id)
            break
    if forward is None:
        for match in _REFERENCE.finditer(subject[:2000]):
            found = session.get(HostForward, int(match.group(1)))
            token = found.payload.get(REFERENCE_FIELD) if found is not None else None
            if isinstance(token, str) and hmac.compare_digest(token, match.group(2)):
                forward = found
                break
    if forward is None or forward.status not in (ForwardStatus.sent, ForwardStatus.answered):
        return None
    return forward


def record_mail_answer(
    session: Session, forward_id: int, *, sender: str | None, text: str, inbound_id: int, now: datetime
) -> bool:
    """Record a host's reply by mail as its answer to the forward (reminders stop); a later reply
    to a forward already answered is audited and the first answer kept. True if it answered."""
    forward = session.get(HostForward, forward_id, with_for_update=True)
    assert forward is not None
    first = forward.status is ForwardStatus.sent
    if first:
        heading = f"By e-mail from {sender or 'an unknown sender'} (inbound message {inbound_id}):"
        forward.status, forward.answered_at = ForwardStatus.answered, now
        forward.answer = f"{heading}\n{answer_text(text) or '(no text)'}"
    audit.record(
        session,
        at=now,
        actor="mail",
        action="host.answered" if first else "host.answered_again",
        entity=("notice", forward.notice_id),
        data={"host_forward_id": forward.id, "via": "mail", "inbound_id": inbound_id, "sender": sender},
    )
    return first


def forwards(
    session: Session, *, notice_id: int | None = None, customer_id: int | None = None
) -> Sequence[HostForward]:
    stmt = select(HostForward).order_by(HostForward.id)
    if notice_id is not None:
        stmt = stmt.where(HostForward.notice_id == notice_id)
    if customer_id is not None:
        stmt = stmt.where(HostForward.customer_id == customer_id)
    return session.scalars(stmt.limit(1000)).all()


def disclose(session: Session, forward: HostForward, *, to: str, actor: str, now: datetime) -> list[str]:
    """The origin addresses of a forward, for a reader entitled to them; the disclosure is audited."""
    if forward.origin_addresses:
        _audit_disclosure(session, forward, to=to, actor=actor, now=now)
    return list(forward.origin_addresses)


def known_origin_addresses(session: Session, zone_ids: Sequence[int]) -> dict[int, set[str]]:
    """The origin addresses found for each of ``zone_ids`` when their notices were forwarded."""
    found: dict[int, set[str]] = {}
    if not zone_ids:
        return found
    rows = session.execute(
        select(HostForward.zone_id, HostForward.origin_addresses).where(
            HostForward.zone_id.in_(list(zone_ids)[:1000])
        )
    )
    for zone_id, addresses in rows:
        found.setdefault(zone_id, set()).update(addresses or [])
    return found
