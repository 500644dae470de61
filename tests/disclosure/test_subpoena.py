"""17 U.S.C. §512(h) subpoenas tied to the DMCA notice they rest on: answered only when that notice
is a complete §512(c)(3)(A) notification naming material on the customer's zones, and then with
identifying information alone; every step recorded and audited."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from staydown.disclosure.flows import IdentityField
from staydown.disclosure.subpoena import REACH, SubpoenaFacts, identified, limited_fields, objections
from staydown.types import ServiceType
from tests.conftest import Api
from tests.support import active_zone, notice_body

SCOPE = ["name", "organization", "address", "phone", "email", "signup_ip", "payment_reference", "zones"]


def facts(**overrides: Any) -> SubpoenaFacts:
    values: dict[str, Any] = {
        "regime": "dmca",
        "rests_on_notification": True,
        "missing_elements": (),
        "customer_items": 2,
        "service_types": frozenset({ServiceType.hosting}),
    }
    values.update(overrides)
    return SubpoenaFacts(**values)


def test_what_stops_an_answer() -> None:
    assert objections(facts()) == []
    assert [o.code for o in objections(facts(regime="dsa", rests_on_notification=False))] == ["not_dmca"]
    missing = objections(facts(missing_elements=("DMCA (i) signature",)))
    assert [o.code for o in missing] == ["notice_incomplete"] and "DMCA (i) signature" in missing[0].message
    assert [o.code for o in objections(facts(customer_items=0, service_types=frozenset()))] == [
        "customer_not_in_notice"
    ]
    # Verizon (D.C. Cir. 2003): a subpoena reaches what the provider stores; every zone type here does.
    assert set(REACH) == set(ServiceType)
    assert "originating site" in identified({ServiceType.caching})
    assert "512(c)" in identified({ServiceType.hosting, ServiceType.platform})


def test_only_identifying_fields_may_be_released() -> None:
    scope = [IdentityField(f) for f in SCOPE]
    assert [f.value for f in limited_fields(scope)] == ["name", "organization", "address", "phone", "email"]


def order(customer_id: int, notice_id: int | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "notice_id": notice_id,
        "authority": "US District Court for the Northern District of California",
        "case_number": "5:26-mc-80077",
        "jurisdiction": "US",
        "legal_basis": "us_512h_subpoena",
        "scope": SCOPE,
    }
    body.update(overrides)
    return body


def dmca_notice(api: Api, hostname: str, **overrides: Any) -> dict[str, Any]:
    urls = [f"http://{hostname}/vol1/{n}.jpg" for n in range(3)]
    r = api.as_("submitter").post("/v1/notices", json=notice_body(urls, **overrides))
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    return notice


def audit_actions(api: Api, order_id: int) -> list[str]:
    return [e["action"] for e in api.as_("legal").get(f"/v1/audit/disclosure_order/{order_id}").json()]


def test_a_subpoena_must_rest_on_a_dmca_notice(api: Api) -> None:
    zone = active_zone(api, "hosted.example.test", service_type="hosting")
    legal = api.as_("legal")
    bare = legal.post("/v1/disclosure-orders", json=order(zone["customer_id"], None))
    assert bare.status_code == 422 and "notice_id" in bare.text
    missing = legal.post("/v1/disclosure-orders", json=order(zone["customer_id"], 999_999))
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "notice_not_found"
    dsa = api.as_("submitter").post(
        "/v1/notices", json=notice_body([f"http://{zone['hostname']}/x.jpg"], regime="dsa")
    )
    refused = legal.post("/v1/disclosure-orders", json=order(zone["customer_id"], dsa.json()["id"]))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_dmca"
    # Other orders may name a notice, or none.
    other = legal.post(
        "/v1/disclosure-orders", json=order(zone["customer_id"], None, legal_basis="court_order")
    )
    assert other.status_code == 201 and other.json()["answerable"] is None


@pytest.mark.parametrize("service_type", ["hosting", "caching"])
def test_a_subpoena_on_a_complete_notice_releases_identifying_information_only(
    api: Api, service_type: str
) -> None:
    zone = active_zone(
        api, f"{service_type}.example.test", name="Alleged Infringer", service_type=service_type
    )
    notice = dmca_notice(api, zone["hostname"])
    legal = api.as_("legal")
    created = legal.post("/v1/disclosure-orders", json=order(zone["customer_id"], notice["id"]))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["notice_id"] == notice["id"] and view["answerable"] is True and view["objections"] == []

    # Partial compliance cannot reach past what the statute orders.
    beyond = legal.post(
        f"/v1/disclosure-orders/{view['id']}/decision",
        json={"decision": "partially_comply", "reason": "narrowed", "fields": ["email", "signup_ip"]},
    )
    assert beyond.status_code == 422 and "does not let us disclose: signup_ip" in beyond.text
    complied = legal.post(
        f"/v1/disclosure-orders/{view['id']}/decision",
        json={"decision": "comply", "reason": "valid subpoena"},
    )
    assert complied.status_code == 200, complied.text
    assert complied.json()["released"] == ["name", "organization", "address", "phone", "email"]

    package = legal.get(f"/v1/disclosure-orders/{view['id']}/package").json()
    assert set(package["identity"]) == {"name", "organization", "address", "phone", "email"}
    assert package["identity"]["name"] == "Alleged Infringer"
    assert package["withheld"] == ["signup_ip", "payment_reference", "zones"]
    assert package["notice"]["id"] == notice["id"] and package["notice"]["material_count"] == 3
    assert package["notice"]["material"][0] == f"http://{zone['hostname']}/vol1/0.jpg"
    assert "512(h)(3)" in package["notice"]["legal_basis"]
    assert ("originating site" in package["notice"]["identifies"]) is (service_type == "caching")
    pdf = legal.get(f"/v1/disclosure-orders/{view['id']}/package.pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert f"Notice {notice['id']} the subpoena rests on" in text
    trail = api.as_("legal").get(f"/v1/audit/disclosure_order/{view['id']}").json()
    assert trail[0]["action"] == "disclosure.order_created" and trail[0]["data"]["notice_id"] == notice["id"]
    assert [e["action"] for e in trail][-2:] == [
        "disclosure.package_downloaded",
        "disclosure.package_downloaded",
    ]


def test_an_incomplete_or_foreign_notice_holds_the_answer_until_it_is_complete(api: Api) -> None:
    zone = active_zone(api, "pending.example.test", service_type="platform")
    other = active_zone(api, "elsewhere.example.test", service_type="platform")
    incomplete = dmca_notice(api, zone["hostname"], signature=None)
    assert incomplete["status"] == "incomplete"
    legal = api.as_("legal")
    view = legal.post("/v1/disclosure-orders", json=order(zone["customer_id"], incomplete["id"])).json()
    assert view["answerable"] is False
    assert [o["code"] for o in view["objections"]] == ["notice_incomplete"]
    refused = legal.post(
        f"/v1/disclosure-orders/{view['id']}/decision", json={"decision": "comply", "reason": "subpoena"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "subpoena_not_answerable"
    assert refused.json()["error"]["details"][0]["code"] == "notice_incomplete"
    assert legal.get(f"/v1/disclosure-orders/{view['id']}").json()["status"] == "received"
    assert "disclosure.subpoena_refused" in audit_actions(api, view["id"])

    # The notice names nothing of this other customer: that subpoena is not answerable either.
    foreign = legal.post("/v1/disclosure-orders", json=order(other["customer_id"], incomplete["id"])).json()
    assert {o["code"] for o in foreign["objections"]} == {"notice_incomplete", "customer_not_in_notice"}

    # Completed, the notice supports the subpoena about its customer (not the other one).
    supplemented = api.as_("submitter").post(
        f"/v1/notices/{incomplete['id']}/supplement", json={"signature": "Rights Agent"}
    )
    assert supplemented.status_code == 200, supplemented.text
    assert legal.get(f"/v1/disclosure-orders/{view['id']}").json()["answerable"] is True
    assert [o["code"] for o in legal.get(f"/v1/disclosure-orders/{foreign['id']}").json()["objections"]] == [
        "customer_not_in_notice"
    ]
    ok = legal.post(
        f"/v1/disclosure-orders/{view['id']}/decision", json={"decision": "comply", "reason": "now valid"}
    )
    assert ok.status_code == 200, ok.text
    # The unanswerable one can still be contested (a motion to quash).
    contested = legal.post(
        f"/v1/disclosure-orders/{foreign['id']}/decision",
        json={"decision": "contest", "reason": "wrong customer"},
    )
    assert contested.status_code == 200 and contested.json()["status"] == "contested"
    assert api.as_("legal").get("/v1/audit/verify").json()["ok"] is True
