"""Which received message a sender's reference belongs to, decided by the database.

Two processes reading different messages with the same ACNS Case ID (or X-ARF report id, Message-ID
or content) at the same instant must not both make a notice. A lookup of earlier messages cannot
see a message another transaction has not committed yet, so each message read *claims* its
references in ``inbound_references``, whose primary key is the reference, in the transaction that
makes its notice. On PostgreSQL a second claim of a key another transaction holds uncommitted waits
for that transaction: once it commits, the claim finds the key taken and the message is a
duplicate; if it rolls back, the claim succeeds. On SQLite the writer is alone anyway.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from staydown.inbound.models import InboundReference


class Kind(enum.StrEnum):
    """What a reference is, in the order a duplicate is explained by it."""

    message_id = "message_id"
    case = "case"  # the sender's own id: ACNS Case ID, X-ARF report id (with the format)
    content = "content"  # the body's SHA-256
    raw = "raw"  # the whole message's SHA-256


Reference = tuple[Kind, str]


@dataclass(frozen=True, slots=True)
class Held:
    """A reference another message holds: which message, and by what."""

    message_id: int
    kind: Kind


def of(
    *, sha256: str, message_id: str | None, content_sha256: str, case: tuple[str, str] | None
) -> list[Reference]:
    """The references a message carries (``case`` is its format and the sender's id, if any)."""
    found: list[Reference] = []
    if message_id:
        found.append((Kind.message_id, message_id[:500]))
    if case is not None:
        found.append((Kind.case, f"{case[0]}:{case[1]}"[:500]))
    if content_sha256:
        found.append((Kind.content, content_sha256))
    if sha256:
        found.append((Kind.raw, sha256))
    return found


def first_holder(own: int, references: Sequence[Reference], holders: Mapping[Reference, int]) -> Held | None:
    """The earliest other message holding one of ``own``'s references, and the first such reference."""
    others = [(holders[ref], ref[0]) for ref in references if holders.get(ref, own) != own]
    if not others:
        return None
    earliest = min(message for message, _kind in others)
    return Held(earliest, next(kind for message, kind in others if message == earliest))


def claim(session: Session, wanted: Mapping[int, Sequence[Reference]]) -> dict[int, Held]:
    """Claim each message's references in this transaction; return, for each message that found one
    taken (by an earlier claim, or by a message before it in ``wanted``), who holds it.

    One statement claims them all (``INSERT … ON CONFLICT DO NOTHING``); holders are read only when
    something was already taken."""
    rows = [
        {"kind": kind.value, "value": value, "message_id": message_id}
        for message_id, references in sorted(wanted.items())
        for kind, value in references
    ]
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InboundReference)
    statement = insert.on_conflict_do_nothing().returning(
        InboundReference.kind, InboundReference.value, InboundReference.message_id
    )
    # Executed for many rows, the statement is compiled once and sent as one multi-row INSERT.
    holders: dict[Reference, int] = {
        (Kind(kind), value): message for kind, value, message in session.execute(statement, rows)
    }
    taken = sorted({ref for references in wanted.values() for ref in references} - holders.keys())
    for start in range(0, len(taken), 200):
        chunk = [(kind.value, value) for kind, value in taken[start : start + 200]]
        holders.update(
            ((Kind(kind), value), message)
            for kind, value, message in session.execute(
                select(InboundReference.kind, InboundReference.value, InboundReference.message_id).where(
                    tuple_(InboundReference.kind, InboundReference.value).in_(chunk)
                )
            )
        )
    found = {message_id: first_holder(message_id, refs, holders) for message_id, refs in wanted.items()}
    return {message_id: held for message_id, held in found.items() if held is not None}
