"""Personal data in due-process records: erase a customer's from its counter-notices and complaints
(on erasure), and erase counter-notices' contact details once their retention period ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from staydown.due_process.models import Complaint, CounterNotice
from staydown.enforcement import service as enforcement

ERASED = "(erased)"
_CONTACT = {"name": None, "address": None, "phone": None, "email": None, "signature": None}


def erase_customer(session: Session, customer_id: int) -> int:
    """Erase what a customer wrote about itself in counter-notices and complaints, and the letters
    that carried its counter-notices to the complainants (17 U.S.C. 512(g)(2)(B) copies); return how
    many rows."""
    notice_ids = sorted(
        set(session.scalars(select(CounterNotice.notice_id).where(CounterNotice.customer_id == customer_id)))
    )
    letters = enforcement.erase_messages(session, about=(notice_ids, "counter_notice"))
    counters = session.execute(
        update(CounterNotice)
        .where(CounterNotice.customer_id == customer_id)
        .values(**_CONTACT, explanation=ERASED)
        .execution_options(synchronize_session=False)
    )
    complaints = session.execute(
        update(Complaint)
        .where(Complaint.customer_id == customer_id)
        .values(explanation=ERASED)
        .execution_options(synchronize_session=False)
    )
    rows = int(counters.rowcount or 0) + int(complaints.rowcount or 0)  # type: ignore[attr-defined]
    return rows + letters


def erase_counter_notice_contacts(
    session: Session, *, before: datetime, keep_customers: Sequence[int]
) -> int:
    """Erase contact details of counter-notices resolved before ``before`` (legal holds kept)."""
    stmt = (
        update(CounterNotice)
        .where(
            CounterNotice.resolved_at.is_not(None),
            CounterNotice.resolved_at < before,
            CounterNotice.name.is_not(None)
            | CounterNotice.email.is_not(None)
            | CounterNotice.phone.is_not(None),
        )
        .values(**_CONTACT)
        .execution_options(synchronize_session=False)
    )
    if keep_customers:
        stmt = stmt.where(CounterNotice.customer_id.not_in(list(keep_customers)))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
