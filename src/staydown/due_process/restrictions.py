"""Every restriction in force on a customer's zones, with its statement of reasons and how to
contest it.

A restriction is what a statement of reasons in force records (one is kept for every block and
every zone step): a notice's item, a copy that stay-down found (of a noticed image or of a registered
work), a zone's suspension or termination. What a customer may do against each follows the law
that applies to it: a DMCA block may be answered with a counter-notice (17 U.S.C. 512(g)), every
restriction with an internal complaint (the same procedure serves DSA Art. 20 and the provider's own
review); a stay-down block is contested by naming the match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from staydown.due_process.flows import CONTESTABLE_STEPS
from staydown.due_process.models import StatementOfReasons
from staydown.due_process.schemas import ContestRoute, RestrictionRead
from staydown.due_process.statements import Restriction, StatementStatus
from staydown.fingerprints import service as fingerprints
from staydown.notices import service as notices
from staydown.policy import service as policy

_STEP_OF = {Restriction.zone_suspended: "suspension", Restriction.zone_terminated: "termination"}


@dataclass(frozen=True, slots=True)
class Contest:
    """One way to contest a restriction: the request that does it."""

    how: str  # "counter_notice" | "complaint"
    method: str
    path: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Found:
    """What a restriction rests on, as looked up beside its statement."""

    regime: str | None = None  # the notice's, for a notice's item
    match_id: int | None = None
    work_id: int | None = None
    step_id: int | None = None  # the policy step behind a zone's suspension or termination


@dataclass(frozen=True, slots=True)
class RestrictionView:
    kind: str  # "notice_item" | "staydown_match" | "work_match" | "zone_suspension" | "zone_termination"
    statement: StatementOfReasons
    found: Found
    contest: list[Contest] = field(default_factory=list)


def contest_routes(kind: str, statement: StatementOfReasons, found: Found) -> list[Contest]:
    """How the customer may contest a restriction of ``kind``."""
    routes: list[Contest] = []
    if kind == "notice_item" and statement.notice_id is not None and statement.item_id is not None:
        items = {"notice_id": statement.notice_id, "items": [statement.item_id]}
        if found.regime is not None and notices.regime_rules(found.regime).counter_notice:
            routes.append(Contest("counter_notice", "POST", "/v1/counter-notices", items))
        routes.append(Contest("complaint", "POST", "/v1/complaints", items))
    elif kind in ("staydown_match", "work_match") and found.match_id is not None:
        routes.append(Contest("complaint", "POST", "/v1/complaints", {"match_id": found.match_id}))
    elif kind in ("zone_suspension", "zone_termination") and found.step_id is not None:
        routes.append(Contest("complaint", "POST", "/v1/complaints", {"policy_step_id": found.step_id}))
    return routes


def kind_of(statement: StatementOfReasons, found: Found) -> str:
    """What kind of restriction a statement records."""
    if statement.restriction is Restriction.zone_suspended:
        return "zone_suspension"
    if statement.restriction is Restriction.zone_terminated:
        return "zone_termination"
    if statement.item_id is not None:
        return "notice_item"
    return "work_match" if found.work_id is not None and statement.notice_id is None else "staydown_match"


def _found(session: Session, statement: StatementOfReasons, customer_id: int) -> Found:
    if statement.restriction in _STEP_OF:
        wanted = _STEP_OF[statement.restriction]
        steps = [
            s
            for s in policy.list_steps(session, customer_id)
            if s.kind.value == wanted and wanted in CONTESTABLE_STEPS
        ]
        return Found(step_id=steps[-1].id if steps else None)
    if statement.item_id is not None and statement.notice_id is not None:
        notice = notices.get(session, statement.notice_id)
        return Found(regime=notice.regime.value if notice is not None else None)
    match = fingerprints.match_in_force(session, zone_id=statement.zone_id, url=statement.url)
    if match is None:
        return Found()
    return Found(match_id=match.id, work_id=match.work_id)


def in_force(
    session: Session, customer_id: int, *, offset: int = 0, limit: int = 100
) -> tuple[list[RestrictionView], int]:
    """A page of the restrictions in force on ``customer_id``'s zones, oldest first, and how many."""
    where = (
        StatementOfReasons.customer_id == customer_id,
        StatementOfReasons.status == StatementStatus.in_force,
    )
    rows: Sequence[StatementOfReasons] = session.scalars(
        select(StatementOfReasons).where(*where).order_by(StatementOfReasons.id).offset(offset).limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(StatementOfReasons).where(*where)) or 0
    views = []
    for row in rows:
        found = _found(session, row, customer_id)
        kind = kind_of(row, found)
        views.append(RestrictionView(kind, row, found, contest_routes(kind, row, found)))
    return views, total


def restriction_read(view: RestrictionView) -> RestrictionRead:
    """The API's view of a restriction."""
    statement = view.statement
    return RestrictionRead(
        kind=view.kind,
        zone_id=statement.zone_id,
        url=statement.url,
        notice_id=statement.notice_id,
        item_id=statement.item_id,
        match_id=view.found.match_id,
        work_id=view.found.work_id,
        since=statement.created_at,
        statement_puid=statement.puid,
        decision_ground=statement.decision_ground,
        legal_ground=statement.illegal_content_legal_ground,
        explanation=statement.illegal_content_explanation or statement.incompatible_content_explanation,
        facts=statement.decision_facts,
        automated=statement.automated_decision != "AUTOMATED_DECISION_NOT_AUTOMATED",
        contest=[ContestRoute(how=c.how, method=c.method, path=c.path, body=c.body) for c in view.contest],
    )
