"""Idempotent notice submission: a bulk sender may send a notice again (a timeout, a crash) under
the same ``Idempotency-Key`` and get the answer the first one got, never a second notice.

A key belongs to the API key that used it and holds for ``WINDOW``. The claim on a key is a row
written in the notice's own unit of work under a unique constraint: two requests racing with one
key on PostgreSQL meet at that constraint, the second waits for the first to commit, fails to
insert, and answers with what the first stored. SQLite serialises writers, so the second finds it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from staydown.audit.service import canonical_json
from staydown.notices.models import IdempotentSubmission
from staydown.notices.records import NoticeError
from staydown.notices.schemas import NoticeCreate

WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Replay:
    """The answer stored for an earlier request under the same key."""

    status_code: int
    body: str
    notice_id: int | None


def check_key(value: str) -> str:
    """Refuse an ``Idempotency-Key`` that is empty, too long or not printable ASCII."""
    if not value or len(value) > MAX_KEY_LENGTH or not all(" " < c <= "~" for c in value):
        raise NoticeError(
            "invalid_idempotency_key",
            f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces",
            status=400,
        )
    return value


def fingerprint(data: NoticeCreate) -> str:
    """What identifies a request's content (the same notice sent with other spacing is the same; the
    language of its letters, which may come from the request's Accept-Language, is not its content)."""
    return hashlib.sha256(
        canonical_json(data.model_dump(mode="json", exclude={"language"})).encode()
    ).hexdigest()


def recall(session: Session, key_id: int, key: str, request_sha256: str, *, now: datetime) -> Replay | None:
    """The stored answer for ``key`` of ``key_id`` within the window, or None. A different request
    under the key is refused; a key whose window ended is forgotten."""
    found = session.scalar(
        select(IdempotentSubmission).where(
            IdempotentSubmission.key_id == key_id, IdempotentSubmission.idempotency_key == key
        )
    )
    if found is None:
        return None
    if found.created_at <= now - WINDOW:
        session.execute(delete(IdempotentSubmission).where(IdempotentSubmission.id == found.id))
        session.flush()
        return None
    if found.request_sha256 != request_sha256:
        raise NoticeError(
            "idempotency_key_reused",
            f"the Idempotency-Key was used for a different request at {found.created_at.isoformat()}; "
            "a key names one request for 24 hours",
            status=422,
            details={"notice_id": found.notice_id},
        )
    return Replay(found.status_code, found.response, found.notice_id)


def claim(
    session: Session, key_id: int, key: str, request_sha256: str, *, now: datetime
) -> IdempotentSubmission:
    """Write the claim on ``key`` (flushed: a concurrent request with the key waits or fails here)."""
    row = IdempotentSubmission(
        key_id=key_id,
        idempotency_key=key,
        request_sha256=request_sha256,
        status_code=0,
        response="",
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def forget(session: Session, *, before: datetime) -> int:
    """Drop the answers kept for keys used before ``before`` (they hold the submitter's details)."""
    result = session.execute(delete(IdempotentSubmission).where(IdempotentSubmission.created_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def settle_claim(row: IdempotentSubmission, *, notice_id: int, status_code: int, body: str) -> None:
    """Keep the answer given under the claim, for the replays."""
    row.notice_id, row.status_code, row.response = notice_id, status_code, body
