"""The retention schedule for personal data, run by the worker: each data class is kept for its
configured period (``STAYDOWN_RETENTION_*_DAYS``) and erased after it, except what a legal hold
keeps. Holds are this domain's, so the schedule lives beside them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.disclosure.models import LegalHold
from staydown.disclosure.service import ERASED, erase_customer_identity
from staydown.due_process import service as due_process
from staydown.enforcement import service as enforcement
from staydown.notices import service as notices


def held_customers(session: Session) -> list[int]:
    """Customers under an active legal hold: nothing of theirs is erased."""
    return sorted(set(session.scalars(select(LegalHold.customer_id).where(LegalHold.released_at.is_(None)))))


def run_retention(session: Session, *, now: datetime, settings: Settings) -> dict[str, int]:
    """Erase every data class older than its retention period; return how many records per class."""
    held = held_customers(session)
    days = timedelta(days=1)
    erased = {
        "notice_contacts": notices.erase_complainant_contacts(
            session, before=now - settings.retention_notice_contact_days * days, keep_customers=held
        ),
        "counter_notice_contacts": due_process.erase_counter_notice_contacts(
            session, before=now - settings.retention_counter_notice_days * days, keep_customers=held
        ),
        "outbox_messages": enforcement.erase_messages(
            session, before=now - settings.retention_outbox_days * days, keep_customers=held
        ),
        "customer_identities": 0,
        # The answers kept for Idempotency-Key replays repeat the submitter's details: a day only.
        "idempotent_answers": notices.forget_idempotent_answers(
            session, before=now - notices.IDEMPOTENCY_WINDOW
        ),
    }
    cutoff = now - settings.retention_terminated_customer_days * days
    for customer_id in accounts.terminated_before(session, cutoff, erased_name=ERASED):
        if customer_id not in held:
            erase_customer_identity(
                session, customer_id, now=now, actor="retention", reason="retention period ended"
            )
            erased["customer_identities"] += 1
    if any(erased.values()):
        audit.record(session, at=now, actor="retention", action="retention.erased", data=erased)
    return erased
