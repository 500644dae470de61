"""The repeat-infringer policy enforced end to end: strikes, warning, suspension, termination."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Api
from tests.support import active_zone, notice_body


def zone_statuses(api: Api, zone_id: int) -> list[str]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r["status"] for r in records if r["kind"] == "zone" and r["zone_id"] == zone_id]


def strike(api: Api, zone: dict[str, Any], n: int) -> dict[str, Any]:
    url = f"http://{zone['hostname']}/chapter-{n}/page.jpg"
    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([url])).json()
    assert notice["status"] == "actioned"
    return notice


def test_three_actioned_notices_suspend_the_customers_zones(api: Api) -> None:
    zone = active_zone(api, "serial.example.test")
    second = (
        api.as_("agent")
        .post(
            "/v1/zones",
            json={
                "customer_id": zone["customer_id"],
                "hostname": "mirror.example.test",
                "origin": "http://127.0.0.1:9",
            },
        )
        .json()
    )
    strike(api, zone, 1)
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert (ledger["standing"], ledger["active_strikes"]) == ("warned", 1)
    assert [s["kind"] for s in ledger["steps"]] == ["warning"]
    api.clock.advance(days=10)
    strike(api, zone, 2)
    assert zone_statuses(api, zone["zone_id"])[-1] == "active"
    api.clock.advance(days=10)
    strike(api, zone, 3)
    assert zone_statuses(api, zone["zone_id"])[-1] == "suspended"
    # The pending zone was never served: it stays pending, and cannot go live while the customer is suspended.
    assert zone_statuses(api, second["id"]) == ["pending"]
    blocked = api.as_("agent").get(f"/v1/zones/{second['id']}").json()["activation_blockers"]
    assert "the customer is suspended" in blocked
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert ledger["standing"] == "suspended"
    assert [s["kind"] for s in ledger["steps"]] == ["warning", "suspension"]
    assert ledger["steps"][-1]["strikes_counted"] == 3
    outbox = api.as_("agent").get("/v1/outbox").json()
    assert any(m["kind"] == "policy_suspension" and "3 strikes within 90 days" in m["body"] for m in outbox)

    reinstated = api.as_("agent").post(
        f"/v1/customers/{zone['customer_id']}/reinstate", json={"reason": "customer removed the material"}
    )
    assert reinstated.status_code == 200
    assert zone_statuses(api, zone["zone_id"])[-1] == "active"
    assert zone_statuses(api, second["id"]) == ["pending"]

    strike(api, zone, 4)
    assert zone_statuses(api, zone["zone_id"])[-1] == "active"
    strike(api, zone, 5)
    assert zone_statuses(api, zone["zone_id"])[-1] == "terminated"
    ledger = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert ledger["standing"] == "terminated"
    assert ledger["steps"][-1]["kind"] == "termination"


def test_strikes_outside_the_window_do_not_suspend(api: Api) -> None:
    zone = active_zone(api, "slow.example.test")
    for n in range(3):
        strike(api, zone, n)
        api.clock.advance(days=50)
    assert zone_statuses(api, zone["zone_id"])[-1] == "active"


def test_agent_terminates_on_confirmation(api: Api) -> None:
    zone = active_zone(api, "bad.example.test")
    r = api.as_("agent").post(
        f"/v1/customers/{zone['customer_id']}/terminate", json={"reason": "court order"}
    )
    assert r.status_code == 200
    assert zone_statuses(api, zone["zone_id"])[-1] == "terminated"
    again = api.as_("agent").post(f"/v1/customers/{zone['customer_id']}/terminate", json={"reason": "again"})
    assert again.status_code == 409
    assert (
        api.as_("submitter")
        .post(f"/v1/customers/{zone['customer_id']}/terminate", json={"reason": "x"})
        .status_code
        == 403
    )


def test_the_legal_page_publishes_the_designated_dmca_agent(api: Api) -> None:
    """17 U.S.C. 512(c)(2): the agent's name, address, telephone and e-mail, on the public page."""
    from staydown.api.app import create_app
    from tests.conftest import ServerThread

    assert "not configured" in httpx.get(f"{api.url}/legal", timeout=10).text
    settings = api.settings.model_copy(
        update={
            "dmca_agent_name": "Copyright Agent, Example CDN Inc.",
            "dmca_agent_address": "1 Edge Way, Wilmington, DE",
            "dmca_agent_phone": "+1 302 555 0100",
            "dmca_agent_email": "dmca@cdn.example",
            "dmca_agent_registration": "DMCA-1234567",
        }
    )
    with ServerThread(create_app(settings, api.database, clock=api.clock)) as server:
        page = httpx.get(f"{server.url}/legal", timeout=10)
    assert page.status_code == 200
    for value in ("Copyright Agent, Example CDN Inc.", "+1 302 555 0100", "dmca@cdn.example", "DMCA-1234567"):
        assert value in page.text
