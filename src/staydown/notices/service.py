"""The notices domain's front door: every other domain calls these functions and no others.

A notice follows one path: ``intake`` takes it in (elements, URLs, items, acceptance), ``decisions``
carries what happens to it afterwards (an agent's decision, a supplement, the timers, the sender's
objection), ``blocks`` answers which items block a resource and moves items for due process, and
``steps`` moves items through the workflow for all three. Beside that path, ``idempotency`` keeps
a bulk sender's replays to one notice and ``webhooks`` tells a submitter's webhook what happened.
This module re-exports their public functions and holds the reading side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.fingerprints import service as fingerprints
from staydown.notices import messages
from staydown.notices.blocks import apply_item_event, blocking_items, holding_items, id_runs, item_decisions
from staydown.notices.decisions import (
    CACHING_TRIGGERS,
    INQUIRY_TIMER,
    OVERDUE_LETTER,
    advisory_elements,
    decide,
    expire_incomplete,
    explanations,
    object_to_inquiry,
    run_deadline,
    run_inquiry,
    supplement,
)
from staydown.notices.flows import (
    NoticeStatus,
)
from staydown.notices.idempotency import WINDOW as IDEMPOTENCY_WINDOW
from staydown.notices.idempotency import Replay, check_key, claim, fingerprint, recall, settle_claim
from staydown.notices.idempotency import forget as forget_idempotent_answers
from staydown.notices.intake import IntakeGate, add_intake_gate, submit, submit_many
from staydown.notices.models import Notice, NoticeItem

# A notifier's own erasure (GDPR Art. 17, in ``disclosure``) reads and erases its notices through these.
from staydown.notices.personal import erase_notifier_fields as erase_notifier_fields  # noqa: PLC0414
from staydown.notices.personal import notifier_notices as notifier_notices  # noqa: PLC0414
from staydown.notices.records import NoticeError, Submitter, Suspension
from staydown.notices.regimes import DEFAULT_REGIME, RULES, rules_of
from staydown.notices.regimes.base import RegimeRules
from staydown.notices.regimes.services import Duties, duties, widest
from staydown.notices.steps import (
    AUDIT_BATCH,
    DEADLINE_TIMER,
    INCOMPLETE_TIMER,
    items_of,
    notice_service_type,
    tell,
)
from staydown.notices.webhooks import EVENTS as WEBHOOK_EVENTS
from staydown.notices.webhooks import get as get_webhook
from staydown.notices.webhooks import register as register_webhook
from staydown.notices.webhooks import remove as remove_webhook
from staydown.notices.webhooks import signing_secret as webhook_secret
from staydown.types import Recipient, Regime, ServiceType
from staydown.urls import CanonicalURL

__all__ = [
    "AUDIT_BATCH",
    "CACHING_TRIGGERS",
    "DEADLINE_TIMER",
    "DEFAULT_REGIME",
    "IDEMPOTENCY_WINDOW",
    "INCOMPLETE_TIMER",
    "INQUIRY_TIMER",
    "ITEM_VIEW",
    "OVERDUE_LETTER",
    "WEBHOOK_EVENTS",
    "IntakeGate",
    "NoticeError",
    "Replay",
    "Submitter",
    "Suspension",
    "add_intake_gate",
    "advisory_elements",
    "all_regime_rules",
    "apply_item_event",
    "blocking_items",
    "check_key",
    "claim",
    "complainant_for",
    "count_by_submitter",
    "decide",
    "erase_complainant_contacts",
    "expire_incomplete",
    "explanations",
    "find_items",
    "fingerprint",
    "forget_idempotent_answers",
    "get",
    "get_webhook",
    "holding_items",
    "id_runs",
    "install",
    "item_decisions",
    "item_views",
    "items_of",
    "list_page",
    "notice_service_type",
    "object_to_inquiry",
    "recall",
    "regime_rules",
    "register_webhook",
    "remove_webhook",
    "run_deadline",
    "run_inquiry",
    "service_duties",
    "settle_claim",
    "shared_fields",
    "submit",
    "submit_many",
    "supplement",
    "tell",
    "visible_to_customer",
    "webhook_secret",
    "widest_service",
]


def complainant_for(notice: Notice, recipient: Recipient) -> dict[str, str]:
    """What of the notice's complainant ``recipient`` may be given under the notice's regime."""
    fields = rules_of(notice.regime).shared(
        recipient, party="complainant", organisation=bool(notice.submitter_organization)
    )
    return messages.complainant(notice, fields)


def service_duties(service_type: ServiceType) -> Duties:
    """What a zone of ``service_type`` owes (see ``notices.regimes.services``)."""
    return duties(service_type)


def widest_service(types: Iterable[ServiceType]) -> ServiceType:
    """The service type with the most duties among ``types``."""
    return widest(types)


def all_regime_rules() -> list[RegimeRules]:
    """Every regime's rules, in the order a notifier is offered them."""
    return list(RULES.values())


def regime_rules(regime: Regime | str) -> RegimeRules:
    """Everything ``regime`` decides (see ``notices.regimes``)."""
    return rules_of(regime)


def shared_fields(regime: Regime, recipient: Recipient, *, party: str, organisation: bool) -> frozenset[str]:
    """Which fields of ``party`` (complainant or customer) ``recipient`` may be given under ``regime``."""
    return rules_of(regime).shared(recipient, party=party, organisation=organisation)


def install() -> None:
    """Let a dismissed stay-down match keep a copy blocked while a notice item holds it (called by
    the assembly)."""
    fingerprints.add_holder_lookup(holding_items)


def get(session: Session, notice_id: int) -> Notice | None:
    return session.get(Notice, notice_id)


ITEM_VIEW = (
    NoticeItem.id,
    NoticeItem.url,
    NoticeItem.canonical_url,
    NoticeItem.zone_id,
    NoticeItem.status,
    NoticeItem.work_index,
    NoticeItem.duplicate_of_id,
    NoticeItem.decided_at,
    NoticeItem.decision_reason,
    NoticeItem.inquiry_due_at,
    NoticeItem.caching_trigger,
    NoticeItem.external_id,
)


def item_views(session: Session, notice_id: int, *, customer_id: int | None = None) -> Sequence[Row[Any]]:
    """The columns a reader sees of each item, as plain rows (cheap for 100,000 items)."""
    stmt = select(*ITEM_VIEW).where(NoticeItem.notice_id == notice_id).order_by(NoticeItem.position)
    if customer_id is not None:
        stmt = stmt.where(NoticeItem.customer_id == customer_id)
    return list(session.execute(stmt))


def visible_to_customer(session: Session, notice_id: int, customer_id: int) -> bool:
    """A customer sees a notice only when it names content on one of its zones."""
    found = session.scalar(
        select(NoticeItem.id)
        .where(NoticeItem.notice_id == notice_id, NoticeItem.customer_id == customer_id)
        .limit(1)
    )
    return found is not None


def list_page(
    session: Session,
    *,
    status: NoticeStatus | None = None,
    zone_id: int | None = None,
    customer_id: int | None = None,
    submitter_key_id: int | None = None,
    external_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[Notice], int]:
    """Return one page of notices (review queue order: notices of a sanctioned notifier after the
    others, then earliest deadline first) and the total."""
    stmt = select(Notice)
    if external_id is not None:
        stmt = stmt.where(Notice.external_id == external_id)
    if status is not None:
        stmt = stmt.where(Notice.status == status)
    if submitter_key_id is not None:
        stmt = stmt.where(Notice.submitter_key_id == submitter_key_id)
    if zone_id is not None or customer_id is not None:
        sub = select(NoticeItem.notice_id)
        if zone_id is not None:
            sub = sub.where(NoticeItem.zone_id == zone_id)
        if customer_id is not None:
            sub = sub.where(NoticeItem.customer_id == customer_id)
        stmt = stmt.where(Notice.id.in_(sub))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Notice.sanction.is_not(None), Notice.deadline_at, Notice.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return rows, total


def erase_complainant_contacts(session: Session, *, before: datetime, keep_customers: Sequence[int]) -> int:
    """Erase the complainant's e-mail, telephone and address of notices decided before ``before``,
    except notices about customers under legal hold; return how many notices."""
    stmt = (
        update(Notice)
        .where(
            Notice.decided_at.is_not(None),
            Notice.decided_at < before,
            (Notice.submitter_email.is_not(None))
            | (Notice.submitter_phone.is_not(None))
            | (Notice.submitter_address.is_not(None)),
        )
        .values(submitter_email=None, submitter_phone=None, submitter_address=None)
        .execution_options(synchronize_session=False)
    )
    if keep_customers:
        held = select(NoticeItem.notice_id).where(NoticeItem.customer_id.in_(list(keep_customers)))
        stmt = stmt.where(Notice.id.not_in(held))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def count_by_submitter(session: Session, submitter_key_id: int, *, since: datetime) -> int:
    """How many notices a submitter's key sent since ``since`` (to weigh misuse in proportion)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.submitter_key_id == submitter_key_id, Notice.received_at > since)
        )
        or 0
    )


def find_items(
    session: Session,
    url: CanonicalURL,
    *,
    submitter_key_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Row[Any]], int]:
    """One page of the items (of any notice, or of one submitter's) that name the resource ``url``
    is, as the edge would block it: the zone serving its host and its path and query."""
    zone = accounts.zones_by_hostname(session, [url.host]).get(url.host)
    stmt = (
        select(
            NoticeItem.id,
            NoticeItem.notice_id,
            NoticeItem.url,
            NoticeItem.canonical_url,
            NoticeItem.zone_id,
            NoticeItem.status,
            NoticeItem.external_id,
            Notice.external_id.label("notice_external_id"),
            Notice.received_at,
        )
        .join(Notice, Notice.id == NoticeItem.notice_id)
        .where(NoticeItem.target == url.target)
    )
    # Items named before the host was a zone here were not on the network: they name it too.
    off_network = and_(NoticeItem.zone_id.is_(None), NoticeItem.hostname == url.host)
    stmt = stmt.where(or_(NoticeItem.zone_id == zone.id, off_network) if zone is not None else off_network)
    if submitter_key_id is not None:
        stmt = stmt.where(Notice.submitter_key_id == submitter_key_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows: list[Row[Any]] = list(
        session.execute(stmt.order_by(NoticeItem.id).limit(per_page).offset((page - 1) * per_page))
    )
    return rows, total
