"""The mail intake's public functions: store a message, read it into a notice (or a status), list
and answer what came in, bind senders to API keys.

Storing is its own short transaction that commits before the message is acknowledged (SMTP 250,
a pipe's exit 0, an IMAP move, an HTTP 202), so an acknowledged message is never lost. Reading takes
a batch of pending messages and reads them in one transaction (a single message read at once, by a
pipe or a gateway, is claimed with a lease first, ``db.claims``): a process that dies between the
two, or midway, leaves the message ``pending`` for the next one. A message that keeps failing
to be read goes to a person (``triage``) with the error; nothing is dropped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.db import claims
from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.hosts import service as hosts
from staydown.hosts.models import HostForward
from staydown.inbound import letters, references
from staydown.inbound.models import InboundMessage, InboundStatus, MailSender
from staydown.inbound.parsers import Draft, Limits, MailView, Outcome, Parsed, classify
from staydown.inbound.parsers.message import authentication_results, header_text
from staydown.notices import service as notices
from staydown.notices.models import Notice
from staydown.notices.schemas import NoticeCreate
from staydown.types import Role, as_utc

log = logging.getLogger(__name__)

BATCH = 50
_LEASE = timedelta(seconds=120)  # reading one message takes milliseconds; a batch well under this


class TooLarge(Exception):
    """A message over the size limit: refused before anything is stored (SMTP 552)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the message is {size} bytes, over the limit of {limit}")
        self.size, self.limit = size, limit


class InboundError(Exception):
    """A request about a received message that cannot be carried out."""

    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def limits_of(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.mail_max_depth,
        max_parts=settings.mail_max_parts,
        max_urls=settings.max_notice_items,
        max_url_length=settings.max_url_length,
        max_archive_members=settings.mail_archive_max_members,
        max_archive_bytes=settings.mail_archive_max_bytes,
        max_compression_ratio=settings.mail_archive_max_ratio,
    )


def _body_of(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        cut = raw.find(separator)
        if cut != -1:
            return raw[cut + len(separator) :]
    return b""


def _headers_of(raw: bytes) -> Message:
    """The message's header fields, parsed from its header block alone (a header parser given the
    whole message reads its body line by line too, for nothing)."""
    ends = [end + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (end := raw.find(sep)) != -1]
    return BytesHeaderParser(policy=compat32).parsebytes(raw[: min(ends)] if ends else raw)


# --- storing ------------------------------------------------------------------------------------


def _address_in(field: str) -> str:
    """The address a field names ('' if none); the stdlib reads nested comments by recursion."""
    try:
        return parseaddr(field)[1]
    except RecursionError:
        return ""


def _address_of(header: str) -> str | None:
    address = _address_in(header).strip().lower() or header.strip()
    return address[:320] or None


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message as it arrived, before it is stored: its bytes and its envelope."""

    raw: bytes
    via: str
    envelope_from: str | None = None
    recipients: tuple[str, ...] = ()
    arrived_at: datetime | None = None  # when our mail server took it in, if earlier than storing


def receive(
    database: Database,
    raw: bytes,
    *,
    via: str,
    now: datetime,
    settings: Settings,
    envelope_from: str | None = None,
    recipients: Sequence[str] = (),
    arrived_at: datetime | None = None,
) -> int:
    """Store a message raw with its SHA-256 and an audit entry, and commit; return its id.

    ``arrived_at``: when our own mail server took it in, if before ``now`` (an IMAP mailbox's
    INTERNALDATE); it is the message's ``received_at``. Raise :class:`TooLarge` over
    ``mail_max_bytes`` (nothing is stored then)."""
    check_size(len(raw), settings)
    arrival = Arrival(raw, via, envelope_from, tuple(recipients), arrived_at)
    return receive_many(database, [arrival], now=now)[0]


def check_size(size: int, settings: Settings) -> None:
    """Raise :class:`TooLarge` for a message over ``mail_max_bytes``."""
    if size > settings.mail_max_bytes:
        raise TooLarge(size, settings.mail_max_bytes)


def _row(arrival: Arrival, now: datetime) -> InboundMessage:
    raw = arrival.raw
    problems: list[str] = []
    headers = _headers_of(raw)
    body = _body_of(raw).strip()
    return InboundMessage(
        received_at=min(arrival.arrived_at, now) if arrival.arrived_at is not None else now,
        via=arrival.via[:16],
        envelope_from=(arrival.envelope_from or "")[:320] or None,
        recipients=[r[:320] for r in arrival.recipients[:100]],
        from_address=_address_of(header_text(headers.get("from"), problems)),
        subject=header_text(headers.get("subject"), problems)[:500] or None,
        message_id=header_text(headers.get("message-id"), problems)[:500] or None,
        sha256=hashlib.sha256(raw).hexdigest(),
        content_sha256=hashlib.sha256(body).hexdigest() if body else "",
        size=len(raw),
        raw=raw,
        status=InboundStatus.pending,
        extracted={},
        attempts=0,
    )


def receive_many(database: Database, arrivals: Sequence[Arrival], *, now: datetime) -> list[int]:
    """Store messages (already checked for size) in one transaction, and commit; return their ids.

    A receiver that takes many messages at once commits them together (one disk flush for all),
    and acknowledges none before the commit."""
    rows = [_row(arrival, now) for arrival in arrivals]
    with database.writer() as session:
        session.add_all(rows)
        session.flush()
        for row in rows:
            audit.record(
                session,
                at=now,
                actor=f"mail:{row.via}",
                action="inbound.received",
                entity=("inbound", row.id),
                data={
                    "sha256": row.sha256,
                    "size": row.size,
                    "via": row.via,
                    "message_id": row.message_id,
                    **({"arrived_at": row.received_at.isoformat()} if row.received_at != now else {}),
                },
            )
        session.commit()
        return [row.id for row in rows]


# --- reading ------------------------------------------------------------------------------------


def process_due(
    database: Database, *, now: datetime, settings: Settings, claimant: str, limit: int = BATCH
) -> int:
    """Read the pending messages no one holds, a batch per transaction; return how many were read."""
    due = (InboundMessage.status == InboundStatus.pending) & or_(
        InboundMessage.lease_until.is_(None), InboundMessage.lease_until <= now
    )
    with database.reader() as session:  # asked every second: take the write lock only for work
        if session.scalar(select(InboundMessage.id).where(due).limit(1)) is None:
            return 0
    done = 0
    while True:
        taken = _read_batch(database, due, now=now, settings=settings, claimant=claimant, limit=limit)
        done += taken
        if taken < limit:
            return done


def _read_batch(
    database: Database,
    due: ColumnElement[bool],
    *,
    now: datetime,
    settings: Settings,
    claimant: str,
    limit: int,
) -> int:
    """Take up to ``limit`` due messages and read them in the same transaction (one commit for the
    batch); if any fails, read them one by one instead, so one bad message neither holds up nor
    takes down the others.

    Taking and reading are one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock
    on SQLite) because reading has no effect outside it: a process that dies midway rolls it back
    and leaves the messages pending, as a lease would, for a claim and a commit less per batch.
    On SQLite, parsing is done before, outside it: it depends on the stored bytes alone, and the
    database's one write lock, which the receiver needs to store the next messages before their
    250, is held only for the writing. PostgreSQL locks the batch's rows alone, so its readers
    parse within the transaction, each on the rows it locked (two reader processes share the work)."""
    order = (InboundMessage.received_at, InboundMessage.id)
    taking = select(InboundMessage).where(due)
    classified: dict[int, tuple[MailView, Parsed]] | None = None
    if database.is_sqlite:
        with database.reader() as session:
            stored = session.execute(
                select(InboundMessage.id, InboundMessage.raw).where(due).order_by(*order).limit(limit)
            ).all()
        if not stored:
            return 0
        limits = limits_of(settings)
        classified = {message_id: classify(raw, limits) for message_id, raw in stored}
        taking = taking.where(InboundMessage.id.in_(list(classified)))
    with database.writer() as session:
        rows = session.scalars(
            taking.order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        ids = [row.id for row in rows]
        try:
            for row in rows:
                row.claimed_by = claimant
            _read(session, rows, now=now, settings=settings, classified=classified)
            session.commit()
            return len(rows)
        except Exception:
            session.rollback()
            log.warning("a batch of %d received messages failed; reading them one by one", len(ids))
    return sum(
        process(database, message_id, now=now, settings=settings, claimant=claimant) for message_id in ids
    )


def process_one(database: Database, message_id: int, *, now: datetime, settings: Settings) -> InboundStatus:
    """Claim and read one stored message now (a pipe delivery, a gateway's POST); return its status.

    A message another process holds is left to it (``pending`` is returned)."""
    claimant = claims.claimant_name()
    rows = claims.claim(
        database,
        InboundMessage,
        due=(InboundMessage.id == message_id) & (InboundMessage.status == InboundStatus.pending),
        order_by=[InboundMessage.id],
        now=now,
        claimant=claimant,
        lease=_LEASE,
        limit=1,
    )
    if rows:
        process(database, message_id, now=now, settings=settings, claimant=claimant)
    with database.reader() as session:
        status = session.scalar(select(InboundMessage.status).where(InboundMessage.id == message_id))
    return status or InboundStatus.pending


def process(database: Database, message_id: int, *, now: datetime, settings: Settings, claimant: str) -> int:
    """Read one pending message this claimant holds or no one does, in one transaction; return 1
    if it did."""
    with database.writer() as session:
        row = session.scalars(
            select(InboundMessage)
            .where(
                InboundMessage.id == message_id,
                InboundMessage.status == InboundStatus.pending,
                or_(
                    InboundMessage.claimed_by == claimant,
                    InboundMessage.lease_until.is_(None),
                    InboundMessage.lease_until <= now,
                ),
            )
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            return 0
        row.claimed_by = claimant
        try:
            _read(session, [row], now=now, settings=settings)
            session.commit()
            return 1
        except Exception as exc:
            session.rollback()
            log.exception("inbound message %s could not be read", message_id)
            row = session.get(InboundMessage, message_id, with_for_update=True, populate_existing=True)
            assert row is not None
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            row.lease_until = None
            if row.attempts >= settings.mail_processing_attempts:
                row.status = InboundStatus.triage
                row.reason = (
                    f"the message could not be read automatically ({type(exc).__name__}); a person will"
                )
                row.processed_at = now
            session.commit()
            return 1


@dataclass(slots=True)
class _Reading:
    """One message as read, before what it amounts to is written to its row."""

    row: InboundMessage
    view: MailView
    parsed: Parsed
    status: InboundStatus = InboundStatus.pending
    reason: str | None = None
    notice_id: int | None = None
    notice_status: str | None = None
    duplicate_of_id: int | None = None
    forward: HostForward | None = None  # the forward to a host this message answers


def _read(
    session: Session,
    rows: Sequence[InboundMessage],
    *,
    now: datetime,
    settings: Settings,
    classified: dict[int, tuple[MailView, Parsed]] | None = None,
) -> None:
    """Read messages in this transaction: parse each (unless ``classified`` holds it already), claim
    their references together (a message whose reference another holds is its duplicate), make the
    notices together, then write every row, audit entry and receipt together, so the database sees
    one statement of each kind for the lot."""
    limits = limits_of(settings)
    known = classified or {}
    readings = [
        _Reading(row, *(known[row.id] if row.id in known else classify(row.raw, limits))) for row in rows
    ]
    for reading in readings:
        _answer_of_host(session, reading, now=now)
    # A host's answer quotes the notice it answers: it is never a notice, a duplicate or triage.
    letters_in = [r for r in readings if r.forward is None]
    held = references.claim(
        session,
        {
            r.row.id: references.of(
                sha256=r.row.sha256,
                message_id=r.row.message_id,
                content_sha256=r.row.content_sha256,
                case=(r.parsed.format.value, r.parsed.external_id) if r.parsed.external_id else None,
            )
            for r in letters_in
        },
    )
    bound = _senders(session, {r.view.from_address for r in letters_in if r.view.from_address})
    drafts: list[tuple[_Reading, NoticeCreate, notices.Submitter]] = []
    for reading in letters_in:
        original, parsed = held.get(reading.row.id), reading.parsed
        if original is not None:
            _duplicate(session, reading, original)
        elif parsed.outcome is not Outcome.notice or parsed.draft is None:
            reading.status, reading.reason = InboundStatus(parsed.outcome.value), parsed.reason
        else:
            binding = bound.get(reading.view.from_address)
            by = _submitter(session, reading.row, reading.view, binding, settings)
            drafts.append((reading, notice_create(parsed.draft), by))
    if drafts:
        taken = notices.submit_many(
            session,
            [(d, by) for _r, d, by in drafts],
            now=now,
            settings=settings,
            received_at=[as_utc(r.row.received_at) for r, _d, _by in drafts],  # its deadline runs from then
        )
        for (reading, _data, _by), notice in zip(drafts, taken, strict=True):
            _decided(reading, notice)
    for reading in readings:
        _record(session, reading, now=now, settings=settings)


def _answer_of_host(session: Session, reading: _Reading, *, now: datetime) -> None:
    """Record the message as a host's answer if it replies to a forward (by references or subject)."""
    row = reading.row
    forward = _answered_forward(session, row, reading.view)
    if forward is None:
        return
    first = hosts.record_mail_answer(
        session, forward.id, sender=row.from_address, text=reading.view.body, inbound_id=row.id, now=now
    )
    reading.forward, reading.status = forward, InboundStatus.host_answer
    said = "answer" if first else "further reply"
    reading.reason = f"the host's {said} to forward {forward.id} of notice {forward.notice_id}"


def _decided(reading: _Reading, notice: Notice | notices.NoticeError) -> None:
    """What a letter amounts to once its notice was taken in, or refused."""
    if isinstance(notice, notices.NoticeError):
        reading.status, reading.reason = InboundStatus.refused, notice.message
        return
    reading.status, reading.notice_id, reading.notice_status = (
        InboundStatus.notice,
        notice.id,
        notice.status.value,
    )
    if notice.missing_elements:
        reading.reason = f"missing elements: {', '.join(notice.missing_elements)}"


def _duplicate(session: Session, reading: _Reading, original: references.Held) -> None:
    row = reading.row
    row.format, row.external_id = reading.parsed.format, reading.parsed.external_id
    earlier = session.get(InboundMessage, original.message_id)
    if original.kind is references.Kind.message_id:
        how = f"the same Message-ID {row.message_id}"
    elif original.kind is references.Kind.case:
        how = f"the same {letters.reference(row)}"
    else:
        how = "the same content"
    into = f" (notice #{earlier.notice_id})" if earlier is not None and earlier.notice_id else ""
    reading.status, reading.duplicate_of_id = InboundStatus.duplicate, original.message_id
    reading.reason = f"{how} as inbound message #{original.message_id}{into}"


def _record(session: Session, reading: _Reading, *, now: datetime, settings: Settings) -> None:
    """Write what a message amounted to on its row, in the audit log and in the receipt."""
    row, view, parsed = reading.row, reading.view, reading.parsed
    row.format, row.external_id = parsed.format, parsed.external_id
    row.extracted = extracted(view, parsed)
    row.processed_at = now
    row.status, row.reason, row.notice_id = reading.status, reading.reason, reading.notice_id
    row.duplicate_of_id = reading.duplicate_of_id
    row.lease_until = None
    audit.record(
        session,
        at=now,
        actor="mail",
        action="inbound.read",
        entity=("inbound", row.id),
        data={
            "status": row.status.value,
            "format": parsed.format.value,
            "notice_id": row.notice_id,
            "external_id": row.external_id,
            "reason": row.reason,
        },
    )
    if reading.forward is not None:
        return  # recorded on the forward and audited; a host's ticket system is not written back to
    recipient = view.reply_to or view.from_address
    if view.auto_submitted or not recipient or recipient == settings.smtp_from.lower():
        return  # no answer to a robot, to nobody, or to ourselves (mail loops)
    answer = letters.receipt(
        row,
        provider=settings.provider_name,
        notice_status=reading.notice_status,
        locale=mail_language(parsed.draft) or settings.default_locale,
    )
    _send(session, row, answer, recipient=recipient, kind=f"inbound_{row.status.value}", at=now)


def _answered_forward(session: Session, row: InboundMessage, view: MailView) -> HostForward | None:
    """The forward to a host this message replies to, if any (by its references or subject)."""
    headers = _headers_of(row.raw)
    problems: list[str] = []
    references = " ".join(
        header_text(value, problems)
        for name in ("in-reply-to", "references")
        for value in headers.get_all(name, [])
    )
    return hosts.forward_replied_to(session, references=references, subject=view.subject or row.subject or "")


def _send(
    session: Session, row: InboundMessage, answer: letters.Answer, *, recipient: str, kind: str, at: datetime
) -> None:
    enforcement.enqueue_message(
        session,
        at=at,
        kind=kind,
        channel=Channel.email,
        recipient=recipient,
        subject=answer.subject,
        body=answer.body,
        payload=answer.payload,
        notice_id=row.notice_id,
    )


def _authenticated(raw: bytes, address: str, authserv_id: str | None) -> bool:
    """Whether our own MTA (``authserv_id``) recorded a DMARC or aligned DKIM pass for the From domain."""
    if not authserv_id or "@" not in address:
        return False
    domain = address.rsplit("@", 1)[1]
    for field in authentication_results(raw):
        parts = [p.strip().lower() for p in field.split(";")]
        if not parts or parts[0].split()[0:1] != [authserv_id.lower()]:
            continue
        for result in parts[1:]:
            words = result.replace("\r", " ").replace("\n", " ").split()
            if not words:
                continue
            if words[0] == "dmarc=pass" and f"header.from={domain}" in words:
                return True
            if words[0] == "dkim=pass" and (f"header.d={domain}" in words or f"header.i=@{domain}" in words):
                return True
        return False  # only the topmost field our server added counts
    return False


def _senders(session: Session, addresses: set[str]) -> dict[str, MailSender]:
    """The bindings of these sender addresses, in one query."""
    if not addresses:
        return {}
    found = session.scalars(select(MailSender).where(MailSender.address.in_(sorted(addresses))))
    return {binding.address: binding for binding in found}


def _submitter(
    session: Session, row: InboundMessage, view: MailView, binding: MailSender | None, settings: Settings
) -> notices.Submitter:
    address = view.from_address
    if binding is not None:
        key = accounts.get_key(session, binding.key_id)
        if key is not None and key.revoked_at is None and key.role in (Role.submitter, Role.agent):
            trusted = key.trusted and _authenticated(row.raw, address, settings.mail_trust_authserv_id)
            return notices.Submitter(key_id=key.id, trusted=trusted, actor=f"mail:{address}"[:64])
    return notices.Submitter(key_id=None, trusted=False, actor=f"mail:{address or 'unknown'}"[:64])


def _email_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return value[:320]


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def notice_create(draft: Draft) -> NoticeCreate:
    """The notice a draft states, as the API would take it (so the same elements check applies)."""
    works = [{"description": w[:20_000]} for w in draft.works[:10_000]]
    items = [
        {"url": url, "work": work if work is not None and work < len(works) else None}
        for url, work in zip(draft.urls, draft.work_of_url, strict=True)
    ]
    return NoticeCreate.model_validate(
        {
            "regime": draft.regime,
            "submitter": {
                "name": _cut(draft.name, 300),
                "email": _email_or_none(draft.email),
                "address": _cut(draft.address, 2000),
                "phone": _cut(draft.phone, 64),
                "organization": _cut(draft.organization, 300),
                "on_behalf_of": _cut(draft.on_behalf_of, 300),
            },
            "works": works,
            "items": items,
            "explanation": _cut(draft.explanation, 20_000),
            "statements": {
                "good_faith": draft.good_faith,
                "accurate": draft.accurate,
                "authorized": draft.authorized,
            },
            "signature": _cut(draft.signature, 300),
            "language": mail_language(draft),
        }
    )


def mail_language(draft: Draft | None) -> str | None:
    """The language of the letters to a mailed notice's sender: that of the wording its regime is
    recognised by (a Japanese removal request is answered in Japanese); else none, the default."""
    return notices.regime_rules(draft.regime).letter_language if draft is not None else None


def extracted(view: MailView, parsed: Parsed) -> dict[str, Any]:
    """What was read from a message, kept for the desk's pre-filled form (URL list bounded)."""
    document: dict[str, Any] = {
        "from": view.from_address,
        "from_name": view.from_name,
        "problems": list(view.problems),
        "skipped_urls": list(parsed.skipped_urls[:100]),
        "details": parsed.details,
        "text": view.body[:20_000],
    }
    if parsed.draft is not None:
        # Its fields are flat: no deep copy of its up to 100,000 URLs only to cut them to 1,000.
        draft = {f.name: getattr(parsed.draft, f.name) for f in fields(parsed.draft)}
        draft["url_count"] = len(parsed.draft.urls)
        draft["urls"] = list(parsed.draft.urls[:1000])
        draft["work_of_url"] = list(parsed.draft.work_of_url[:1000])
        draft["regime"] = parsed.draft.regime.value
        draft["works"] = list(parsed.draft.works[:100])
        document["draft"] = draft
    return document


# --- agents and gateways --------------------------------------------------------------------------


def get(session: Session, message_id: int) -> InboundMessage | None:
    return session.get(InboundMessage, message_id)


def list_page(
    session: Session, *, status: InboundStatus | None, page: int, per_page: int, unanswered: bool = False
) -> tuple[Sequence[InboundMessage], int]:
    """Received messages, newest first, optionally of one status (and not yet answered)."""
    conditions = []
    if status is not None:
        conditions.append(InboundMessage.status == status)
    if unanswered:
        conditions.append(InboundMessage.answered_at.is_(None))
    total = session.scalar(select(func.count()).select_from(InboundMessage).where(*conditions)) or 0
    rows = session.scalars(
        select(InboundMessage)
        .where(*conditions)
        .order_by(InboundMessage.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return rows, total


def triage_queue(session: Session, *, page: int, per_page: int) -> tuple[Sequence[InboundMessage], int]:
    """Messages in triage no one has answered yet, newest first."""
    return list_page(session, status=InboundStatus.triage, page=page, per_page=per_page, unanswered=True)


def is_open(message: InboundMessage) -> bool:
    """Whether a person may still take the message up (in triage, unanswered)."""
    return message.status is InboundStatus.triage and message.answered_at is None


def _triaged(session: Session, message_id: int) -> InboundMessage:
    row = session.get(InboundMessage, message_id, with_for_update=True)
    if row is None:
        raise InboundError("not_found", f"inbound message {message_id} does not exist", status=404)
    if row.status is not InboundStatus.triage or row.answered_at is not None:
        raise InboundError(
            "not_in_triage",
            f"inbound message {message_id} is {row.status.value}"
            + (", already answered" if row.answered_at else "")
            + "; only unanswered messages in triage are taken up by hand",
            status=409,
        )
    return row


def make_notice(
    session: Session, message_id: int, data: NoticeCreate, *, actor: str, now: datetime, settings: Settings
) -> InboundMessage:
    """Turn a message in triage into a notice from what an agent completed (the sender's notice),
    received when the message arrived: its deadline runs from then, not from the agent's reading."""
    row = _triaged(session, message_id)
    by = notices.Submitter(key_id=None, trusted=False, actor=actor)
    notice = notices.submit(
        session, data, by=by, now=now, settings=settings, received_at=as_utc(row.received_at)
    )
    row.status, row.notice_id, row.answered_at, row.answered_by = InboundStatus.notice, notice.id, now, actor
    row.reason = f"taken up by {actor}"
    audit.record(
        session,
        at=now,
        actor=actor,
        action="inbound.notice",
        entity=("inbound", row.id),
        data={"notice_id": notice.id},
    )
    return row


def answer(
    session: Session, message_id: int, text: str, *, actor: str, now: datetime, settings: Settings
) -> InboundMessage:
    """Answer a message in triage by e-mail instead of making a notice of it."""
    row = _triaged(session, message_id)
    problems: list[str] = []
    headers = _headers_of(row.raw)
    recipient = header_text(headers.get("reply-to"), problems) or row.from_address or row.envelope_from or ""
    address = _address_in(recipient)
    if not address:
        raise InboundError("no_address", f"inbound message {message_id} gives no address to answer")
    _send(
        session,
        row,
        letters.answered(row, text, provider=settings.provider_name),
        recipient=address,
        kind="inbound_answer",
        at=now,
    )
    row.answered_at, row.answered_by = now, actor[:64]
    audit.record(session, at=now, actor=actor, action="inbound.answered", entity=("inbound", row.id), data={})
    return row


def bind_sender(session: Session, address: str, key_id: int, *, actor: str, now: datetime) -> MailSender:
    """Submit the messages from ``address`` as the key's (its trust needs an authenticated From)."""
    key = accounts.get_key(session, key_id)
    if key is None or key.revoked_at is not None or key.role not in (Role.submitter, Role.agent):
        raise InboundError("bad_key", f"key {key_id} is no live submitter key")
    normalised = address.strip().lower()
    if _email_or_none(normalised) is None:
        raise InboundError("bad_address", f"{address!r} is not an e-mail address")
    binding = session.scalar(select(MailSender).where(MailSender.address == normalised))
    if binding is None:
        binding = MailSender(address=normalised, key_id=key_id, created_at=now, created_by=actor[:64])
        session.add(binding)
    else:
        binding.key_id = key_id
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="inbound.sender_bound",
        entity=("mail_sender", binding.id),
        data={"address": normalised, "key_id": key_id},
    )
    return binding
