"""Counter-notice statements are made under penalty of perjury: only JSON booleans count."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.due_process.support import actioned_notice, counter_notice_body, item_statuses


@pytest.mark.parametrize("value", ["yes", "on", 1, "true"])
def test_counter_notice_statements_must_be_json_booleans(api: Api, value: Any) -> None:
    case = actioned_notice(api, "shop.example.test", ["/a.jpg"])
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    statements = {"good_faith_mistake": value, "consent_to_jurisdiction": value, "accept_service": True}
    body = counter_notice_body(case["notice"]["id"], case["item_ids"], statements=statements)

    r = customer.post("/v1/counter-notices", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert sorted(d["loc"] for d in error["details"]) == [
        ["body", "statements", "consent_to_jurisdiction"],
        ["body", "statements", "good_faith_mistake"],
    ]
    assert customer.get("/v1/counter-notices").json() == []
    assert set(item_statuses(api, case["notice"]["id"]).values()) == {"actioned"}


@pytest.mark.parametrize("email", ["not-an-email", "owner@", "@shop.example", "a b@shop.example"])
def test_a_counter_notice_e_mail_address_must_be_one(api: Api, email: str) -> None:
    """The counter-notice's contact is forwarded to the complainant, who may sue on it: a malformed
    address is refused, naming the field."""
    case = actioned_notice(api, "mail.example.test", ["/a.jpg"])
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {case['key']}"
    body = counter_notice_body(case["notice"]["id"], case["item_ids"], email=email)
    r = customer.post("/v1/counter-notices", json=body)
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["error"]["details"]] == [["body", "email"]]
    assert customer.get("/v1/counter-notices").json() == []
