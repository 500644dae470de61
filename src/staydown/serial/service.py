"""The serial-infringer review and the links that keep a terminated customer from returning.

A review opens by itself when a customer's actioned notices cross the configured thresholds
(:func:`consider`, called as a notice's strikes are recorded): a case for an agent with the
dossier as it stood and a deadline. The agent's decision (terminate, suspend, keep) is a step of
the repeat-infringer policy with its reasons, so a termination or suspension reaches every edge
through the zone records, with a statement of reasons, as any other step does.

At sign-up, at verification and when a zone is added, the customer's identity marks are compared
with those of every suspended or terminated customer (:func:`check_links`). A shared mark adds the
risk flag ``linked_to:<customer id>`` with the evidence, and the customer's zones stay pending
until an agent reviews the link (:func:`review_link`); the review is audited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.accounts.models import Customer, Standing, Zone, ZoneStatus
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.db.engine import Database
from staydown.enforcement import service as enforcement
from staydown.enforcement.models import Channel
from staydown.fingerprints.models import MatchStatus, StaydownMatch
from staydown.hosts import service as hosts
from staydown.netguard import OriginGuard
from staydown.policy import service as policy
from staydown.policy.models import PolicyStep
from staydown.serial import dossier, linking, probes
from staydown.serial.flows import Thresholds, review_trigger
from staydown.serial.models import (
    CustomerLink,
    IdentityMark,
    LinkStatus,
    ReviewDecision,
    ReviewStatus,
    SerialReview,
    ServedDay,
    ServedReport,
    ServedResource,
)
from staydown.serial.schemas import (
    MAX_REPORT_RESOURCES,
    Dossier,
    LinkRead,
    ReviewRead,
    ServedReportCreate,
    ServedReportResult,
    TimelineEvent,
    ZoneDossier,
)
from staydown.types import as_utc

REVIEW_DUE_TIMER = "serial_review_due"
LINK_FLAG = "linked_to:"
WATCHED = (Standing.suspended, Standing.terminated)
SERVED_REPORTS_KEPT = timedelta(days=7)
# The public mail providers in force (``STAYDOWN_PUBLIC_MAIL_DOMAINS`` over the built-in list),
# set by the assembly from the process's settings.
_public_mail = [linking.PUBLIC_MAIL_DOMAINS]


def configure(settings: Settings) -> None:
    """Take the process's settings: which mail domains are public providers."""
    _public_mail[0] = linking.public_mail_domains(settings.public_mail_domains)


class SerialError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        works=settings.serial_review_works,
        rightsholders=settings.serial_review_rightsholders,
        matches=settings.serial_review_matches,
        window_days=settings.serial_review_window_days,
        deadline_days=settings.serial_review_deadline_days,
    )


# --- the dossier ------------------------------------------------------------------------------


def build_dossier(session: Session, customer: Customer, *, as_of: datetime) -> Dossier:
    """The customer's dossier as of ``as_of``."""
    record = dossier.load(session, customer.id, as_of=as_of)
    mine = list(accounts.list_zones(session, customer_id=customer.id))
    served = {zone.id: dossier.load_served(session, zone.id, as_of=as_of) for zone in mine}
    zones = [
        ZoneDossier(
            zone_id=zone.id,
            hostname=zone.hostname,
            status=zone.status.value,
            figures=dossier.figures(record, as_of=as_of, zone_id=zone.id, served=served[zone.id]),
            host=dossier.host_record(record.forwards, zone_id=zone.id),
        )
        for zone in mine
    ]
    reviews = list_reviews(session, customer_id=customer.id)
    links = links_of(session, customer.id)
    events = dossier.events(session, customer, record, as_of=as_of)
    for review in reviews:
        events.append(
            TimelineEvent(at=as_utc(review.opened_at), kind="serial.review_opened", detail=review.trigger)
        )
        if review.decided_at is not None and review.decision is not None:
            events.append(
                TimelineEvent(
                    at=as_utc(review.decided_at),
                    kind=f"serial.review_{review.decision.value}",
                    detail=review.reason or "",
                )
            )
    for link in links:
        events.append(
            TimelineEvent(
                at=as_utc(link.found_at),
                kind="customer.linked",
                detail=f"to customer {link.linked_customer_id} ({link.status.value})",
            )
        )
    events = sorted((e for e in events if e.at <= as_of), key=lambda e: e.at)
    return Dossier(
        customer_id=customer.id,
        name=customer.name,
        standing=customer.standing.value,
        risk_flags=list(customer.risk_flags),
        as_of=as_of,
        active_strikes=policy.active_strike_count(session, customer.id),
        figures=dossier.figures(record, as_of=as_of, served=dossier.combine(served.values())),
        served_share_note=dossier.SERVED_SHARE_NOTE,
        zones=zones,
        host=dossier.host_record(record.forwards),
        reviews=[ReviewRead.model_validate(r) for r in reviews],
        links=[LinkRead.model_validate(link) for link in links],
        timeline=dossier.timeline(record),
        events=events,
    )


# --- the review -------------------------------------------------------------------------------


def consider(
    session: Session, customer_ids: Sequence[int], *, now: datetime, settings: Settings
) -> list[SerialReview]:
    """Open a review for each of ``customer_ids`` whose record now crosses a threshold and that
    has no review open (and is not terminated)."""
    opened = []
    for customer_id in sorted(set(customer_ids)):
        customer = accounts.get_customer(session, customer_id)
        if customer is None or customer.standing is Standing.terminated:
            continue
        if session.scalar(
            select(SerialReview.id).where(
                SerialReview.customer_id == customer_id, SerialReview.status == ReviewStatus.open
            )
        ):
            continue
        since = now - timedelta(days=settings.serial_review_window_days)
        record = dossier.load(session, customer_id, as_of=now, since=since)
        trigger = review_trigger(
            dossier.noticed(record),
            [at for _, at in record.matches],
            now=now,
            thresholds=thresholds(settings),
        )
        if trigger is not None:
            opened.append(_open(session, customer, trigger.reason, now=now, settings=settings))
    return opened


def sweep(database: Database, *, now: datetime, settings: Settings) -> int:
    """Consider every customer with enough recent stay-down matches (matches arrive between
    notices, from the edges); return how many reviews opened. A worker job."""
    since = now - timedelta(days=settings.serial_review_window_days)
    with database.reader() as session:
        ids = list(
            session.scalars(
                select(StaydownMatch.customer_id)
                .where(
                    StaydownMatch.customer_id.is_not(None),
                    StaydownMatch.found_at > since,
                    StaydownMatch.status != MatchStatus.dismissed,
                )
                .group_by(StaydownMatch.customer_id)
                .having(func.count() >= settings.serial_review_matches)
            )
        )
        open_ids = set(
            session.scalars(select(SerialReview.customer_id).where(SerialReview.status == ReviewStatus.open))
        )
    wanted = [i for i in ids if i is not None and i not in open_ids]
    if not wanted:
        return 0
    with database.writer() as session:
        policy.lock_customers(session, wanted)  # as a notice's strikes do: one review per customer
        opened = consider(session, wanted, now=now, settings=settings)
        session.commit()
    return len(opened)


def _open(
    session: Session, customer: Customer, reason: str, *, now: datetime, settings: Settings
) -> SerialReview:
    record = dossier.load(session, customer.id, as_of=now)  # the evidence: all that is known, not the window
    figures = dossier.figures(record, as_of=now)
    review = SerialReview(
        customer_id=customer.id,
        status=ReviewStatus.open,
        trigger=reason,
        evidence={
            "figures": figures.model_dump(mode="json"),
            "host": dossier.host_record(record.forwards).model_dump(mode="json"),
            "notices": sorted(record.notices)[:1000],
            "zones": [z.id for z in customer.zones],
        },
        opened_at=now,
        due_at=now + timedelta(days=settings.serial_review_deadline_days),
    )
    session.add(review)
    session.flush()
    audit.record(
        session,
        at=now,
        actor="system",
        action="serial.review_opened",
        entity=("customer", customer.id),
        data={"review_id": review.id, "trigger": reason, "due_at": review.due_at.isoformat()},
    )
    enforcement.enqueue_message(
        session,
        at=now,
        kind="serial_review_opened",
        channel=Channel.email,
        recipient=settings.abuse_desk_email,
        subject=f"[{settings.provider_name}] Serial-infringer review #{review.id}: customer {customer.id}",
        body=f"Customer {customer.id} ({customer.name}) crossed a serial-infringer threshold: {reason}.\n\n"
        f"Decide by {review.due_at.isoformat()} (terminate, suspend or keep, with reasons).\n",
        payload={"review_id": review.id, "customer_id": customer.id},
        customer_id=customer.id,
    )
    enforcement.schedule_timer(
        session, kind=REVIEW_DUE_TIMER, due_at=review.due_at, subject=("serial_review", review.id), now=now
    )
    return review


def run_review_due(session: Session, review_id: int, *, now: datetime, settings: Settings) -> None:
    """A review still open at its deadline is reported to the abuse desk and audited as overdue."""
    review = session.get(SerialReview, review_id)
    if review is None or review.status is not ReviewStatus.open:
        return
    audit.record(
        session,
        at=now,
        actor="system",
        action="serial.review_overdue",
        entity=("customer", review.customer_id),
        data={"review_id": review.id, "due_at": review.due_at.isoformat()},
    )
    enforcement.enqueue_message(
        session,
        at=now,
        kind="serial_review_overdue",
        channel=Channel.email,
        recipient=settings.abuse_desk_email,
        subject=f"[{settings.provider_name}] OVERDUE serial-infringer review #{review.id}",
        body=f"The review of customer {review.customer_id} was due {review.due_at.isoformat()} and is "
        "still open. The provider's knowledge of the site is on record from the day the review opened.\n",
        payload={"review_id": review.id, "customer_id": review.customer_id},
        customer_id=review.customer_id,
    )


def get_review(session: Session, review_id: int) -> SerialReview | None:
    return session.get(SerialReview, review_id) if 1 <= review_id < 2**31 else None


def list_reviews(
    session: Session, *, customer_id: int | None = None, status: ReviewStatus | None = None
) -> Sequence[SerialReview]:
    stmt = select(SerialReview).order_by(SerialReview.id.desc()).limit(500)
    if customer_id is not None:
        stmt = stmt.where(SerialReview.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(SerialReview.status == status)
    return session.scalars(stmt).all()


def decide(
    session: Session,
    review: SerialReview,
    decision: ReviewDecision,
    *,
    reason: str,
    now: datetime,
    actor: str,
    settings: Settings,
) -> SerialReview:
    """Decide an open review as a policy step: terminate, suspend, or keep (with reasons)."""
    if review.status is not ReviewStatus.open:
        raise SerialError("review_decided", f"review {review.id} was decided already")
    customer = accounts.get_customer(session, review.customer_id)
    assert customer is not None
    why = f"serial-infringer review #{review.id}: {reason}"
    if customer.standing is Standing.terminated:
        # Terminated meanwhile (by strikes or an agent): nothing is left to decide but the record.
        if decision is not ReviewDecision.terminate:
            raise SerialError(
                "terminated", f"customer {customer.id} is terminated; only 'terminate' closes this review"
            )
        steps = policy.list_steps(session, customer.id)
        return _close(
            session, review, decision, reason, step_id=steps[-1].id if steps else None, now=now, actor=actor
        )
    take = {
        ReviewDecision.terminate: policy.confirm_termination,
        ReviewDecision.suspend: policy.suspend,
        ReviewDecision.keep: policy.keep,
    }[decision]
    step: PolicyStep = take(
        session,
        customer,
        now=now,
        actor=actor,
        reason=why,
        policy=settings.policy,
        provider=settings.provider_name,
    )
    _close(session, review, decision, reason, step_id=step.id, now=now, actor=actor)
    if decision is not ReviewDecision.keep:
        store_marks(session, customer)
    return review


def _close(
    session: Session,
    review: SerialReview,
    decision: ReviewDecision,
    reason: str,
    *,
    step_id: int | None,
    now: datetime,
    actor: str,
) -> SerialReview:
    review.status, review.decision, review.reason = ReviewStatus.decided, decision, reason
    review.decided_at, review.decided_by, review.policy_step_id = now, actor, step_id
    enforcement.cancel_timers(session, kind=REVIEW_DUE_TIMER, subject=("serial_review", review.id), now=now)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="serial.review_decided",
        entity=("customer", review.customer_id),
        data={"review_id": review.id, "decision": decision.value, "reason": reason, "step_id": step_id},
    )
    return review


# --- served requests ------------------------------------------------------------------------


def record_served(
    session: Session, report: ServedReportCreate, *, key_id: int | None, now: datetime
) -> ServedReportResult:
    """Add an edge worker's report to the per-zone, per-day, per-resource counts, once per
    (reporter, seq): a report sent again (its answer lost) changes nothing. Zones this control
    plane does not know (deleted meanwhile) are left out and named."""
    if sum(len(z.resources) for z in report.zones) > MAX_REPORT_RESOURCES:
        raise SerialError(
            "report_too_large", f"a report names at most {MAX_REPORT_RESOURCES} resources", status=422
        )
    insert = _insert(session)
    taken = session.execute(
        insert(ServedReport)
        .values(reporter=report.reporter, seq=report.seq, edge=report.edge, key_id=key_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["reporter", "seq"])
        .returning(ServedReport.seq)
    ).scalar_one_or_none()
    if taken is None:
        return ServedReportResult(counted=False, zones=0, unknown_zones=[])
    wanted = sorted({z.zone_id for z in report.zones})
    known: set[int] = set()
    for start in range(0, len(wanted), 500):
        known.update(session.scalars(select(Zone.id).where(Zone.id.in_(wanted[start : start + 500]))))
    day = now.date()
    days: dict[int, list[int]] = {}
    resources: dict[tuple[int, str], list[Any]] = {}
    for zone in report.zones:
        if zone.zone_id not in known:
            continue
        totals = days.setdefault(zone.zone_id, [0, 0])
        totals[0] += zone.requests
        totals[1] += zone.error
        for key_hash, path_hash, count in zone.resources:
            row = resources.setdefault((zone.zone_id, key_hash), [path_hash, 0])
            row[1] += count
    if days:
        statement = insert(ServedDay)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["zone_id", "day"],
                set_={
                    "requests": ServedDay.requests + statement.excluded.requests,
                    "error": ServedDay.error + statement.excluded.error,
                },
            ),
            [{"zone_id": z, "day": day, "requests": n, "error": e} for z, (n, e) in sorted(days.items())],
        )
    if resources:
        statement = insert(ServedResource)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["zone_id", "day", "key_hash"],
                set_={"requests": ServedResource.requests + statement.excluded.requests},
            ),
            [
                {"zone_id": z, "day": day, "key_hash": k, "path_hash": p, "requests": n}
                for (z, k), (p, n) in sorted(resources.items())
            ],
        )
    # Reports older than a retried one could be are forgotten: an edge retries within minutes.
    session.execute(delete(ServedReport).where(ServedReport.received_at < now - SERVED_REPORTS_KEPT))
    return ServedReportResult(counted=True, zones=len(days), unknown_zones=sorted(set(wanted) - known))


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# --- links ------------------------------------------------------------------------------------


def identity_record(session: Session, customer: Customer) -> linking.IdentityRecord:
    """What could recognise ``customer`` again: its identity fields and its zones."""
    zones = list(accounts.list_zones(session, customer_id=customer.id))
    known = hosts.known_origin_addresses(session, [z.id for z in zones])
    hostnames: list[str] = []
    for zone in zones:
        hostnames += zone.all_hostnames or [zone.hostname]
    sites = linking.IdentityRecord(
        origins=tuple(z.origin for z in zones),
        origin_addresses=tuple(sorted({a for addresses in known.values() for a in addresses})),
        hostnames=tuple(hostnames),
        public_mail_domains=_public_mail[0],
    )
    if accounts.identity_erased(customer):
        return sites  # what stands in for an erased identity recognises nobody
    return replace(
        sites,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        address=customer.address,
        payment_reference=customer.payment_reference,
        signup_ip=customer.signup_ip,
    )


def erase_identity_marks(session: Session, customer_id: int) -> int:
    """With the customer's identity, erase the marks drawn from it and the identity values in the
    evidence of its links (either side); return how many marks went. Marks of its sites (origins,
    zone hostnames) stay: the zones are kept, and they alone can still link a returning site."""
    erased = session.execute(
        delete(IdentityMark).where(
            IdentityMark.customer_id == customer_id, IdentityMark.kind.in_(linking.IDENTITY_KINDS)
        )
    )
    links = session.scalars(
        select(CustomerLink).where(
            (CustomerLink.customer_id == customer_id) | (CustomerLink.linked_customer_id == customer_id)
        )
    )
    for link in links:
        kept = linking.erase_evidence(link.evidence)
        if kept != link.evidence:
            link.evidence = kept
    session.flush()
    return int(erased.rowcount or 0)  # type: ignore[attr-defined]


def store_marks(session: Session, customer: Customer) -> set[tuple[str, str]]:
    """Replace the customer's identity marks with those of its record now; return them."""
    found = linking.marks(identity_record(session, customer))
    session.execute(delete(IdentityMark).where(IdentityMark.customer_id == customer.id))
    session.add_all(
        IdentityMark(customer_id=customer.id, kind=kind, digest=linking.digest(kind, value))
        for kind, value in found
    )
    session.flush()
    return found


def _mark_unmarked_watched(session: Session) -> None:
    """Suspended and terminated customers whose marks were never stored (older records) get them."""
    marked = select(IdentityMark.customer_id)
    for customer in session.scalars(
        select(Customer).where(Customer.standing.in_(WATCHED), Customer.id.not_in(marked)).limit(1000)
    ):
        store_marks(session, customer)


def check_links(
    session: Session, customer: Customer, zone: Zone | None, stage: str, now: datetime, actor: str
) -> None:
    """Compare ``customer`` with every suspended or terminated customer; link it to each it shares
    a mark with (risk flag ``linked_to:<id>``, the evidence, its zones kept pending)."""
    if customer.standing in WATCHED:
        store_marks(session, customer)
        return
    _mark_unmarked_watched(session)
    mine = store_marks(session, customer)
    by_digest = {linking.digest(kind, value): (kind, value) for kind, value in mine}
    shared: dict[int, list[tuple[str, str]]] = defaultdict(list)
    digests = list(by_digest)
    for start in range(0, len(digests), 500):
        rows = session.execute(
            select(IdentityMark.customer_id, IdentityMark.digest)
            .join(Customer, Customer.id == IdentityMark.customer_id)
            .where(
                IdentityMark.digest.in_(digests[start : start + 500]),
                IdentityMark.customer_id != customer.id,
                Customer.standing.in_(WATCHED),
            )
        )
        for other, digest in rows:
            shared[other].append(by_digest[digest])
    for other, marks in sorted(shared.items()):
        _link(session, customer, other, marks, zone=zone, stage=stage, now=now, actor=actor)


def _link(
    session: Session,
    customer: Customer,
    other: int,
    marks: list[tuple[str, str]],
    *,
    zone: Zone | None,
    stage: str,
    now: datetime,
    actor: str,
) -> None:
    evidence = linking.evidence(marks)
    link = session.scalar(
        select(CustomerLink).where(
            CustomerLink.customer_id == customer.id, CustomerLink.linked_customer_id == other
        )
    )
    if link is not None:
        known = {(e["mark"], e["value"]) for e in link.evidence}
        added = [e for e in evidence if (e["mark"], e["value"]) not in known]
        if not added:
            return
        link.evidence = [*link.evidence, *added]
    else:
        link = CustomerLink(
            customer_id=customer.id,
            linked_customer_id=other,
            evidence=evidence,
            found_during=stage,
            status=LinkStatus.open,
            found_at=now,
        )
        session.add(link)
    flag = f"{LINK_FLAG}{other}"
    if flag not in customer.risk_flags:
        customer.risk_flags = [*customer.risk_flags, flag]
    session.flush()
    # The chain is never rewritten: it names the kinds of mark shared, not the values.
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.linked",
        entity=("customer", customer.id),
        data={
            "link_id": link.id,
            "linked_customer_id": other,
            "marks": sorted({e["mark"] for e in link.evidence}),
            "during": stage,
            "zone_id": zone.id if zone is not None else None,
        },
    )


def run_content_probes(database: Database, *, now: datetime, settings: Settings, guard: OriginGuard) -> int:
    """Compare pending zones' content with terminated customers' noticed material (a worker job)."""
    return probes.run_content_probes(database, now=now, settings=settings, guard=guard, link=_link)


def link_blockers(session: Session, zone: Zone) -> list[str]:
    """Why a zone may not go live: its customer has an open link, or its content is still to be
    compared with terminated customers' noticed material."""
    open_links = session.scalars(
        select(CustomerLink.linked_customer_id).where(
            CustomerLink.customer_id == zone.customer_id, CustomerLink.status == LinkStatus.open
        )
    ).all()
    return [link_blocker(other) for other in open_links] + probes.blockers(session, zone)


def link_blocker(other: int) -> str:
    """The blocker a customer's open link to ``other`` sets on its zones (desk/labels.py reads it)."""
    return (
        f"the customer is linked to suspended or terminated customer {other}; an agent must review the link"
    )


def links_of(session: Session, customer_id: int) -> Sequence[CustomerLink]:
    return session.scalars(
        select(CustomerLink).where(CustomerLink.customer_id == customer_id).order_by(CustomerLink.id)
    ).all()


def review_link(
    session: Session,
    link_id: int,
    *,
    decision: str,
    reason: str,
    now: datetime,
    actor: str,
    settings: Settings,
) -> CustomerLink:
    """An agent clears a link (the zones may go live) or confirms it (the customer is terminated)."""
    link = session.get(CustomerLink, link_id) if 1 <= link_id < 2**31 else None
    if link is None:
        raise SerialError("not_found", f"link {link_id} does not exist", status=404)
    if link.status is not LinkStatus.open:
        raise SerialError("link_reviewed", f"link {link_id} was reviewed already")
    customer = accounts.get_customer(session, link.customer_id)
    assert customer is not None
    link.status = LinkStatus.cleared if decision == "clear" else LinkStatus.confirmed
    link.reviewed_at, link.reviewed_by, link.review_reason = now, actor, reason
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor,
        action="customer.link_reviewed",
        entity=("customer", customer.id),
        data={
            "link_id": link.id,
            "linked_customer_id": link.linked_customer_id,
            "decision": decision,
            "reason": reason,
        },
    )
    if link.status is LinkStatus.confirmed:
        policy.confirm_termination(
            session,
            customer,
            now=now,
            actor=actor,
            reason=f"the same operator as terminated customer {link.linked_customer_id}: {reason}",
            policy=settings.policy,
            provider=settings.provider_name,
        )
    else:
        for zone in customer.zones:
            if zone.status is ZoneStatus.pending:
                accounts.try_activate(
                    session, zone, now=now, actor=actor, min_level=settings.min_verification_level
                )
    return link
