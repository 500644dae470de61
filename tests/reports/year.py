"""A generated year of activity, bulk-inserted, with the figures a report must show computed here,
by plain Python over the generated values (not by the report's code path)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert

from staydown.accounts.models import Customer
from staydown.db.base import table_of
from staydown.db.engine import Database
from staydown.disclosure.models import DisclosureOrder
from staydown.notices.models import Notice, NoticeItem
from staydown.policy.models import PolicyStep

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = timedelta(hours=24)
ACTIONED = ("actioned", "counter_noticed", "restored")


@dataclass
class Expected:
    total: int = 0
    by_regime: Counter[str] = field(default_factory=Counter)
    by_class: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    decided: int = 0
    automated: int = 0
    tta: list[float] = field(default_factory=list)
    within_deadline: int = 0
    volume: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    orders_by_basis: Counter[str] = field(default_factory=Counter)
    orders_gagged: int = 0

    @property
    def median(self) -> float:
        return float(np.percentile(self.tta, 50))

    @property
    def p90(self) -> float:
        return float(np.percentile(self.tta, 90))


def _notice_row(rng: random.Random, notice_id: int, received: datetime) -> dict[str, Any]:
    regime = rng.choices(["dmca", "dsa", "jp"], weights=[6, 3, 1])[0]
    klass = rng.choices(["trusted_flagger", "organisation", "individual"], weights=[3, 5, 2])[0]
    return {
        "id": notice_id,
        "regime": regime,
        "status": "received",
        "trusted": klass == "trusted_flagger",
        "channel": "api",
        "submitter_name": f"Sender {notice_id}",
        "submitter_email": f"s{notice_id}@example.com",
        "submitter_organization": None if klass == "individual" else f"Org {notice_id % 50}",
        "works": [{"description": "work", "reference_urls": []}],
        "statement_good_faith": True,
        "statement_accurate": True,
        "statement_authorized": True,
        "missing_elements": [],
        "content_sha256": "0" * 64,
        "received_at": received,
        "deadline_at": received + DEADLINE,
        "first_actioned_at": None,
        "decided_at": None,
        "time_to_action_seconds": None,
        "item_count": 0,
    }


def generate(database: Database, *, notices: int = 100_000, seed: int = 7) -> Expected:
    """Insert ``notices`` notices over 2025 (plus a few just outside it) and return what to expect."""
    rng = random.Random(seed)
    expected = Expected()
    span = (YEAR_END - YEAR_START).total_seconds()
    notice_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    item_id = 0
    outside = [YEAR_START - timedelta(seconds=1), YEAR_END, YEAR_END + timedelta(days=3)]
    for notice_id in range(1, notices + len(outside) + 1):
        inside = notice_id <= notices
        received = (
            YEAR_START + timedelta(seconds=rng.random() * span)
            if inside
            else outside[notice_id - notices - 1]
        )
        row = _notice_row(rng, notice_id, received)
        klass = (
            "trusted_flagger"
            if row["trusted"]
            else ("organisation" if row["submitter_organization"] else "individual")
        )
        statuses = []
        first_action: datetime | None = None
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            item_id += 1
            status = rng.choices(
                ["actioned", "rejected", "not_on_network", "pending_review", "counter_noticed", "restored"],
                weights=[50, 10, 8, 5, 3, 2],
            )[0]
            decided = status != "pending_review"
            automated = decided and status != "not_on_network" and row["trusted"]
            decided_at = received + timedelta(seconds=rng.expovariate(1 / 14_400)) if decided else None
            if status in ACTIONED and decided_at is not None:
                first_action = decided_at if first_action is None else min(first_action, decided_at)
            statuses.append(status)
            item_rows.append(
                {
                    "id": item_id,
                    "notice_id": notice_id,
                    "position": len(statuses) - 1,
                    "url": f"http://site{notice_id % 97}.example/p/{item_id}",
                    "canonical_url": f"http://site{notice_id % 97}.example/p/{item_id}",
                    "target": f"/p/{item_id}",
                    "hostname": f"site{notice_id % 97}.example",
                    "status": status,
                    "decided_at": decided_at,
                    "automated": automated,
                }
            )
            if inside:
                expected.items[status] += 1
                if decided and status != "not_on_network":
                    expected.decided += 1
                    expected.automated += int(automated)
        row["item_count"] = len(statuses)
        if first_action is not None:
            row["first_actioned_at"] = first_action
            row["time_to_action_seconds"] = (first_action - received).total_seconds()
        if any(s in ACTIONED for s in statuses):
            row["status"] = "actioned"
        elif "pending_review" in statuses:
            row["status"] = "accepted"
        elif all(s == "not_on_network" for s in statuses):
            row["status"] = "closed"
        else:
            row["status"] = "rejected"
        notice_rows.append(row)
        if inside:
            expected.total += 1
            expected.by_regime[row["regime"]] += 1
            expected.by_class[klass] += 1
            expected.by_status[row["status"]] += 1
            expected.volume[received.strftime("%Y-%m-%d")] += 1
            if first_action is not None:
                expected.tta.append(row["time_to_action_seconds"])
                expected.within_deadline += int(first_action <= row["deadline_at"])

    customers = [
        {
            "id": n,
            "name": f"Customer {n}",
            "email": f"c{n}@example.com",
            "signup_at": YEAR_START - timedelta(days=30),
            "verification_level": "identity",
            "standing": "good",
            "risk_flags": [],
        }
        for n in range(1, 41)
    ]
    steps = []
    for n in range(1, 301):
        kind = rng.choice(["warning", "suspension", "termination", "reinstatement"])
        at = (
            YEAR_START + timedelta(seconds=rng.random() * span) if n <= 290 else YEAR_END + timedelta(hours=n)
        )
        steps.append(
            {
                "customer_id": rng.randint(1, 40),
                "kind": kind,
                "at": at,
                "strikes_counted": 3,
                "reason": "generated",
                "automatic": True,
                "actor": "system",
            }
        )
        if n <= 290:
            expected.steps[kind] += 1
    orders = []
    for n in range(1, 61):
        basis = rng.choice(["us_512h_subpoena", "jp_disclosure_order", "jp_log_preservation_order"])
        gagged = rng.random() < 0.2
        received = (
            YEAR_START + timedelta(seconds=rng.random() * span) if n <= 55 else YEAR_END + timedelta(days=n)
        )
        orders.append(
            {
                "customer_id": rng.randint(1, 40),
                "authority": "Court",
                "authority_kind": "court",
                "case_number": f"case-{n}",
                "jurisdiction": "JP" if basis.startswith("jp") else "US",
                "legal_basis": basis,
                "scope": ["name"],
                "received_at": received,
                "gagged": gagged,
                "status": "received",
                "released": [],
                "created_by": "generated",
            }
        )
        if n <= 55:
            expected.orders_by_basis[basis] += 1
            expected.orders_gagged += int(gagged)

    with database.transaction() as session:
        for model, rows in (
            (Customer, customers),
            (Notice, notice_rows),
            (NoticeItem, item_rows),
            (PolicyStep, steps),
            (DisclosureOrder, orders),
        ):
            for start in range(0, len(rows), 20_000):
                session.execute(insert(table_of(model)), rows[start : start + 20_000])
    return expected
