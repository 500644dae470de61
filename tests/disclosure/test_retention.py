"""Personal data by rule over HTTP and as processes: erasure leaves no copy of a customer's data in
any table while the audit chain still verifies, and the retention schedule (``staydown retention
run --as-of``) erases each data class after its period unless a legal hold keeps it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from staydown.db.migrate import metadata
from tests.conftest import Api
from tests.due_process.support import actioned_notice, counter_notice_body, outbox
from tests.reports.test_exports import cli

NAME = "Zed Erasable"
CUSTOMER = [NAME, "zed@example.com", "1 Main St, Springfield", "+1 555 0100"]
COUNTER = ["Shop Owner", "owner@shop.example"]


def _rows_containing(api: Api, values: list[str]) -> list[tuple[str, str]]:
    """Every (table, value) where a row of any table holds one of ``values`` anywhere."""
    found = []
    with api.database.reader() as session:
        for table in metadata().sorted_tables:
            for row in session.execute(select(table)):
                blob = json.dumps([str(v) for v in row], ensure_ascii=False)
                found += [(table.name, value) for value in values if value in blob]
    return sorted(set(found))


def _case(api: Api) -> dict[str, Any]:
    case = actioned_notice(api, "erase.example.test", ["/a.jpg"])
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    r = customer.post("/v1/counter-notices", json=counter_notice_body(case["notice"]["id"], case["item_ids"]))
    assert r.status_code == 201, r.text
    return case


def test_erasure_leaves_no_copy_of_the_customers_data_in_any_table_and_the_chain_verifies(api: Api) -> None:
    case = _case(api)
    agent = api.as_("agent")
    customer_id = case["customer_id"]
    with api.database.writer() as session:  # name the customer so the scan has a unique value to find
        session.execute(
            text("UPDATE customers SET name = :n, email = :e WHERE id = :i"),
            {"n": NAME, "e": "zed@example.com", "i": customer_id},
        )
        session.commit()
    # The customer's data is in the customer row, its counter-notice and the letters about it.
    before = _rows_containing(api, CUSTOMER + COUNTER)
    assert {table for table, _v in before} >= {"customers", "counter_notices", "outbox_messages"}
    # The audit chain never held the sign-up address, only where it is kept.
    trail = agent.get(f"/v1/audit/customer/{customer_id}").json()
    created = next(e for e in trail if e["action"] == "customer.created")
    assert created["data"]["signup_ip"] in (None, "customers.signup_ip")

    r = api.as_("legal").post(f"/v1/customers/{customer_id}/erasure", json={"reason": "GDPR Art. 17 request"})
    assert r.status_code == 200, r.text
    assert _rows_containing(api, CUSTOMER + COUNTER) == []
    verified = cli(api, "audit", "verify")
    assert verified.returncode == 0 and "holds" in verified.stdout + verified.stderr
    assert api.as_("agent").get("/v1/audit/verify").json()["ok"] is True


def test_the_retention_schedule_erases_each_class_after_its_period_unless_held(api: Api) -> None:
    held = _case(api)
    free = actioned_notice(api, "free.example.test", ["/b.jpg"])
    r = api.as_("legal").post(
        "/v1/legal-holds", json={"customer_id": held["customer_id"], "reason": "preservation order 2026-1"}
    )
    assert r.status_code in (200, 201), r.text
    start = api.clock()

    early = json.loads(
        cli(api, "retention", "run", "--as-of", (start + timedelta(days=300)).isoformat()).stdout
    )
    assert early["erased"] == {
        "notice_contacts": 0,
        "counter_notice_contacts": 0,
        "outbox_messages": 0,
        "customer_identities": 0,
        "idempotent_answers": 0,
    }
    assert any(m["recipient"] == "agent@rights.example" for m in outbox(api, notice_id=free["notice"]["id"]))

    later = json.loads(
        cli(api, "retention", "run", "--as-of", (start + timedelta(days=400)).isoformat()).stdout
    )
    assert later["erased"]["outbox_messages"] > 0
    free_letters = outbox(api, notice_id=free["notice"]["id"])
    assert free_letters and {m["recipient"] for m in free_letters} == {"(erased)"}
    # The held customer's letters stay.
    assert any(m["recipient"] != "(erased)" for m in outbox(api, customer_id=held["customer_id"]))

    last = json.loads(
        cli(api, "retention", "run", "--as-of", (start + timedelta(days=1200)).isoformat()).stdout
    )
    assert last["erased"]["notice_contacts"] >= 1
    free_notice = api.as_("agent").get(f"/v1/notices/{free['notice']['id']}").json()
    assert free_notice["submitter"]["email"] is None and free_notice["submitter"]["phone"] is None
    held_notice = api.as_("agent").get(f"/v1/notices/{held['notice']['id']}").json()
    assert held_notice["submitter"]["email"] == "agent@rights.example"
    assert api.as_("agent").get("/v1/audit/verify").json()["ok"] is True
