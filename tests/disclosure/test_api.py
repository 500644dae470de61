"""Disclosure orders over HTTP: legal alone, packages only after a decision, every access audited,
the customer told unless gagged, and a legal hold that stops erasure."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.conftest import Api
from tests.support import active_zone


def order_body(customer_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "authority": "Tokyo District Court",
        "case_number": "令和8年(モ)第1234号",
        "jurisdiction": "JP",
        "legal_basis": "jp_disclosure_order",
        "legal_basis_detail": "Information Distribution Platform Act, Art. 8",
        "scope": ["name", "address", "phone", "email", "signup_ip"],
        "deadline_at": "2026-11-20T17:00:00+09:00",
    }
    body.update(overrides)
    return body


def other_clients(api: Api, customer_key: str) -> dict[str, httpx.Client]:
    clients = {role: api.as_(role) for role in ("admin", "agent", "submitter", "trusted_flagger", "edge")}
    customer = httpx.Client(base_url=api.url, headers={"authorization": f"Bearer {customer_key}"})
    api.clients.append(customer)
    clients["customer"] = customer
    return clients


def identity_now(api: Api, customer_id: int) -> dict[str, Any]:
    """The customer's identity record as a fresh (gagged, hold-free) order's package shows it."""
    legal = api.as_("legal")
    scope = ["name", "address", "phone", "email", "signup_ip"]
    body = order_body(customer_id, gagged=True, hold=False, case_number="check", scope=scope)
    order_id = legal.post("/v1/disclosure-orders", json=body).json()["id"]
    legal.post(f"/v1/disclosure-orders/{order_id}/decision", json={"decision": "comply", "reason": "check"})
    identity: dict[str, Any] = legal.get(f"/v1/disclosure-orders/{order_id}/package").json()["identity"]
    return identity


def audit_actions(api: Api, order_id: int) -> list[str]:
    entries = api.as_("legal").get(f"/v1/audit/disclosure_order/{order_id}").json()
    return [e["action"] for e in entries]


def customer_messages(api: Api, email: str) -> list[dict[str, Any]]:
    return [
        m
        for m in api.as_("agent").get("/v1/outbox", params={"limit": 1000}).json()
        if m["kind"].startswith("disclosure_") and m["recipient"] == email
    ]


def test_only_legal_may_touch_orders_and_packages(api: Api) -> None:
    zone = active_zone(api, "manga.example.test", name="Anonymous Uploader")
    legal = api.as_("legal")
    order = legal.post("/v1/disclosure-orders", json=order_body(zone["customer_id"]))
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    legal.post(f"/v1/disclosure-orders/{order_id}/decision", json={"decision": "comply", "reason": "valid"})
    for role, client in other_clients(api, zone["key"]).items():
        attempts = [
            client.post("/v1/disclosure-orders", json=order_body(zone["customer_id"])),
            client.get("/v1/disclosure-orders"),
            client.get(f"/v1/disclosure-orders/{order_id}"),
            client.post(
                f"/v1/disclosure-orders/{order_id}/decision", json={"decision": "close", "reason": "x"}
            ),
            client.get(f"/v1/disclosure-orders/{order_id}/package"),
            client.get(f"/v1/disclosure-orders/{order_id}/package.pdf"),
            client.post("/v1/legal-holds", json={"customer_id": zone["customer_id"], "reason": "x"}),
            client.get("/v1/legal-holds"),
        ]
        for response in attempts:
            assert response.status_code == 403, (role, response.request.url, response.text)
            assert response.json()["error"]["code"] == "forbidden"
            assert "legal role only" in response.json()["error"]["message"]
    assert legal.get(f"/v1/disclosure-orders/{order_id}/package").status_code == 200
    # Nothing the refused callers tried left a trace: one order, still complied, never closed.
    orders = legal.get("/v1/disclosure-orders").json()
    assert [(o["id"], o["status"]) for o in orders] == [(order_id, "complied")]


def test_package_only_after_the_decision_and_every_access_audited(api: Api) -> None:
    zone = active_zone(api, "manga.example.test", name="Anonymous Uploader")
    legal = api.as_("legal")
    created = legal.post("/v1/disclosure-orders", json=order_body(zone["customer_id"])).json()
    order_id = created["id"]
    assert created["status"] == "received" and created["package_available"] is False
    assert [h["reason"] for h in created["holds"]] == [
        "jp_disclosure_order 令和8年(モ)第1234号 (Tokyo District Court)"
    ]

    for path in ("package", "package.pdf"):
        refused = legal.get(f"/v1/disclosure-orders/{order_id}/{path}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "no_decision"
    assert legal.get(f"/v1/disclosure-orders/{order_id}").json()["status"] == "received"

    api.clock.advance(days=3)
    decided = legal.post(
        f"/v1/disclosure-orders/{order_id}/decision",
        json={"decision": "comply", "reason": "the order is valid and specific"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["released"] == ["name", "address", "phone", "email", "signup_ip"]
    again = legal.post(
        f"/v1/disclosure-orders/{order_id}/decision", json={"decision": "contest", "reason": "changed mind"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"

    package = legal.get(f"/v1/disclosure-orders/{order_id}/package")
    assert package.status_code == 200
    assert package.headers["cache-control"] == "no-store"
    body = package.json()
    assert body["identity"]["name"] == "Anonymous Uploader"
    assert body["identity"]["email"] == "anonymous-uploader@example.com"
    assert body["identity"]["phone"] == "+1 555 0100"
    assert body["identity"]["address"] == "1 Main St, Springfield"
    assert body["identity"]["signup"]["ip"] == "127.0.0.1"
    assert body["order"]["case_number"] == "令和8年(モ)第1234号"
    assert body["decision"]["status"] == "complied" and body["withheld"] == []
    assert package.headers["staydown-package-sha256"] == body["sha256"]

    pdf = legal.get(f"/v1/disclosure-orders/{order_id}/package.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        "Anonymous Uploader",
        "anonymous-uploader@example.com",
        "Tokyo District Court",
        body["sha256"],
    ):
        assert expected in text.replace("\n", ""), expected
    # The person who decided is named as the desk names them, never by the key's record.
    assert body["decision"]["decided_by"].endswith("(legal)")
    assert body["decision"]["decided_by"] in text.replace("\n", " ") and "key:" not in text
    assert pdf.headers["staydown-package-sha256"] == body["sha256"]

    assert audit_actions(api, order_id) == [
        "disclosure.order_created",
        "disclosure.package_refused",
        "disclosure.package_refused",
        "disclosure.order_read",
        "disclosure.order_decided",
        "disclosure.package_downloaded",
        "disclosure.package_downloaded",
    ]
    trail = api.as_("legal").get(f"/v1/audit/disclosure_order/{order_id}").json()
    downloads = [e["data"] for e in trail if e["action"] == "disclosure.package_downloaded"]
    assert [d["format"] for d in downloads] == ["json", "pdf"]
    assert {d["package_sha256"] for d in downloads} == {body["sha256"]}
    assert all(e["actor"].startswith("key:") for e in trail)
    verify = api.as_("legal").get("/v1/audit/verify").json()
    assert verify["ok"] is True and verify["first_bad"] is None


def test_partial_compliance_releases_only_the_named_fields(api: Api) -> None:
    zone = active_zone(api, "photos.example.test", name="Photo Poster")
    legal = api.as_("legal")
    order_id = legal.post(
        "/v1/disclosure-orders",
        json=order_body(
            zone["customer_id"],
            authority="US District Court for the Northern District of California",
            case_number="5:26-mc-80001",
            jurisdiction="US",
            legal_basis="court_order",
            scope=["name", "email", "phone", "zones"],
        ),
    ).json()["id"]
    bad = legal.post(
        f"/v1/disclosure-orders/{order_id}/decision",
        json={"decision": "partially_comply", "reason": "narrowed", "fields": ["address"]},
    )
    assert bad.status_code == 422 and "outside the order's scope: address" in bad.json()["error"]["message"]
    ok = legal.post(
        f"/v1/disclosure-orders/{order_id}/decision",
        json={"decision": "partially_comply", "reason": "only what identifies", "fields": ["email", "zones"]},
    )
    assert ok.status_code == 200, ok.text
    package = legal.get(f"/v1/disclosure-orders/{order_id}/package").json()
    assert set(package["identity"]) == {"email", "zones"}
    assert package["identity"]["zones"][0]["hostname"] == "photos.example.test"
    assert package["withheld"] == ["name", "phone"]


def test_customer_told_unless_the_order_forbids_it(api: Api) -> None:
    told = active_zone(api, "told.example.test", name="Told Customer")
    gagged = active_zone(api, "gagged.example.test", name="Gagged Customer")
    legal = api.as_("legal")
    open_order = legal.post("/v1/disclosure-orders", json=order_body(told["customer_id"])).json()
    secret_order = legal.post(
        "/v1/disclosure-orders",
        json=order_body(gagged["customer_id"], gagged=True, gag_note="non-disclosure order under seal"),
    ).json()
    for order in (open_order, secret_order):
        r = legal.post(
            f"/v1/disclosure-orders/{order['id']}/decision", json={"decision": "comply", "reason": "valid"}
        )
        assert r.status_code == 200
    messages = customer_messages(api, "told-customer@example.com")
    assert [m["kind"] for m in sorted(messages, key=lambda m: m["id"])] == [
        "disclosure_received",
        "disclosure_complied",
    ]
    assert "令和8年(モ)第1234号" in messages[0]["body"]
    assert legal.get(f"/v1/disclosure-orders/{open_order['id']}").json()["customer_notified_at"] is not None

    assert customer_messages(api, "gagged-customer@example.com") == []
    # The gagged customer's own view of its outbox has no trace of the order either.
    client = httpx.Client(base_url=api.url, headers={"authorization": f"Bearer {gagged['key']}"})
    api.clients.append(client)
    assert not any(m["kind"].startswith("disclosure_") for m in client.get("/v1/outbox").json())
    assert legal.get(f"/v1/disclosure-orders/{secret_order['id']}").json()["customer_notified_at"] is None


@pytest.mark.parametrize("release", ["hold", "close"])
def test_legal_hold_blocks_erasure_until_released(api: Api, release: str) -> None:
    zone = active_zone(api, "held.example.test", name="Held Customer")
    legal, admin = api.as_("legal"), api.as_("admin")
    order = legal.post(
        "/v1/disclosure-orders",
        json=order_body(zone["customer_id"], legal_basis="jp_log_preservation_order", scope=["signup_ip"]),
    ).json()
    refused = admin.post(
        f"/v1/customers/{zone['customer_id']}/erasure", json={"reason": "GDPR Art. 17 request"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "legal_hold"
    assert refused.json()["error"]["details"][0]["order_id"] == order["id"]
    identity = identity_now(api, zone["customer_id"])
    assert identity["name"] == "Held Customer" and identity["email"] == "held-customer@example.com"
    assert identity["signup"]["ip"] == "127.0.0.1"
    assert (
        api.as_("agent")
        .post(f"/v1/customers/{zone['customer_id']}/erasure", json={"reason": "x"})
        .status_code
        == 403
    )

    if release == "hold":
        hold_id = order["holds"][0]["id"]
        released = legal.post(f"/v1/legal-holds/{hold_id}/release", json={"reason": "logs handed over"})
        assert released.status_code == 200 and released.json()["released_at"] is not None
    else:
        closed = legal.post(
            f"/v1/disclosure-orders/{order['id']}/decision", json={"decision": "close", "reason": "withdrawn"}
        )
        assert closed.status_code == 200 and closed.json()["holds"][0]["released_at"] is not None
    assert legal.get("/v1/legal-holds", params={"active": True}).json() == []

    erased = admin.post(f"/v1/customers/{zone['customer_id']}/erasure", json={"reason": "GDPR Art. 17"})
    assert erased.status_code == 200, erased.text
    assert set(erased.json()["erased_fields"]) >= {"name", "email", "address", "phone", "signup_ip"}
    identity = identity_now(api, zone["customer_id"])
    assert identity["name"] == "(erased)" and identity["address"] is None and identity["phone"] is None
    assert identity["signup"]["ip"] is None and identity["email"].endswith("@erased.invalid")
    trail = [e["action"] for e in api.as_("legal").get(f"/v1/audit/customer/{zone['customer_id']}").json()]
    assert trail.count("customer.erasure_refused") == 1 and trail[-1] == "customer.identity_erased"
    assert api.as_("legal").get("/v1/audit/verify").json()["ok"] is True


def test_standalone_hold_and_bad_input(api: Api) -> None:
    zone = active_zone(api, "solo.example.test", name="Solo Customer")
    legal = api.as_("legal")
    missing = legal.post("/v1/disclosure-orders", json=order_body(99999))
    assert missing.status_code == 404 and "customer 99999" in missing.json()["error"]["message"]
    naive = legal.post(
        "/v1/disclosure-orders", json=order_body(zone["customer_id"], deadline_at="2026-12-01T00:00:00")
    )
    assert naive.status_code == 422 and "deadline_at" in naive.json()["error"]["message"]
    unknown = legal.post("/v1/disclosure-orders", json=order_body(zone["customer_id"], scope=["passport"]))
    assert unknown.status_code == 422
    no_hold = legal.post("/v1/disclosure-orders", json=order_body(zone["customer_id"], hold=False)).json()
    assert no_hold["holds"] == []
    hold = legal.post(
        "/v1/legal-holds", json={"customer_id": zone["customer_id"], "reason": "litigation expected"}
    )
    assert hold.status_code == 201
    assert (
        api.as_("admin")
        .post(f"/v1/customers/{zone['customer_id']}/erasure", json={"reason": "request"})
        .status_code
        == 409
    )
    twice = legal.post(f"/v1/legal-holds/{hold.json()['id']}/release", json={"reason": "done"})
    assert twice.status_code == 200
    again = legal.post(f"/v1/legal-holds/{hold.json()['id']}/release", json={"reason": "done"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_released"
    assert (
        api.as_("admin")
        .post(f"/v1/customers/{zone['customer_id']}/erasure", json={"reason": "request"})
        .status_code
        == 200
    )
