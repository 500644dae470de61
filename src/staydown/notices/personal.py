"""A notifier's personal data in its notices, for the erasure it may ask for (GDPR Art. 17): which of
its notices still ground a restriction or a pending decision, and erasing named fields of others.

What to keep and why is decided by the disclosure domain, which owns erasure and legal holds; this
module only reads and writes the notices' columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown.notices.flows import BLOCKING, WAITING, NoticeStatus
from staydown.notices.models import Notice, NoticeItem

ERASED = "(erased)"
# The notifier's contact details and the address it wrote from: needed only to reach it.
CONTACT_FIELDS = ("submitter_email", "submitter_phone", "submitter_address", "source_ip")
# Who made the notice's statements and signed it: what a claim about the notice rests on.
IDENTITY_FIELDS = ("submitter_name", "submitter_organization", "on_behalf_of", "signature")
_OPEN = frozenset({NoticeStatus.received, NoticeStatus.incomplete, NoticeStatus.accepted})


@dataclass(frozen=True, slots=True)
class NotifierNotice:
    """One notice of a notifier, as erasure weighs it."""

    notice_id: int
    regime: str
    received_at: datetime
    decided_at: datetime | None
    live: bool  # undecided, or some item still blocked or waiting for review or an inquiry
    customer_ids: tuple[int, ...]
    contacts: frozenset[str]  # the contact fields that still hold something
    identity: frozenset[str]  # the identity fields that still hold something

    @property
    def present(self) -> frozenset[str]:
        return self.contacts | self.identity


def notifier_notices(session: Session, submitter_key_id: int) -> list[NotifierNotice]:
    """Every notice the key submitted, oldest first, with whether it is still live."""
    rows = session.scalars(
        select(Notice).where(Notice.submitter_key_id == submitter_key_id).order_by(Notice.id)
    ).all()
    if not rows:
        return []
    ids = [n.id for n in rows]
    states: dict[int, set[str]] = {}
    customers: dict[int, set[int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = session.execute(
            select(NoticeItem.notice_id, NoticeItem.status, NoticeItem.customer_id)
            .where(NoticeItem.notice_id.in_(chunk))
            .distinct()
        )
        for notice_id, status, customer_id in found:
            states.setdefault(notice_id, set()).add(status)
            if customer_id is not None:
                customers.setdefault(notice_id, set()).add(customer_id)
    holding = {s.value for s in BLOCKING | WAITING}
    return [
        NotifierNotice(
            notice_id=n.id,
            regime=n.regime.value,
            received_at=n.received_at,
            decided_at=n.decided_at,
            live=n.status in _OPEN or bool(states.get(n.id, set()) & holding),
            customer_ids=tuple(sorted(customers.get(n.id, set()))),
            contacts=frozenset(f for f in CONTACT_FIELDS if getattr(n, f) not in (None, ERASED)),
            identity=frozenset(f for f in IDENTITY_FIELDS if getattr(n, f) not in (None, ERASED)),
        )
        for n in rows
    ]


def erase_notifier_fields(session: Session, notice_ids: Sequence[int], *, identity: bool) -> int:
    """Erase the notifier's contact details of the notices, and with ``identity`` its name,
    organisation, principal and signature too; return how many notices."""
    fields = [*CONTACT_FIELDS, *(IDENTITY_FIELDS if identity else ())]
    values = {f: (ERASED if f == "submitter_name" else None) for f in fields}
    erased = 0
    for start in range(0, len(notice_ids), 500):
        result = session.execute(
            update(Notice)
            .where(Notice.id.in_(list(notice_ids[start : start + 500])))
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        erased += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return erased
