"""Read-only views the desk's lists need and no domain service offers: one query per page.

Each function here answers one page in one or two statements over indexed columns (a page of a
100,000-notice queue, a page of a notice's items with their customers, the strike board), so no
page does a query per row. Nothing here changes state: every decision goes through the domain's
service, exactly as the API's does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from staydown.accounts.models import Customer, Zone
from staydown.notices.flows import ItemStatus, NoticeStatus
from staydown.notices.models import Notice, NoticeItem
from staydown.policy.models import Strike, StrikeStatus

# Above this many items, a customer's notices are found by walking notices newest first.
DENSE_CUSTOMER_ITEMS = 20_000


@dataclass(frozen=True, slots=True)
class NoticeSearch:
    """What the notices list is narrowed to: notices naming any of ``notice_ids`` (found from a URL,
    in any spelling), from a submitter whose name, organisation or e-mail contains ``submitter``,
    with items on ``zone_id``, or with the sender's own ``external_id``."""

    notice_ids: tuple[int, ...] | None = None
    submitter: str | None = None
    zone_id: int | None = None
    external_id: str | None = None

    def narrow(self, stmt: Select[Notice]) -> Select[Notice]:
        if self.notice_ids is not None:
            stmt = stmt.where(Notice.id.in_(self.notice_ids or (-1,)))
        if self.submitter:
            pattern = (
                "%"
                + self.submitter.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
                + "%"
            )
            stmt = stmt.where(
                or_(
                    func.lower(Notice.submitter_name).like(pattern, escape="\\"),
                    func.lower(Notice.submitter_organization).like(pattern, escape="\\"),
                    func.lower(Notice.submitter_email).like(pattern, escape="\\"),
                )
            )
        if self.zone_id is not None:
            stmt = stmt.where(
                Notice.id.in_(select(NoticeItem.notice_id).where(NoticeItem.zone_id == self.zone_id))
            )
        if self.external_id:
            stmt = stmt.where(Notice.external_id == self.external_id)
        return stmt


def notice_hosts(session: Session, notice_ids: Sequence[int]) -> dict[int, list[str]]:
    """The hosts each notice's items name (one query for a page), sorted."""
    hosts: dict[int, set[str]] = {notice_id: set() for notice_id in notice_ids}
    if notice_ids:
        rows = session.execute(
            select(NoticeItem.notice_id, NoticeItem.hostname)
            .where(NoticeItem.notice_id.in_(list(notice_ids)))
            .distinct()
        )
        for notice_id, hostname in rows:
            hosts[notice_id].add(hostname)
    return {notice_id: sorted(names) for notice_id, names in hosts.items()}


def item_status_counts(
    session: Session, notice_ids: Sequence[int], *, customer_id: int | None = None
) -> dict[int, dict[str, int]]:
    """Map each notice to its item counts by status (one grouped query for a whole page)."""
    if not notice_ids:
        return {}
    stmt = (
        select(NoticeItem.notice_id, NoticeItem.status, func.count())
        .where(NoticeItem.notice_id.in_(list(notice_ids)))
        .group_by(NoticeItem.notice_id, NoticeItem.status)
    )
    if customer_id is not None:
        # "+ 0": look the page's notices up by notice id, not all of the customer's items.
        stmt = stmt.where(NoticeItem.customer_id + 0 == customer_id)
    counts: dict[int, dict[str, int]] = {notice_id: {} for notice_id in notice_ids}
    for notice_id, status, count in session.execute(stmt):
        counts[notice_id][status.value] = count
    return counts


def item_page(
    session: Session,
    notice_id: int,
    *,
    customer_id: int | None,
    status: ItemStatus | None,
    offset: int,
    limit: int,
) -> Sequence[Row[Any]]:
    """One page of a notice's items with the zone's hostname and the customer's name."""
    stmt = (
        select(
            NoticeItem.id,
            NoticeItem.position,
            NoticeItem.url,
            NoticeItem.canonical_url,
            NoticeItem.target,
            NoticeItem.hostname,
            NoticeItem.zone_id,
            NoticeItem.customer_id,
            NoticeItem.status,
            NoticeItem.work_index,
            NoticeItem.duplicate_of_id,
            NoticeItem.decided_at,
            NoticeItem.decided_by,
            NoticeItem.decision_reason,
            NoticeItem.automated,
            Customer.name.label("customer_name"),
            Zone.status.label("zone_status"),
        )
        .outerjoin(Customer, Customer.id == NoticeItem.customer_id)
        .outerjoin(Zone, Zone.id == NoticeItem.zone_id)
        .where(NoticeItem.notice_id == notice_id)
        .order_by(NoticeItem.position)
        .limit(limit)
        .offset(offset)
    )
    if customer_id is not None:
        stmt = stmt.where(NoticeItem.customer_id + 0 == customer_id)  # stay on the notice's index
    if status is not None:
        stmt = stmt.where(NoticeItem.status == status)
    return list(session.execute(stmt))


def item_ids_in(session: Session, notice_id: int, status: ItemStatus) -> list[int]:
    """Every item of a notice in ``status`` (for a decision on all of them at once)."""
    return list(
        session.scalars(
            select(NoticeItem.id)
            .where(NoticeItem.notice_id == notice_id, NoticeItem.status == status)
            .order_by(NoticeItem.id)
        )
    )


def items_of_notice(session: Session, notice_id: int, item_ids: Sequence[int]) -> int:
    """How many of ``item_ids`` (distinct) are items of the notice."""
    wanted = sorted(set(item_ids))
    found = 0
    for start in range(0, len(wanted), 1000):
        batch = wanted[start : start + 1000]
        found += (
            session.scalar(
                select(func.count()).where(NoticeItem.notice_id == notice_id, NoticeItem.id.in_(batch))
            )
            or 0
        )
    return found


def strike_board(session: Session, *, offset: int, limit: int) -> tuple[Sequence[Row[Any]], int]:
    """Customers with active strikes, most first, and how many such customers there are."""
    counted = (
        select(
            Strike.customer_id,
            func.sum(Strike.weight).label("strikes"),
            func.max(Strike.created_at).label("last"),
        )
        .where(Strike.status == StrikeStatus.active)
        .group_by(Strike.customer_id)
        .subquery()
    )
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    rows = session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.organization,
            Customer.standing,
            Customer.verification_level,
            counted.c.strikes,
            counted.c.last,
        )
        .join(counted, counted.c.customer_id == Customer.id)
        .order_by(counted.c.strikes.desc(), counted.c.last.desc(), Customer.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def customer_page(
    session: Session, *, search: str | None, offset: int, limit: int
) -> tuple[Sequence[Customer], int]:
    """One page of customers, optionally those whose name, organisation or e-mail contains ``search``."""
    stmt = select(Customer)
    if search:
        pattern = f"%{search.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Customer.name).like(pattern),
                func.lower(Customer.organization).like(pattern),
                func.lower(Customer.email).like(pattern),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Customer.id).limit(limit).offset(offset)).all()
    return rows, total


def active_strike_counts(session: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Strike.customer_id, func.sum(Strike.weight))
        .where(Strike.customer_id.in_(list(customer_ids)), Strike.status == StrikeStatus.active)
        .group_by(Strike.customer_id)
    )
    return {int(customer_id): int(count) for customer_id, count in rows}


def item_origin(session: Session, item_id: int) -> tuple[int, str, str] | None:
    """The zone, hostname and target of one item (what the edge would fetch for it)."""
    row = session.execute(
        select(NoticeItem.zone_id, NoticeItem.hostname, NoticeItem.target).where(NoticeItem.id == item_id)
    ).first()
    if row is None or row.zone_id is None:
        return None
    return row.zone_id, row.hostname, row.target


def items_by_id(session: Session, item_ids: Sequence[int]) -> dict[int, Row[int, int, str]]:
    """Map item ids to (id, notice_id, url) in one query."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(NoticeItem.id, NoticeItem.notice_id, NoticeItem.url).where(NoticeItem.id.in_(list(item_ids)))
    ).all()
    return {row.id: row for row in rows}


def notice_page(
    session: Session,
    *,
    status: NoticeStatus | None = None,
    customer_id: int | None = None,
    submitter_key_id: int | None = None,
    search: NoticeSearch | None = None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Notice], int | None, bool]:
    """One page of notices, newest first: the rows, how many match (when cheap to know), whether more follow.

    Newest first lets an index carry the order (the primary key, or the submitter's index, whose
    entries are in id order), so a page costs the same at 100,000 rows as at 100. For a customer,
    the notices are found through its items: by the customer's index when it has few, and by
    walking notices newest first when it has many (its notices are then dense), where an exact
    count of distinct notices would cost more than the page, so none is given.
    """
    stmt = select(Notice)
    if status is not None:
        stmt = stmt.where(Notice.status == status)
    if submitter_key_id is not None:
        stmt = stmt.where(Notice.submitter_key_id == submitter_key_id)
    if search is not None:
        stmt = search.narrow(stmt)
    total: int | None
    if customer_id is None:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    else:
        items = (
            session.scalar(
                select(func.count()).select_from(NoticeItem).where(NoticeItem.customer_id == customer_id)
            )
            or 0
        )
        if items <= DENSE_CUSTOMER_ITEMS:
            stmt = stmt.where(
                Notice.id.in_(select(NoticeItem.notice_id).where(NoticeItem.customer_id == customer_id))
            )
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        else:
            stmt = stmt.where(
                select(NoticeItem.id)
                # "+ 0" keeps the planner on the (notice_id, position) index for this probe.
                .where(NoticeItem.notice_id == Notice.id, NoticeItem.customer_id + 0 == customer_id)
                .exists()
            )
            total = None
    rows = session.scalars(stmt.order_by(Notice.id.desc()).limit(limit + 1).offset(offset)).all()
    return rows[:limit], total, len(rows) > limit
