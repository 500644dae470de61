"""Legal pages over HTTP: only the legal role sees them; orders, holds and packages go through the
disclosure service, so the API reads the same orders and the audit log the same accesses."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import active_zone, customer_body, notice_body

ORDER_FORM = {
    "authority": "Tokyo District Court",
    "authority_kind": "court",
    "case_number": "令和8年(ワ)第123号",
    "jurisdiction": "JP",
    "legal_basis": "jp_disclosure_order",
    "scope": ["name", "address", "email"],
    "deadline_at": "2026-12-01T17:00",
    "offset": "+09:00",
    "hold": "on",
}


def _customer(api: Api) -> int:
    created = api.as_("agent").post("/v1/customers", json=customer_body("Pirate Site"))
    customer_id: int = created.json()["id"]
    return customer_id


def _legal(api: Api) -> DeskClient:
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["legal"])
    return desk


def _trail(api: Api, order_id: int) -> list[str]:
    entries = api.as_("legal").get(f"/v1/audit/disclosure_order/{order_id}").json()
    return [e["action"] for e in entries]


@pytest.mark.parametrize("role", ["agent", "admin", "submitter"])
def test_legal_pages_do_not_exist_for_other_roles(api: Api, role: str) -> None:
    customer_id = _customer(api)
    order = api.as_("legal").post(
        "/v1/disclosure-orders",
        json={
            "customer_id": customer_id,
            "authority": "Court",
            "case_number": "1",
            "jurisdiction": "US",
            "legal_basis": "court_order",
            "scope": ["email"],
        },
    )
    assert order.status_code == 201, order.text
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys[role])
    home = desk.get("/desk/", follow_redirects=True)
    assert "/desk/legal" not in home.text  # not in the navigation
    for path in ("/desk/legal", f"/desk/legal/orders/{order.json()['id']}", "/desk/legal/holds"):
        assert desk.get(path).status_code == 404, path
    assert desk.get(f"/desk/legal/orders/{order.json()['id']}/package.json").status_code == 404
    refused = desk.post(
        f"/desk/legal/orders/{order.json()['id']}/decision", {"decision": "comply", "reason": "x"}
    )
    assert refused.status_code == 404
    assert api.as_("legal").get(f"/v1/disclosure-orders/{order.json()['id']}").json()["status"] == "received"


def test_a_legal_user_records_decides_and_downloads_an_order(api: Api) -> None:
    customer_id = _customer(api)
    desk = _legal(api)
    landing = desk.get("/desk/", follow_redirects=True)
    assert landing.url.path == "/desk/legal" and "Disclosure orders" in landing.text

    incomplete = desk.post("/desk/legal/orders", {**ORDER_FORM, "customer_id": str(customer_id), "scope": []})
    assert incomplete.status_code == 422
    assert "scope" in incomplete.text and "Tokyo District Court" in incomplete.text  # kept
    bad_time = desk.post(
        "/desk/legal/orders", {**ORDER_FORM, "customer_id": str(customer_id), "deadline_at": "soon"}
    )
    assert bad_time.status_code == 422 and "is not a date and time" in bad_time.text

    created = desk.post("/desk/legal/orders", {**ORDER_FORM, "customer_id": str(customer_id)})
    assert created.status_code == 303, created.text
    order_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = desk.get(created.headers["location"])
    assert page.status_code == 200 and "Order " in page.text and "Pirate Site" in page.text
    assert "2026-12-01 08:00 UTC" in page.text  # 17:00 in Tokyo
    assert "a package exists only after a decision" in page.text.lower()
    api_view = api.as_("legal").get(f"/v1/disclosure-orders/{order_id}").json()
    assert api_view["scope"] == ["name", "address", "email"] and len(api_view["holds"]) == 1

    early = desk.get(f"/desk/legal/orders/{order_id}/package.json")
    assert early.status_code == 409
    assert "disclosure.package_refused" in _trail(api, order_id)

    wrong = desk.post(
        f"/desk/legal/orders/{order_id}/decision",
        {"decision": "partially_comply", "reason": "only what the court needs"},
    )
    assert wrong.status_code == 422 and "must name the fields" in wrong.text
    decided = desk.post(
        f"/desk/legal/orders/{order_id}/decision",
        {"decision": "partially_comply", "field": ["name", "email"], "reason": "address is not needed"},
    )
    assert decided.status_code == 303
    assert "partially_complied" in desk.get(decided.headers["location"]).text

    package = desk.get(f"/desk/legal/orders/{order_id}/package.json")
    assert package.status_code == 200
    assert package.headers["content-disposition"] == f'attachment; filename="disclosure-{order_id}.json"'
    body = json.loads(package.content)
    assert set(body["identity"]) == {"name", "email"} and body["withheld"] == ["address"]
    assert body["identity"]["name"] == "Pirate Site"
    assert package.headers["staydown-package-sha256"] == body["sha256"]
    pdf = desk.get(f"/desk/legal/orders/{order_id}/package.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    actions = _trail(api, order_id)
    assert actions.count("disclosure.package_downloaded") == 2
    assert "disclosure.order_decided" in actions and "disclosure.order_read" in actions

    listing = desk.get("/desk/legal")
    assert f"Order {order_id}" in listing.text and "package.pdf" in listing.text
    assert api.as_("admin").get("/v1/audit/verify").json()["ok"] is True


def test_holds_are_placed_and_released_with_a_reason(api: Api) -> None:
    customer_id = _customer(api)
    desk = _legal(api)
    placed = desk.post("/desk/legal/holds", {"customer_id": str(customer_id), "reason": "expected subpoena"})
    assert placed.status_code == 303
    page = desk.get("/desk/legal/holds")
    (hold_id,) = re.findall(r"Release hold (\d+)", page.text)
    assert "expected subpoena" in page.text
    unknown = desk.post("/desk/legal/holds", {"customer_id": "999999", "reason": "x"})
    assert unknown.status_code == 404 and "does not exist" in unknown.text
    no_reason = desk.post(f"/desk/legal/holds/{hold_id}/release", {"reason": " "})
    assert no_reason.status_code == 422
    erase = api.as_("legal").post(f"/v1/customers/{customer_id}/erasure", json={"reason": "GDPR request"})
    assert erase.status_code == 409  # the hold keeps the identity
    released = desk.post(f"/desk/legal/holds/{hold_id}/release", {"reason": "no subpoena came"})
    assert released.status_code == 303
    assert "Release hold" not in desk.get("/desk/legal/holds").text  # none in force
    every = desk.get("/desk/legal/holds?active=false")
    assert "no subpoena came" in every.text
    holds = api.as_("legal").get("/v1/legal-holds", params={"customer_id": customer_id}).json()
    assert holds[0]["released_by"].startswith("key:") and holds[0]["release_reason"] == "no subpoena came"


def test_the_desk_shows_why_a_512h_subpoena_cannot_be_answered(api: Api) -> None:
    zone = active_zone(api, "subpoena.example.test")
    incomplete = api.as_("submitter").post(
        "/v1/notices", json=notice_body([f"http://{zone['hostname']}/a.jpg"], signature=None)
    )
    assert incomplete.json()["status"] == "incomplete"
    desk = _legal(api)
    created = desk.post(
        "/desk/legal/orders",
        {
            **ORDER_FORM,
            "customer_id": str(zone["customer_id"]),
            "legal_basis": "us_512h_subpoena",
            "notice_id": str(incomplete.json()["id"]),
            "jurisdiction": "US",
        },
    )
    assert created.status_code == 303, created.text
    order_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = desk.get(f"/desk/legal/orders/{order_id}").text
    assert f"notice {incomplete.json()['id']}" in page
    assert "cannot be complied with" in page and "512(c)(3)(A)" in page
    refused = desk.post(f"/desk/legal/orders/{order_id}/decision", {"decision": "comply", "reason": "valid"})
    assert refused.status_code == 409 and "cannot be complied with" in refused.text
    assert "disclosure.subpoena_refused" in _trail(api, order_id)
