"""A busy desk in bulk: many notices, customers with strikes and stay-down matches inserted
without the API, for the desk's pages at production size (tests/desk/test_busy_desk.py and
bench/desk_render.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from staydown.accounts.models import Customer, Standing
from staydown.db.base import bulk_insert
from staydown.fingerprints.models import (
    BankEntry,
    BankScope,
    BankSource,
    BankStatus,
    MatchOutcome,
    MatchStatus,
    StaydownMatch,
)
from staydown.notices.flows import ItemStatus, NoticeStatus
from staydown.notices.models import Notice, NoticeItem
from staydown.policy.models import Strike, StrikeStatus
from staydown.types import Regime, VerificationLevel
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import active_zone


def fill(
    api: Api,
    zone: dict[str, int],
    submitter_key_id: int,
    *,
    notices: int,
    customers: int,
    matches: int,
) -> None:
    """Bulk-insert ``notices`` notices of one item each on ``zone``, ``customers`` customers with
    strikes, and ``matches`` stay-down matches of the first notice's item."""
    start = api.clock()
    notice_columns = (
        "regime", "status", "submitter_key_id", "trusted", "channel", "submitter_name", "submitter_email",
        "works", "statement_good_faith", "statement_accurate", "statement_authorized", "missing_elements",
        "content_sha256", "received_at", "deadline_at", "item_count",
    )  # fmt: skip
    statuses = [NoticeStatus.accepted, NoticeStatus.actioned, NoticeStatus.rejected, NoticeStatus.accepted]
    with api.database.transaction() as session:
        bulk_insert(
            session,
            Notice,
            notice_columns,
            (
                (
                    Regime.dmca,
                    statuses[i % 4],
                    submitter_key_id,
                    False,
                    "api",
                    "Rights Agent",
                    "agent@rights.example",
                    [{"description": "Manga"}],
                    True,
                    True,
                    True,
                    [],
                    "0" * 64,
                    start - timedelta(minutes=i),
                    start - timedelta(minutes=i) + timedelta(hours=24),
                    1,
                )
                for i in range(notices)
            ),
        )
        first = session.query(Notice.id).order_by(Notice.id).limit(1).scalar()
        assert first is not None
        item_columns = (
            "notice_id", "position", "url", "canonical_url", "target", "hostname", "zone_id", "customer_id",
            "status", "automated",
        )  # fmt: skip
        bulk_insert(
            session,
            NoticeItem,
            item_columns,
            (
                (
                    first + i,
                    0,
                    f"http://{zone['hostname']}/p/{i}.jpg",
                    f"http://{zone['hostname']}/p/{i}.jpg",
                    f"/p/{i}.jpg",
                    zone["hostname"],
                    zone["zone_id"],
                    zone["customer_id"],
                    ItemStatus.pending_review,
                    False,
                )
                for i in range(notices)
            ),
        )
        customer_columns = (
            "name", "email", "signup_at", "verification_level", "standing", "risk_flags",
        )  # fmt: skip
        bulk_insert(
            session,
            Customer,
            customer_columns,
            (
                (f"Customer {i}", f"c{i}@example.com", start, VerificationLevel.identity, Standing.good, [])
                for i in range(customers)
            ),
        )
        ids = [row[0] for row in session.query(Customer.id).order_by(Customer.id.desc()).limit(customers)]
        bulk_insert(
            session,
            Strike,
            ("customer_id", "notice_id", "created_at", "status", "weight", "urls"),
            (
                (customer_id, first + (n * customers + k) % notices, start, StrikeStatus.active, 1, 1)
                for k, customer_id in enumerate(ids)
                for n in range(1 + k % 6)
            ),
        )
        first_item = session.query(NoticeItem.id).order_by(NoticeItem.id).limit(1).scalar()
        _fill_matches(session, zone, notice_id=first, item_id=first_item, matches=matches)


def _fill_matches(
    session: Session, zone: dict[str, int], *, notice_id: int, item_id: int | None, matches: int
) -> None:
    """A bank entry for the first notice's item and ``matches`` copies edges reported of it."""
    assert item_id is not None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bulk_insert(
        session,
        BankEntry,
        ("scope", "source", "item_id", "sha256", "pdq", "quality", "width", "height", "status", "created_at"),
        [
            (
                BankScope.customer, BankSource.notice, item_id, "a" * 64, ["0" * 64], 100, 800, 1200,
                BankStatus.active, start,
            )
        ],
    )  # fmt: skip
    entry_id = session.query(BankEntry.id).order_by(BankEntry.id.desc()).limit(1).scalar()
    statuses = [MatchStatus.pending_review, MatchStatus.blocked, MatchStatus.confirmed, MatchStatus.dismissed]
    bulk_insert(
        session,
        StaydownMatch,
        (
            "entry_id", "notice_id", "zone_id", "customer_id", "url", "target", "distance", "exact",
            "copy_sha256", "outcome", "status", "reported_by", "found_at",
        ),
        (
            (
                entry_id, notice_id, zone["zone_id"], zone["customer_id"], f"http://busy.example/copy/{i}.jpg",
                f"/copy/{i}.jpg", 20 + i % 28, False, "b" * 64,
                MatchOutcome.review if i % 4 == 0 else MatchOutcome.block, statuses[i % 4], "key:1",
                start + timedelta(seconds=i),
            )
            for i in range(matches)
        ),
    )  # fmt: skip


def busy_desk(api: Api, *, notices: int, customers: int, matches: int) -> dict[str, tuple[DeskClient, str]]:
    """Fill the database and sign in an agent, a customer and a rightsholder; return the main
    pages each of them opens, by name, with the client to open it."""
    from staydown.accounts import service as accounts

    zone = active_zone(api, "busy.example", name="Busy")
    assert api.as_("submitter").get("/v1/notices").json()["total"] == 0  # the submitter key exists
    with api.database.reader() as session:
        key = accounts.authenticate(session, api.keys["submitter"])
        assert key is not None
        submitter_key_id = key.id
    fill(api, zone, submitter_key_id, notices=notices, customers=customers, matches=matches)
    agent = DeskClient(api)
    agent.sign_in_with_key(api.keys["agent"])
    with api.database.reader() as session:
        first_notice = session.query(Notice.id).order_by(Notice.id).limit(1).scalar()  # its item is banked
    busiest = api.as_("agent").get("/v1/notices?status=accepted&per_page=1").json()["notices"][0]["id"]
    customer = DeskClient(api)
    customer.sign_in_with_key(zone["key"])
    rights = DeskClient(api)
    rights.sign_in_with_key(api.keys["submitter"])
    middle = max(1, notices // 2 // 50 // 2)  # half the notices wait in the queue, 50 a page
    return {
        "queue": (agent, "/desk/queue"),
        f"queue, page {middle}": (agent, f"/desk/queue?page={middle}"),
        "all notices": (agent, "/desk/notices"),
        "notice detail": (agent, f"/desk/notices/{busiest}"),
        "repeat-infringer board": (agent, "/desk/board"),
        "customers": (agent, "/desk/customers"),
        f"customer with {notices} notices": (agent, f"/desk/customers/{zone['customer_id']}"),
        "customer portal: notices": (customer, "/desk/account/notices"),
        "customer portal: strikes": (customer, "/desk/account/strikes"),
        "rightsholder: my notices": (rights, "/desk/my/notices"),
        "rightsholder: works": (rights, "/desk/works"),
        f"stay-down matches ({matches})": (agent, "/desk/matches"),
        "stay-down matches, last page": (agent, f"/desk/matches?page={matches // 25}"),
        "pending matches": (agent, "/desk/matches?status=pending_review"),
        "notice with its stay-down matches": (agent, f"/desk/notices/{first_notice}"),
    }
