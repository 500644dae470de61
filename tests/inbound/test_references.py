"""Sender references claimed under the database's key: who holds what, within one batch and across
batches, on SQLite and PostgreSQL (the race between processes is in ``test_concurrency``)."""

from __future__ import annotations

from datetime import UTC, datetime

from staydown.db.engine import Database
from staydown.inbound import references, service
from staydown.inbound.references import Held, Kind
from tests.inbound import samples


def test_references_of_a_message_and_the_first_holder() -> None:
    refs = references.of(sha256="r", message_id="<m@x>", content_sha256="c", case=("acns", "A1"))
    assert refs == [(Kind.message_id, "<m@x>"), (Kind.case, "acns:A1"), (Kind.content, "c"), (Kind.raw, "r")]
    assert references.of(sha256="r", message_id=None, content_sha256="", case=None) == [(Kind.raw, "r")]
    holders = {(Kind.case, "acns:A1"): 3, (Kind.content, "c"): 2, (Kind.raw, "r"): 7}
    assert references.first_holder(7, refs, holders) == Held(2, Kind.content)
    assert references.first_holder(7, refs, {(Kind.raw, "r"): 7}) is None  # its own claim


def test_claims_within_a_batch_and_across_batches(database: Database) -> None:
    raws = [samples.message(f"letter {n}", message_id=f"<m{n}@x>") for n in range(4)]
    ids = service.receive_many(
        database, [service.Arrival(raw, "smtp") for raw in raws], now=datetime.now(UTC)
    )
    case = [(Kind.case, "acns:A1")]
    with database.writer() as session:
        held = references.claim(
            session,
            {ids[0]: [*case, (Kind.message_id, "<m0@x>")], ids[1]: [*case, (Kind.message_id, "<m1@x>")]},
        )
        session.commit()
    assert held == {ids[1]: Held(ids[0], Kind.case)}
    with database.writer() as session:
        held = references.claim(
            session,
            {ids[2]: [(Kind.message_id, "<m1@x>"), *case], ids[3]: [(Kind.message_id, "<m3@x>")]},
        )
        session.commit()
    # Its Message-ID is the second message's and its Case ID the first's: the earliest holder answers.
    assert held == {ids[2]: Held(ids[0], Kind.case)}
    with database.writer() as session:
        assert references.claim(session, {ids[3]: [(Kind.message_id, "<m3@x>")]}) == {}
