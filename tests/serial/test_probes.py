"""A terminated pirate's site returning under a new identity is recognised by its content: the
images at the noticed paths match the bank entries of the old notices."""

from __future__ import annotations

from typing import Any

from staydown.demo.pages import render_page
from staydown.fingerprints import service as fingerprints
from staydown.netguard import OriginAccess, OriginGuard
from staydown.serial import service as serial
from tests.conftest import Api
from tests.edge.harness import Route, ScriptedOrigin, live_zone
from tests.support import customer_body, jpeg, notice_body

IMAGE = {"Content-Type": "image/jpeg", "Cache-Control": "public, max-age=60"}


def _new_zone(api: Api, origin: ScriptedOrigin, name: str, hostname: str, phone: str) -> dict[str, Any]:
    agent = api.as_("agent")
    customer = agent.post(
        "/v1/customers",
        json=customer_body(name, email=f"owner@{name.lower()}.biz", phone=phone, address=f"1 {name} Way"),
    ).json()
    agent.post(
        f"/v1/customers/{customer['id']}/verification/decision", json={"level": "identity", "reason": "ok"}
    ).raise_for_status()
    zone = agent.post(
        "/v1/zones", json={"customer_id": customer["id"], "hostname": hostname, "origin": origin.url}
    ).json()
    origin.routes[zone["challenge"]["http_path"]] = Route(zone["challenge"]["token"].encode())
    validated: dict[str, Any] = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
    return {"customer_id": customer["id"], **validated}


def test_the_same_images_at_the_same_paths_link_a_new_customer_to_the_terminated_one(api: Api) -> None:
    with ScriptedOrigin() as old_origin, ScriptedOrigin() as same, ScriptedOrigin() as other:
        old = live_zone(api, old_origin, "old-pirate.example.test")
        old_origin.routes["/vol1/p1.jpg"] = Route(jpeg(render_page(71)), headers=IMAGE)
        notice = api.as_("trusted_flagger").post(
            "/v1/notices", json=notice_body(["http://old-pirate.example.test/vol1/p1.jpg"])
        )
        assert notice.json()["status"] == "actioned"
        assert fingerprints.run_captures(api.database, now=api.clock(), settings=api.settings) == 1
        r = api.as_("agent").post(f"/v1/customers/{old['customer_id']}/terminate", json={"reason": "serial"})
        assert r.status_code == 200

        same.routes["/vol1/p1.jpg"] = Route(jpeg(render_page(71), quality=70), headers=IMAGE)  # re-encoded
        other.routes["/vol1/p1.jpg"] = Route(jpeg(render_page(5)), headers=IMAGE)
        returning = _new_zone(api, same, "Fresh", "fresh-start.example.test", "+1 202 555 0111")
        honest = _new_zone(api, other, "Honest", "honest-shop.example.test", "+1 202 555 0122")
        for zone in (returning, honest):
            assert zone["status"] == "pending"
            assert any("being compared" in b for b in zone["activation_blockers"])
            assert not api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/links").json()

        probed = serial.run_content_probes(
            api.database,
            now=api.clock(),
            settings=api.settings,
            guard=OriginGuard(OriginAccess.from_settings(api.settings)),
        )
        assert probed == 2
    [link] = api.as_("agent").get(f"/v1/customers/{returning['customer_id']}/links").json()
    assert link["linked_customer_id"] == old["customer_id"] and link["found_during"] == "content"
    assert [e["mark"] for e in link["evidence"]] == ["content"]
    assert "/vol1/p1.jpg is bank entry" in link["evidence"][0]["value"]
    blockers = api.as_("agent").get(f"/v1/zones/{returning['id']}").json()["activation_blockers"]
    assert blockers == [
        f"the customer is linked to suspended or terminated customer {old['customer_id']}; "
        "an agent must review the link"
    ]
    assert api.as_("agent").get(f"/v1/zones/{honest['id']}").json()["status"] == "active"
    assert not api.as_("agent").get(f"/v1/customers/{honest['customer_id']}/links").json()
