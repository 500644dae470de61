"""The thin query layer under the reports: SQL aggregates in, plain rows out.

Reports are cross-domain by nature, so this is the one module that reads other domains' tables
directly (notices, their items and the policy steps). It only ever reads, it aggregates in SQL
where row counts matter (100,000 notices a year), and it hands back plain values: everything the
report says is computed from these rows by the pure functions in ``transparency.py``.
Domains that expose their figures (disclosure orders, statements of reasons) are asked through
their services.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, select
from sqlalchemy.orm import Session

from staydown.disclosure import service as disclosure
from staydown.disclosure.flows import OrderStatus
from staydown.disclosure.models import DisclosureOrder
from staydown.disclosure.service import OrderFigure
from staydown.due_process import service as due_process
from staydown.due_process.flows import ComplaintStatus, ComplaintSubject
from staydown.due_process.models import Complaint, CounterNotice
from staydown.due_process.schemas import DsaStatement
from staydown.fingerprints.models import StaydownMatch
from staydown.notices.models import Notice, NoticeItem
from staydown.policy.models import PolicyStep
from staydown.types import as_utc


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime


@dataclass
class DueProcessRows:
    """Figures of the due-process domain, when it is installed."""

    counter_notices: dict[str, int] = field(default_factory=dict)  # received in the period, by status
    restorations: int = 0  # counter-notices whose material was restored in the period
    complaints: dict[str, int] = field(default_factory=dict)  # received in the period, by outcome
    statements: dict[str, int] = field(default_factory=dict)  # issued in the period, by DSA decision


@dataclass
class TransparencyRows:
    """Everything the transparency report is computed from."""

    notices: list[tuple[str, str, str, int]]  # (regime, submitter class, status, count)
    items: list[tuple[str, bool, bool, int]]  # (status, decided, automated, count)
    time_to_action: list[tuple[float, bool]]  # (seconds to first action, within the deadline)
    unactioned_overdue: int  # accepted notices past their deadline with nothing actioned by the end
    volume: list[tuple[str, int]]  # (UTC day YYYY-MM-DD, notices received)
    policy_steps: list[tuple[str, bool, int]]  # (step kind, automatic, count)
    orders: list[OrderFigure]
    due_process: DueProcessRows | None


def submitter_class() -> ColumnElement[str]:
    """``trusted_flagger``, ``organisation`` (an organisation is named) or ``individual``."""
    named = and_(Notice.submitter_organization.is_not(None), Notice.submitter_organization != "")
    return case((Notice.trusted.is_(True), "trusted_flagger"), (named, "organisation"), else_="individual")


def _day(session: Session, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    # SQLite keeps UTC datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(cast(column, String), 1, 10)


def _in(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _decision_of(statement: DsaStatement) -> str:
    """The restriction a statement records, by its DSA decision value."""
    if statement.decision_account:
        return statement.decision_account
    if statement.decision_provision:
        return statement.decision_provision
    return ", ".join(statement.decision_visibility or []) or "unspecified"


def _complaints_by_status(session: Session, period: Period) -> dict[str, int]:
    """Complaints received in ``period``, counted by their status."""
    return {
        status.value: n
        for status, n in session.execute(
            select(Complaint.status, func.count())
            .where(_in(Complaint.received_at, period))
            .group_by(Complaint.status)
        )
    }


def _policy_steps(session: Session, period: Period) -> list[tuple[str, bool, int]]:
    """Repeat-infringer policy steps taken in ``period``: (kind, automatic, count)."""
    return [
        (kind.value, bool(automatic), n)
        for kind, automatic, n in session.execute(
            select(PolicyStep.kind, PolicyStep.automatic, func.count())
            .where(_in(PolicyStep.at, period))
            .group_by(PolicyStep.kind, PolicyStep.automatic)
        )
    ]


def due_process_rows(session: Session, period: Period) -> DueProcessRows:
    """Counter-notices, restorations, complaints and statements of reasons of ``period``."""
    counter_notices = {
        status.value: n
        for status, n in session.execute(
            select(CounterNotice.status, func.count())
            .where(_in(CounterNotice.received_at, period))
            .group_by(CounterNotice.status)
        )
    }
    restorations = session.scalar(
        select(func.count()).where(CounterNotice.status == "restored", _in(CounterNotice.resolved_at, period))
    )
    complaints = _complaints_by_status(session, period)
    statements: dict[str, int] = {}
    for statement in due_process.list_statements(session, start=period.start, end=period.end):
        decision = _decision_of(statement)
        statements[decision] = statements.get(decision, 0) + 1
    return DueProcessRows(
        counter_notices=counter_notices,
        restorations=int(restorations or 0),
        complaints=complaints,
        statements=statements,
    )


def transparency_rows(
    session: Session, period: Period, *, due_process: DueProcessRows | None
) -> TransparencyRows:
    """Fetch the aggregates of notices received in ``period`` and of the steps taken in it."""
    received = _in(Notice.received_at, period)
    klass = submitter_class()
    notices = [
        (regime.value, k, status.value, n)
        for regime, k, status, n in session.execute(
            select(Notice.regime, klass, Notice.status, func.count())
            .where(received)
            .group_by(Notice.regime, klass, Notice.status)
        )
    ]
    decided = NoticeItem.decided_at.is_not(None)
    items = [
        (status.value, bool(d), bool(a), n)
        for status, d, a, n in session.execute(
            select(NoticeItem.status, decided, NoticeItem.automated, func.count())
            .join(Notice, Notice.id == NoticeItem.notice_id)
            .where(received)
            .group_by(NoticeItem.status, decided, NoticeItem.automated)
        )
    ]
    on_time = Notice.first_actioned_at <= Notice.deadline_at
    time_to_action = [
        (float(seconds), bool(met))
        for seconds, met in session.execute(
            select(Notice.time_to_action_seconds, on_time).where(
                received, Notice.first_actioned_at.is_not(None), Notice.time_to_action_seconds.is_not(None)
            )
        )
        if seconds is not None
    ]
    overdue = session.scalar(
        select(func.count()).where(
            received,
            Notice.first_actioned_at.is_(None),
            Notice.deadline_at < period.end,
            Notice.status == "accepted",
        )
    )
    day = _day(session, Notice.received_at)
    volume = [
        (str(d), n) for d, n in session.execute(select(day, func.count()).where(received).group_by(day))
    ]
    steps = _policy_steps(session, period)
    return TransparencyRows(
        notices=notices,
        items=items,
        time_to_action=time_to_action,
        unactioned_overdue=int(overdue or 0),
        volume=sorted(volume),
        policy_steps=steps,
        orders=disclosure.orders_received(session, start=period.start, end=period.end),
        due_process=due_process,
    )


@dataclass(frozen=True, slots=True)
class LumenRow:
    """One notice with what the Lumen export needs."""

    id: int
    regime: str
    status: str
    received_at: datetime
    submitter_name: str | None
    submitter_email: str | None
    submitter_phone: str | None
    submitter_address: str | None
    submitter_organization: str | None
    on_behalf_of: str | None
    works: list[Any]
    explanation: str | None
    items: list[tuple[int | None, str, str]]  # (work index, URL as submitted, item status)


def lumen_rows(session: Session, period: Period, *, batch: int = 2000) -> Iterator[LumenRow]:
    """Notices received in ``period`` with their items, oldest first, fetched in batches."""
    ids: Sequence[int] = session.scalars(
        select(Notice.id).where(_in(Notice.received_at, period)).order_by(Notice.received_at, Notice.id)
    ).all()
    for start in range(0, len(ids), batch):
        chunk = list(ids[start : start + batch])
        items: dict[int, list[tuple[int | None, str, str]]] = {}
        for notice_id, work, url, status in session.execute(
            select(NoticeItem.notice_id, NoticeItem.work_index, NoticeItem.url, NoticeItem.status)
            .where(NoticeItem.notice_id.in_(chunk))
            .order_by(NoticeItem.notice_id, NoticeItem.position)
        ):
            items.setdefault(notice_id, []).append((work, url, status.value))
        notices = {n.id: n for n in session.scalars(select(Notice).where(Notice.id.in_(chunk)))}
        for notice_id in chunk:
            n = notices[notice_id]
            yield LumenRow(
                id=n.id,
                regime=n.regime.value,
                status=n.status.value,
                received_at=n.received_at,
                submitter_name=n.submitter_name,
                submitter_email=n.submitter_email,
                submitter_phone=n.submitter_phone,
                submitter_address=n.submitter_address,
                submitter_organization=n.submitter_organization,
                on_behalf_of=n.on_behalf_of,
                works=list(n.works),
                explanation=n.explanation,
                items=items.get(n.id, []),
            )


@dataclass
class TemplateRows:
    """What the DSA 2024/2835 templates are filled from (notices received, complaints received)."""

    notices: list[tuple[str, bool, int]]  # (regime, from a trusted flagger, count)
    items: list[tuple[bool, str, int]]  # (from a trusted flagger, item status, count)
    time_to_action: list[tuple[bool, float]]  # (from a trusted flagger, seconds to first action)
    complaints: dict[str, int]  # by status
    complaint_seconds: list[float]  # receipt to decision, for those decided
    # Orders received: (jurisdiction, about a notice, legal basis, status, seconds to give effect).
    orders: list[tuple[str, bool, str, str, float | None]] = field(default_factory=list)
    # Stay-down matches found: (outcome, status, of a registered work, exact copy, count).
    matches: list[tuple[str, str, bool, bool, int]] = field(default_factory=list)
    # Matches found in the period whose block an upheld internal complaint lifted, by outcome.
    matches_lifted_on_complaint: dict[str, int] = field(default_factory=dict)
    policy_steps: list[tuple[str, bool, int]] = field(default_factory=list)  # (kind, automatic, count)
    # Notice items decided: (status, decided by automated means, from a trusted flagger, count).
    decided_items: list[tuple[str, bool, bool, int]] = field(default_factory=list)
    # Notices received: (from a trusted flagger, every item decided by automated means, count).
    notice_automation: list[tuple[bool, bool, int]] = field(default_factory=list)


def template_rows(session: Session, period: Period) -> TemplateRows:
    """Aggregates of the notices and complaints received in ``period``."""
    received = _in(Notice.received_at, period)
    notices = [
        (regime.value, bool(trusted), n)
        for regime, trusted, n in session.execute(
            select(Notice.regime, Notice.trusted, func.count())
            .where(received)
            .group_by(Notice.regime, Notice.trusted)
        )
    ]
    items = [
        (bool(trusted), status.value, n)
        for trusted, status, n in session.execute(
            select(Notice.trusted, NoticeItem.status, func.count())
            .join(Notice, Notice.id == NoticeItem.notice_id)
            .where(received)
            .group_by(Notice.trusted, NoticeItem.status)
        )
    ]
    time_to_action = [
        (bool(trusted), float(seconds))
        for trusted, seconds in session.execute(
            select(Notice.trusted, Notice.time_to_action_seconds).where(
                received, Notice.time_to_action_seconds.is_not(None)
            )
        )
        if seconds is not None
    ]
    complaints = _complaints_by_status(session, period)
    complaint_seconds = [
        (as_utc(resolved) - as_utc(got)).total_seconds()
        for got, resolved in session.execute(
            select(Complaint.received_at, Complaint.decided_at).where(
                _in(Complaint.received_at, period), Complaint.decided_at.is_not(None)
            )
        )
        if resolved is not None
    ]
    return TemplateRows(
        notices,
        items,
        time_to_action,
        complaints,
        complaint_seconds,
        orders=_template_orders(session, period),
        matches=[
            (outcome.value, status.value, bool(work), bool(exact), n)
            for outcome, status, work, exact, n in session.execute(
                select(
                    StaydownMatch.outcome,
                    StaydownMatch.status,
                    StaydownMatch.work_id.is_not(None),
                    StaydownMatch.exact,
                    func.count(),
                )
                .where(_in(StaydownMatch.found_at, period))
                .group_by(
                    StaydownMatch.outcome,
                    StaydownMatch.status,
                    StaydownMatch.work_id.is_not(None),
                    StaydownMatch.exact,
                )
            )
        ],
        matches_lifted_on_complaint={
            outcome.value: n
            for outcome, n in session.execute(
                select(StaydownMatch.outcome, func.count(func.distinct(StaydownMatch.id)))
                .join(Complaint, Complaint.match_id == StaydownMatch.id)
                .where(
                    _in(StaydownMatch.found_at, period),
                    Complaint.subject == ComplaintSubject.staydown_match,
                    Complaint.status == ComplaintStatus.upheld,
                )
                .group_by(StaydownMatch.outcome)
            )
        },
        policy_steps=_policy_steps(session, period),
        decided_items=[
            (status.value, bool(automated), bool(trusted), n)
            for status, automated, trusted, n in session.execute(
                select(NoticeItem.status, NoticeItem.automated, Notice.trusted, func.count())
                .join(Notice, Notice.id == NoticeItem.notice_id)
                .where(_in(NoticeItem.decided_at, period))
                .group_by(NoticeItem.status, NoticeItem.automated, Notice.trusted)
            )
        ],
        notice_automation=_notice_automation(session, period),
    )


def _template_orders(session: Session, period: Period) -> list[tuple[str, bool, str, str, float | None]]:
    rows = session.execute(
        select(
            DisclosureOrder.jurisdiction,
            DisclosureOrder.notice_id.is_not(None),
            DisclosureOrder.legal_basis,
            DisclosureOrder.status,
            DisclosureOrder.received_at,
            DisclosureOrder.decided_at,
        ).where(_in(DisclosureOrder.received_at, period))
    )
    effected = {OrderStatus.complied, OrderStatus.partially_complied}
    return [
        (
            jurisdiction,
            bool(about_notice),
            basis.value,
            status.value,
            (as_utc(decided) - as_utc(got)).total_seconds() if decided and status in effected else None,
        )
        for jurisdiction, about_notice, basis, status, got, decided in rows
    ]


def _notice_automation(session: Session, period: Period) -> list[tuple[bool, bool, int]]:
    """Notices received in ``period``: (from a trusted flagger, every item decided by automated
    means, count). A notice with no decided item, or one decided by a person, is not automated."""
    decided = func.sum(case((NoticeItem.decided_at.is_not(None), 1), else_=0))
    automated = func.sum(case((and_(NoticeItem.decided_at.is_not(None), NoticeItem.automated), 1), else_=0))
    per_notice = (
        select(Notice.trusted.label("trusted"), decided.label("decided"), automated.label("automated"))
        .outerjoin(NoticeItem, NoticeItem.notice_id == Notice.id)
        .where(_in(Notice.received_at, period))
        .group_by(Notice.id, Notice.trusted)
        .subquery()
    )
    solely = and_(per_notice.c.decided > 0, per_notice.c.automated == per_notice.c.decided)
    solely_automated = case((solely, True), else_=False)
    return [
        (bool(trusted), bool(alone), n)
        for trusted, alone, n in session.execute(
            select(per_notice.c.trusted, solely_automated, func.count()).group_by(
                per_notice.c.trusted, solely_automated
            )
        )
    ]
