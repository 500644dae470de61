"""The retention schedule for personal data, run by the worker: each data class is kept for its
configured period (``STAYDOWN_RETENTION_*_DAYS``) and erased after it, except what a legal hold
keeps. Holds are this domain's, so the schedule lives beside them, and so does the erasure a
notifier asks for itself (``erase_notifier``), which keeps what legal claims need.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.audit import service as audit
from staydown.config import Settings
from staydown.disclosure.flows import OrderStatus
from staydown.disclosure.models import DisclosureOrder, LegalHold
from staydown.disclosure.schemas import KeptData, NotifierErasureResult
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


# --- a notifier's own erasure request ---------------------------------------------------------

_LIVE = (
    "restriction_in_force",
    "Items of this notice are blocked or await a decision: the customer may contest them, and a "
    "counter-notice or the decision must reach you (17 U.S.C. 512(g)(2); Regulation (EU) 2022/2065 "
    "Arts. 16(5), 20). Everything is kept until the notice is settled.",
)
_HELD = (
    "legal_hold",
    "A legal hold or a court or authority order concerns this notice or the customer it names; its "
    "data is kept until the hold is released or the order ends.",
)
_CLAIMS = (
    "limitation_period",
    "Your name and the statements you signed are kept for legal claims about this notice (a claim of "
    "misrepresentation under 17 U.S.C. 512(f) may be brought for three years, 17 U.S.C. 507(b); "
    "national limitation periods are comparable); your contact details are erased.",
)
_BASIS = "GDPR Art. 17(3)(e): necessary for the establishment, exercise or defence of legal claims"


def erase_notifier(
    session: Session, submitter_key_id: int, *, now: datetime, actor: str, reason: str, settings: Settings
) -> NotifierErasureResult:
    """Erase a notifier's personal data from its notices and letters (GDPR Art. 17), keeping what
    legal claims need (Art. 17(3)(e)) and saying what and why.

    - a notice still live (undecided, items blocked or waiting), under a legal hold or resting under
      an open disclosure order keeps everything;
    - a notice decided less than ``retention_notice_claims_days`` ago keeps the notifier's name,
      organisation, principal and signature, and loses its contact details;
    - every other notice loses all of them, and so do the letters about the notices erased.
    The audit entry names counts and notice ids only, so the hash chain holds no personal data.
    """
    mine = notices.notifier_notices(session, submitter_key_id)
    held = set(held_customers(session))
    ordered = set(
        session.scalars(
            select(DisclosureOrder.notice_id).where(
                DisclosureOrder.notice_id.is_not(None), DisclosureOrder.status != OrderStatus.closed
            )
        )
    )
    claims = timedelta(days=settings.retention_notice_claims_days)
    kept: list[KeptData] = []
    erase_all: list[int] = []
    erase_contacts: list[int] = []
    for notice in mine:
        if not notice.present:
            continue
        if notice.live or notice.notice_id in ordered or held.intersection(notice.customer_ids):
            code, text = _LIVE if notice.live else _HELD
            kept.append(
                KeptData(
                    notice_id=notice.notice_id,
                    fields=sorted(notice.present),
                    reason=f"{code}: {text}",
                    legal_basis=_BASIS,
                )
            )
            continue
        until = (notice.decided_at or notice.received_at) + claims
        if until > now:
            erase_contacts.append(notice.notice_id)
            still = sorted(notice.identity)
            if still:
                kept.append(
                    KeptData(
                        notice_id=notice.notice_id,
                        fields=still,
                        reason=f"{_CLAIMS[0]}: {_CLAIMS[1]}",
                        legal_basis=_BASIS,
                        until=until,
                    )
                )
        else:
            erase_all.append(notice.notice_id)
    notices.erase_notifier_fields(session, erase_all, identity=True)
    notices.erase_notifier_fields(session, erase_contacts, identity=False)
    erased_ids = sorted(erase_all + erase_contacts)
    letters = enforcement.erase_messages(session, about=(erased_ids, "notice_")) + enforcement.erase_messages(
        session, about=(erased_ids, "notifier_")
    )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="notifier.personal_data_erased",
        entity=("api_key", submitter_key_id),
        data={
            "notices_erased": erase_all[:1000],
            "notices_contacts_erased": erase_contacts[:1000],
            "letters": letters,
            "kept": [{"notice_id": k.notice_id, "reason": k.reason.split(":", 1)[0]} for k in kept][:1000],
            "reason": reason,
        },
    )
    return NotifierErasureResult(
        submitter_key_id=submitter_key_id,
        erased_at=now,
        notices=len(mine),
        notices_erased=len(erase_all),
        notices_contacts_erased=len(erase_contacts),
        letters_erased=letters,
        kept=kept,
    )
