"""Write a statement of reasons for every restriction in the transaction that imposes it.

Restrictions reach the edges only as enforcement records (``block``, and ``zone`` records that
suspend or terminate), whichever domain decides them: notices, the repeat-infringer policy, an
agent on a zone, a complaint. So the statements are derived from those records, just before the
transaction commits and in it: a restriction and its statement are written together or not at
all, and no path that restricts can forget to explain itself (DSA Art. 17(1): "at the latest
from the date that the restriction is imposed"). ``unblock`` and zone reinstatement records end the
statements they lift. The affected customer receives the statements in one letter per commit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.db.base import bulk_insert
from staydown.due_process.models import StatementOfReasons
from staydown.due_process.schemas import DsaStatement, StatementRead
from staydown.due_process.statements import (
    FIELD_NAMES,
    LEGAL_GROUNDS,
    ItemRestriction,
    Restriction,
    StatementFields,
    StatementStatus,
    ZoneRestriction,
    item_statement,
    item_template,
    render_letter,
    with_url,
    zone_statement,
)
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.enforcement.service import StagedRecord
from staydown.feedrecords import FeedKind
from staydown.notices import service as notices
from staydown.policy import service as policy

# Where ``db.journal`` keeps the entries a unit of work has staged until it numbers them at commit.
_FIELDS = FIELD_NAMES
_field_values = attrgetter(*_FIELDS)  # a statement's fields as a tuple, in column order
_COLUMNS = (
    "puid",
    "restriction",
    "status",
    "customer_id",
    "zone_id",
    "notice_id",
    "item_id",
    "url",
    "created_at",
    *_FIELDS,
)
REPEAT_INFRINGER_PREFIX = "repeat-infringer policy"


def new_puid(batch: str, n: int) -> str:
    """A platform-unique identifier: never reused, ``[A-Za-z0-9_-]``, ≤ 500 characters.

    ``batch`` is a fresh UUID per commit and ``n`` counts within it (one UUID per statement costs
    more than the statement at 100,000 items).
    """
    return f"sor-{batch}-{n}"


class _Pending:
    """Statements to write in this commit, grouped by the customer who receives them."""

    def __init__(self) -> None:
        self.batch = uuid.uuid4().hex
        self.rows: list[tuple[Any, ...]] = []
        self.letters: dict[int, list[tuple[str, str, StatementFields]]] = defaultdict(list)
        self.notices: dict[int, set[int]] = defaultdict(set)

    def add(
        self,
        fields: StatementFields,
        *,
        restriction: Restriction,
        customer_id: int | None,
        zone_id: int | None,
        notice_id: int | None,
        item_id: int | None,
        url: str | None,
        at: datetime,
        what: str,
    ) -> None:
        puid = new_puid(self.batch, len(self.rows))
        self.rows.append(
            (
                puid,
                restriction,
                StatementStatus.in_force,
                customer_id,
                zone_id,
                notice_id,
                item_id,
                url,
                at,
                *_field_values(fields),
            )
        )
        if customer_id is not None:
            self.letters[customer_id].append((puid, what, fields))
            if notice_id is not None:
                self.notices[customer_id].add(notice_id)


def _item_statements(session: Session, records: Sequence[StagedRecord], pending: _Pending) -> None:
    by_item = {record.item_id: record for record in records if record.item_id is not None}
    decisions = {row.id: row for row in notices.item_decisions(session, list(by_item))}
    notice_cache: dict[int, Any] = {}
    business: dict[int, bool] = {}
    # Items of one notice decided together share all but their URL: build that part once.
    templates: dict[tuple[Any, ...], StatementFields] = {}
    for record in records:
        row = decisions.get(record.item_id) if record.item_id is not None else None
        notice = None
        if row is not None:
            notice = notice_cache.get(row.notice_id)
            if notice is None:
                notice = notice_cache[row.notice_id] = notices.get(session, row.notice_id)
        customer_id = row.customer_id if row is not None else _zone_customer(session, record.zone_id)
        if customer_id is not None and customer_id not in business:
            customer = accounts.get_customer(session, customer_id)
            business[customer_id] = bool(customer and customer.organization)
        url = str(record.payload.get("url") or record.target or "")
        if row is not None and notice is not None:
            works = notice.works
            index = row.work_index
            described = (
                [works[index].get("description") or ""] if index is not None and index < len(works) else []
            )
            key = (notice.id, index, bool(row.automated), row.decision_reason, customer_id, record.at)
            template = templates.get(key)
            if template is None:
                template = templates[key] = item_template(
                    ItemRestriction(
                        notice_id=notice.id,
                        regime=notice.regime.value,
                        trusted=notice.trusted,
                        automated=bool(row.automated),
                        url=url,
                        works=tuple(described or (w.get("description") or "" for w in works)),
                        explanation=notice.explanation,
                        decision_reason=row.decision_reason,
                        notice_received_at=notice.received_at,
                        applied_at=record.at,
                        business=business.get(customer_id or -1, False),
                    )
                )
            fields = with_url(template, url)
        else:
            # A block that did not come from a notice item (a stay-down match, a court order):
            # the record's own reason is the fact. It was decided without a person unless the
            # record says an agent decided it (a stay-down match confirmed from the review band).
            fields = item_statement(
                ItemRestriction(
                    notice_id=record.notice_id or 0,
                    regime=None,
                    trusted=False,
                    automated=bool(record.payload.get("automated", True)),
                    url=url,
                    works=(),
                    explanation=str(record.payload.get("reason") or ""),
                    decision_reason=str(record.payload.get("reason") or ""),
                    notice_received_at=record.at,
                    applied_at=record.at,
                    business=business.get(customer_id or -1, False),
                )
            )
            fields = _voluntary(fields, record)
        pending.add(
            fields,
            restriction=Restriction.content_disabled,
            customer_id=customer_id,
            zone_id=record.zone_id,
            notice_id=row.notice_id if row is not None else record.notice_id,
            item_id=record.item_id,
            url=url,
            at=record.at,
            what=f"access to {url} disabled",
        )


def _voluntary(fields: StatementFields, record: StagedRecord) -> StatementFields:
    values = fields.as_dict()
    values |= {
        "source_type": "SOURCE_VOLUNTARY",
        "illegal_content_legal_ground": LEGAL_GROUNDS["voluntary"],
        "automated_detection": "Yes",
        "decision_facts": f"Access to {record.payload.get('url') or record.target} was disabled: "
        f"{record.payload.get('reason') or 'a copy of content already found infringing'}.",
    }
    return StatementFields(**values)


def _zone_customer(session: Session, zone_id: int | None) -> int | None:
    if zone_id is None:
        return None
    zone = accounts.get_zone(session, zone_id)
    return zone.customer_id if zone is not None else None


def _zone_statement(session: Session, record: StagedRecord, pending: _Pending) -> None:
    payload = record.payload
    status = str(payload.get("status"))
    zone_id = record.zone_id
    if zone_id is None:
        return
    if status in ("active", "terminated"):
        _end_suspensions(session, record)
    if status not in ("suspended", "terminated"):
        return
    zone = accounts.get_zone(session, zone_id)
    customer_id = payload.get("customer_id") or (zone.customer_id if zone else None)
    customer = accounts.get_customer(session, int(customer_id)) if customer_id is not None else None
    reason = str(payload.get("reason") or "no reason recorded")
    automated = False
    if customer is not None and reason.startswith(REPEAT_INFRINGER_PREFIX):
        steps = policy.list_steps(session, customer.id)
        automated = bool(steps) and steps[-1].automatic and steps[-1].at == record.at
    hostnames = payload.get("hostnames") or [zone.hostname if zone else f"zone {zone_id}"]
    fields = zone_statement(
        ZoneRestriction(
            zone_id=zone_id,
            hostname=str(hostnames[0]),
            status=status,
            reason=reason,
            automated=automated,
            repeat_infringer=reason.startswith(REPEAT_INFRINGER_PREFIX),
            whole_account=customer is not None and customer.standing.value in ("suspended", "terminated"),
            zone_created_at=zone.created_at if zone else record.at,
            applied_at=record.at,
            business=bool(customer and customer.organization),
        )
    )
    pending.add(
        fields,
        restriction=Restriction.zone_terminated if status == "terminated" else Restriction.zone_suspended,
        customer_id=customer.id if customer else None,
        zone_id=zone_id,
        notice_id=None,
        item_id=None,
        url=None,
        at=record.at,
        what=f"service for {hostnames[0]} {status}",
    )


def _end_suspensions(session: Session, record: StagedRecord) -> None:
    """Reinstatement lifts a zone's suspension; termination supersedes it with its own statement."""
    status = str(record.payload.get("status"))
    session.execute(
        update(StatementOfReasons)
        .where(
            StatementOfReasons.zone_id == record.zone_id,
            StatementOfReasons.restriction == Restriction.zone_suspended,
            StatementOfReasons.status == StatementStatus.in_force,
        )
        .values(
            status=StatementStatus.lifted if status == "active" else StatementStatus.superseded,
            ended_at=record.at,
            end_reason=str(record.payload.get("reason") or status),
        )
    )


def _lift(session: Session, records: Sequence[StagedRecord]) -> None:
    by_reason: dict[tuple[str, datetime], list[int]] = defaultdict(list)
    for record in records:
        reason = str(record.payload.get("reason") or "restored")
        if record.item_id is not None:
            by_reason[(reason, record.at)].append(record.item_id)
        elif record.zone_id is not None and record.payload.get("url"):
            # A block that was not a notice item's (a stay-down match) is known by its zone and URL.
            session.execute(
                update(StatementOfReasons)
                .where(
                    StatementOfReasons.item_id.is_(None),
                    StatementOfReasons.zone_id == record.zone_id,
                    StatementOfReasons.url == str(record.payload["url"]),
                    StatementOfReasons.restriction == Restriction.content_disabled,
                    StatementOfReasons.status == StatementStatus.in_force,
                )
                .values(status=StatementStatus.lifted, ended_at=record.at, end_reason=reason)
            )
    for (reason, at), item_ids in by_reason.items():
        for start in range(0, len(item_ids), 500):
            session.execute(
                update(StatementOfReasons)
                .where(
                    StatementOfReasons.item_id.in_(item_ids[start : start + 500]),
                    StatementOfReasons.status == StatementStatus.in_force,
                )
                .values(status=StatementStatus.lifted, ended_at=at, end_reason=reason)
            )


def _send(session: Session, pending: _Pending, at: datetime) -> None:
    """Write the statements, then one letter per customer that carries them."""
    message_of: dict[int, int] = {}
    for customer_id, statements in pending.letters.items():
        customer = accounts.get_customer(session, customer_id)
        if customer is None:
            continue
        zone_ids = {row[4] for row in pending.rows if row[3] == customer_id and row[4] is not None}
        service_type = notices.widest_service(accounts.service_types(session, zone_ids).values())
        # Customers registered before letters had a language were written to in English.
        subject, body = render_letter(
            statements, redress=notices.service_duties(service_type).redress, locale=customer.locale or "en"
        )
        notice_ids = sorted(pending.notices.get(customer_id, ()))
        message = enforcement.enqueue_message(
            session,
            at=at,
            kind="statement_of_reasons",
            channel=Channel.email,
            recipient=customer.email,
            subject=subject,
            body=body,
            payload={
                "event": "statement_of_reasons",
                "count": len(statements),
                "puids": [puid for puid, _what, _fields in statements[:1000]],
                "notice_ids": notice_ids[:100],
            },
            notice_id=notice_ids[0] if len(notice_ids) == 1 else None,
            customer_id=customer_id,
        )
        session.flush()
        message_of[customer_id] = message.id
    columns = (*_COLUMNS, "message_id")
    rows = [(*row, message_of.get(row[3])) for row in pending.rows]
    bulk_insert(session, StatementOfReasons, columns, rows)
    audit.record(
        session,
        at=at,
        actor="system",
        action="statements_of_reasons.issued",
        entity=None,
        data={
            "count": len(rows),
            "puids": [row[0] for row in rows[:100]],
            "customers": sorted(message_of),
        },
    )


def record_statements(session: Session) -> None:
    """Issue the statements of reasons for what this unit of work staged on the enforcement log.

    Registered to run before ``db.journal`` numbers the staged entries, so the audit entry added
    here is chained too.
    """
    withheld = enforcement.take_withheld(session)  # lifts another holder kept blocked: they end too
    records = enforcement.staged_records(session)
    if not (records or withheld):
        return
    blocks = [r for r in records if r.kind is FeedKind.block]
    unblocks = [r for r in records if r.kind is FeedKind.unblock] + withheld
    zones = [r for r in records if r.kind is FeedKind.zone]
    if not (blocks or unblocks or zones):
        return
    session.flush()
    if unblocks:
        _lift(session, unblocks)
    pending = _Pending()
    if blocks:
        _item_statements(session, blocks, pending)
    for record in zones:
        _zone_statement(session, record, pending)
    if pending.rows:
        _send(session, pending, max(r.at for r in (*blocks, *zones)))
        # A zone suspended and reinstated (or terminated) in this same unit of work: the suspension's
        # statement, written just now, ended with the later record.
        last: dict[int, StagedRecord] = {r.zone_id: r for r in zones if r.zone_id is not None}
        for record in last.values():
            if str(record.payload.get("status")) in ("active", "terminated"):
                _end_suspensions(session, record)
    session.flush()


# --- reading ----------------------------------------------------------------------------------


def _dsa(row: StatementOfReasons) -> dict[str, Any]:
    return {"puid": row.puid} | {name: getattr(row, name) for name in _FIELDS}


def list_statements(
    session: Session, *, start: datetime, end: datetime, for_database: bool = False
) -> list[DsaStatement]:
    """Every statement issued in ``[start, end)``, with the DSA Transparency Database field names.

    ``for_database``: only those the Transparency Database takes, the statements of online
    platforms (Art. 24(5)); caching and hosting zones' statements stay with the provider.
    """
    rows = list(
        session.scalars(
            select(StatementOfReasons)
            .where(StatementOfReasons.created_at >= start, StatementOfReasons.created_at < end)
            .order_by(StatementOfReasons.id)
        )
    )
    if for_database:
        types = accounts.service_types(session, {row.zone_id for row in rows if row.zone_id is not None})
        rows = [
            row
            for row in rows
            if row.zone_id is not None and notices.service_duties(types[row.zone_id]).dsa_database
        ]
    return [DsaStatement.model_validate(_dsa(row)) for row in rows]


def read(row: StatementOfReasons) -> StatementRead:
    return StatementRead.model_validate(
        _dsa(row)
        | {
            "id": row.id,
            "restriction": row.restriction,
            "status": row.status,
            "customer_id": row.customer_id,
            "zone_id": row.zone_id,
            "notice_id": row.notice_id,
            "item_id": row.item_id,
            "url": row.url,
            "created_at": row.created_at,
            "ended_at": row.ended_at,
            "end_reason": row.end_reason,
            "message_id": row.message_id,
        }
    )


def find_statements(
    session: Session,
    *,
    customer_id: int | None = None,
    notice_id: int | None = None,
    item_id: int | None = None,
    zone_id: int | None = None,
    limit: int = 1000,
) -> Sequence[StatementOfReasons]:
    stmt = select(StatementOfReasons).order_by(StatementOfReasons.id).limit(limit)
    if customer_id is not None:
        stmt = stmt.where(StatementOfReasons.customer_id == customer_id)
    if notice_id is not None:
        stmt = stmt.where(StatementOfReasons.notice_id == notice_id)
    if item_id is not None:
        stmt = stmt.where(StatementOfReasons.item_id == item_id)
    if zone_id is not None:
        stmt = stmt.where(StatementOfReasons.zone_id == zone_id)
    return session.scalars(stmt).all()


def get_statement(session: Session, puid: str) -> StatementOfReasons | None:
    return session.scalar(select(StatementOfReasons).where(StatementOfReasons.puid == puid))


def reverse_statements(session: Session, item_ids: Sequence[int], *, at: datetime, reason: str) -> int:
    """Mark the statements of ``item_ids`` as reversed (a complaint found the decision wrong)."""
    count = 0
    ordered = list(item_ids)
    for start in range(0, len(ordered), 500):
        result = session.execute(
            update(StatementOfReasons)
            .where(
                StatementOfReasons.item_id.in_(ordered[start : start + 500]),
                StatementOfReasons.status == StatementStatus.in_force,
            )
            .values(status=StatementStatus.reversed, ended_at=at, end_reason=reason[:5000])
        )
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return count
