"""Customers, verification and zones over HTTP: no zone goes live before identity and domain control."""

from __future__ import annotations

from typing import Any

from staydown.accounts import service as accounts
from tests.conftest import Api
from tests.dnsserver import LocalDnsServer
from tests.support import ChallengeOrigin, active_zone, customer_body


def zone_records(api: Api) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if r["kind"] == "zone"]


def test_zone_of_unverified_customer_cannot_become_active(api: Api) -> None:
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body("Anon Shop")).json()
    assert customer["verification_level"] == "none"
    with ChallengeOrigin() as origin:
        zone = agent.post(
            "/v1/zones",
            json={"customer_id": customer["id"], "hostname": "Shop.Example.COM.", "origin": origin.url},
        ).json()
        assert zone["status"] == "pending"
        assert zone["hostname"] == "shop.example.com"
        origin.files[zone["challenge"]["http_path"]] = zone["challenge"]["token"]
        validated = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
        assert origin.requests[-1] == (zone["challenge"]["http_path"], "shop.example.com")
    assert validated["validation"]["ok"] is True
    assert validated["domain_control_verified"] is True
    assert validated["status"] == "pending"
    assert any("'identity' is required" in b for b in validated["activation_blockers"])
    assert {r["status"] for r in zone_records(api)} == {"pending"}

    r = agent.post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": "email", "reason": "mail confirmed"},
    )
    assert r.status_code == 200
    assert agent.get(f"/v1/zones/{zone['id']}").json()["status"] == "pending"
    agent.post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": "identity", "reason": "passport seen"},
    )
    live = agent.get(f"/v1/zones/{zone['id']}").json()
    assert live["status"] == "active"
    assert live["activation_blockers"] == []
    assert zone_records(api)[-1] | {"at": None} == {
        "seq": zone_records(api)[-1]["seq"],
        "kind": "zone",
        "at": None,
        "zone_id": zone["id"],
        "customer_id": customer["id"],
        "hostnames": ["shop.example.com"],
        "origin": origin.url,
        "status": "active",
        "reason": "service started",
    }


def test_verified_customer_without_domain_control_stays_pending(api: Api) -> None:
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body("Known Shop")).json()
    agent.post(
        f"/v1/customers/{customer['id']}/verification/decision", json={"level": "business", "reason": "ok"}
    )
    with ChallengeOrigin() as origin:
        zone = agent.post(
            "/v1/zones",
            json={"customer_id": customer["id"], "hostname": "known.example.com", "origin": origin.url},
        ).json()
        origin.files[zone["challenge"]["http_path"]] = "somebody-else's-token"
        validated = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
    assert validated["validation"]["ok"] is False
    assert validated["status"] == "pending"
    assert validated["activation_blockers"] == [
        "control of the domain has not been proven (HTTP or DNS challenge)"
    ]
    closed = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
    assert closed["validation"]["ok"] is False
    assert "could not fetch" in closed["validation"]["detail"]
    read = agent.get(f"/v1/customers/{customer['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["zones"] == [zone["id"]]


def test_dns_challenge_against_configured_resolver(api: Api, dns: LocalDnsServer) -> None:
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body("Dns Shop")).json()
    agent.post(
        f"/v1/customers/{customer['id']}/verification/decision", json={"level": "identity", "reason": "ok"}
    )
    zone = agent.post(
        "/v1/zones",
        json={"customer_id": customer["id"], "hostname": "dns.example.net", "origin": "http://127.0.0.1:9"},
    ).json()
    assert zone["challenge"]["dns_name"] == "_staydown-challenge.dns.example.net"
    missing = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "dns"}).json()
    assert missing["validation"]["ok"] is False
    assert "no such name" in missing["validation"]["detail"]
    dns.add_txt(zone["challenge"]["dns_name"], "staydown-challenge=wrong")
    wrong = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "dns"}).json()
    assert "different token" in wrong["validation"]["detail"]
    dns.add_txt(zone["challenge"]["dns_name"], zone["challenge"]["dns_value"])
    live = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "dns"}).json()
    assert live["validation"]["ok"] is True
    assert live["status"] == "active"


def test_zone_requests_are_checked(api: Api) -> None:
    agent = api.as_("agent")
    customer = agent.post("/v1/customers", json=customer_body("Checked Shop")).json()
    base = {"customer_id": customer["id"], "origin": "http://127.0.0.1:9"}
    assert agent.post("/v1/zones", json={**base, "hostname": "a.example.org"}).status_code == 201
    taken = agent.post("/v1/zones", json={**base, "hostname": "A.EXAMPLE.ORG"})
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "hostname_taken"
    for hostname in ("localhost", "127.0.0.1", "bad host.example", "-x-.example.org" * 20):
        r = agent.post("/v1/zones", json={**base, "hostname": hostname})
        assert r.status_code == 422, hostname
    for origin in ("ftp://x.example", "http://user:pw@x.example", "not a url"):
        r = agent.post("/v1/zones", json={**base, "hostname": "b.example.org", "origin": origin})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_origin"
    assert (
        agent.post("/v1/zones", json={**base, "customer_id": 999, "hostname": "c.example.org"}).status_code
        == 404
    )


def test_identity_record_and_risk_flags(api: Api) -> None:
    agent = api.as_("agent")
    body = {"name": "Throwaway", "email": "x@mailinator.com", "payment_reference": "card-1234"}
    customer = agent.post("/v1/customers", json=body).json()
    assert set(customer["risk_flags"]) == {
        "disposable_email",
        "missing_phone",
        "missing_address",
        "no_verified_contact",
    }
    evidence = agent.post(
        f"/v1/customers/{customer['id']}/verification", json={"kind": "passport", "reference": "P1234567"}
    )
    assert evidence.status_code == 201
    decided = agent.post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": "email", "reason": "link clicked"},
    ).json()
    assert (decided["previous_level"], decided["level"]) == ("none", "email")
    again = agent.get(f"/v1/customers/{customer['id']}").json()
    assert "no_verified_contact" not in again["risk_flags"]
    trail = agent.get(f"/v1/audit/customer/{customer['id']}").json()
    assert [e["action"] for e in trail] == [
        "customer.created",
        "customer.evidence_submitted",
        "customer.verification_decided",
    ]
    # The chain names where the sign-up address is kept; the address itself stays erasable.
    assert trail[0]["data"]["signup_ip"] == "customers.signup_ip"
    with api.database.reader() as session:
        kept = accounts.get_customer(session, customer["id"])
        assert kept is not None and kept.signup_ip == "127.0.0.1"
    assert api.as_("submitter").post("/v1/customers", json=customer_body("Nope")).status_code == 403
    assert agent.post("/v1/customers", json={"name": "x", "email": "not-an-email"}).status_code == 422


def test_an_agent_sets_a_zones_service_type_with_a_reason(api: Api) -> None:
    zone = active_zone(api, "typed.example.test")
    assert api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["service_type"] == "caching"
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    body = {"service_type": "platform", "reason": "the customer hosts a public gallery on edge storage"}
    assert customer.post(f"/v1/zones/{zone['zone_id']}/service-type", json=body).status_code == 403
    assert (
        api.as_("agent")
        .post(f"/v1/zones/{zone['zone_id']}/service-type", json={"service_type": "cdn", "reason": "x"})
        .status_code
        == 422
    )
    r = api.as_("agent").post(f"/v1/zones/{zone['zone_id']}/service-type", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["service_type"] == "platform"
    trail = api.as_("agent").get(f"/v1/audit/zone/{zone['zone_id']}").json()
    assert trail[-1]["action"] == "zone.service_type_set" and trail[-1]["data"]["to"] == "platform"
