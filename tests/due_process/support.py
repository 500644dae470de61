"""Builders the due-process tests share: an actioned notice, a counter-notice body, the feed."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support import active_zone, notice_body


def actioned_notice(
    api: Api, hostname: str, paths: list[str], *, role: str = "trusted_flagger", service_type: str = "caching"
) -> dict[str, Any]:
    """A customer with an active zone and a notice whose items on it are blocked; ids and keys."""
    zone = active_zone(api, hostname, service_type=service_type)
    urls = [f"http://{hostname}{path}" for path in paths]
    r = api.as_(role).post("/v1/notices", json=notice_body(urls))
    assert r.status_code == 201, r.text
    notice = r.json()
    if role != "trusted_flagger":
        decisions = {str(item["id"]): "action" for item in notice["items"]}
        r = api.as_("agent").post(
            f"/v1/notices/{notice['id']}/decision", json={"items": decisions, "reason": "the copies match"}
        )
        assert r.status_code == 200, r.text
        notice = r.json()
    assert notice["status"] == "actioned", notice
    return zone | {"notice": notice, "item_ids": [item["id"] for item in notice["items"]]}


def counter_notice_body(notice_id: int, items: list[int], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "notice_id": notice_id,
        "items": items,
        "name": "Shop Owner",
        "address": "1 Main St, Springfield",
        "phone": "+1 555 0100",
        "email": "owner@shop.example",
        "explanation": "These are my own photographs; the notice misidentified them.",
        "statements": {"good_faith_mistake": True, "consent_to_jurisdiction": True, "accept_service": True},
        "signature": "Shop Owner",
    }
    body.update(overrides)
    return body


def feed(api: Api) -> list[dict[str, Any]]:
    r = api.as_("edge").get("/v1/edge/feed", params={"after": 0, "limit": 100_000})
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["records"]
    return records


def outbox(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = api.as_("agent").get("/v1/outbox", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()
    return messages


def item_statuses(api: Api, notice_id: int) -> dict[int, str]:
    notice = api.as_("agent").get(f"/v1/notices/{notice_id}").json()
    return {item["id"]: item["status"] for item in notice["items"]}


def strikes(api: Api, customer_id: int) -> list[dict[str, Any]]:
    r = api.as_("agent").get(f"/v1/customers/{customer_id}/strikes")
    assert r.status_code == 200, r.text
    ledger: list[dict[str, Any]] = r.json()["strikes"]
    return ledger
