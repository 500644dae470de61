"""No return after termination: identity marks (pure), and over HTTP a new customer sharing a
telephone number and an origin with a terminated one is flagged and kept pending until reviewed."""

from __future__ import annotations

from typing import Any

from staydown.serial import linking
from staydown.serial.linking import IdentityRecord
from tests.conftest import Api
from tests.support import ChallengeOrigin, customer_body


def test_marks_agree_across_spellings() -> None:
    one = linking.marks(
        IdentityRecord(
            name="ACME \uff28\uff4f\uff53\uff54\uff49\uff4e\uff47, Inc.",  # full-width letters
            email="Boss+cdn@Pirate-Site.biz",
            phone="+81 (90) 1234-5678",
            address="1-2-3 Shibuya, Tokyo",
            payment_reference="tok_ABC 123",
            signup_ip="203.0.113.7",
            origins=("http://198.51.100.7:8080",),
            hostnames=("manga.pirate-site.co.uk",),
        )
    )
    two = linking.marks(
        IdentityRecord(
            name="acme hosting inc",
            email="boss@pirate-site.biz",
            phone="090 1234 5678",
            address="1 2 3 shibuya tokyo",
            payment_reference="TOK_abc123",
            signup_ip="203.0.113.200",
            origins=("http://198.51.100.7:8080",),
            hostnames=("www.pirate-site.co.uk",),
        )
    )
    assert {kind for kind, _ in one & two} == {
        "name",
        "email",
        "email_domain",
        "phone",
        "address",
        "payment",
        "origin_host",
        "registered_domain",
    }
    # Documentation and loopback addresses are nobody's own: no sign-up network or origin address mark.
    assert not {kind for kind, _ in one} & {"signup_network", "origin_address"}


def test_public_addresses_networks_and_shared_mail_providers() -> None:
    found = linking.marks(
        IdentityRecord(
            email="someone@gmail.com", signup_ip="8.8.4.4", origin_addresses=("1.1.1.1", "10.0.0.1")
        )
    )
    assert ("signup_network", "8.8.4.0/24") in found
    assert ("origin_address", "1.1.1.1") in found and ("origin_address", "10.0.0.1") not in found
    assert not any(kind == "email_domain" for kind, _ in found)
    for reserved in ("shop@example.com", "shop@pirate.example", "shop@site.test"):  # RFC 2606 names
        assert not any(kind == "email_domain" for kind, _ in linking.marks(IdentityRecord(email=reserved)))


def test_a_customer_with_no_contact_fields_has_only_what_it_gave() -> None:
    assert linking.marks(IdentityRecord()) == set()
    assert (
        linking.marks(IdentityRecord(name="Al", email="no-at-sign", phone="12", signup_ip="garbage")) == set()
    )


def _customer(api: Api, **fields: Any) -> dict[str, Any]:
    r = api.as_("agent").post("/v1/customers", json=customer_body(**fields))
    assert r.status_code == 201, r.text
    customer: dict[str, Any] = r.json()
    r = api.as_("agent").post(
        f"/v1/customers/{customer['id']}/verification/decision",
        json={"level": "identity", "reason": "checked"},
    )
    assert r.status_code == 200, r.text
    return customer


def _zone(api: Api, origin: ChallengeOrigin, customer_id: int, hostname: str) -> dict[str, Any]:
    agent = api.as_("agent")
    zone = agent.post(
        "/v1/zones", json={"customer_id": customer_id, "hostname": hostname, "origin": origin.url}
    ).json()
    origin.files[zone["challenge"]["http_path"]] = zone["challenge"]["token"]
    validated: dict[str, Any] = agent.post(f"/v1/zones/{zone['id']}/validate", json={"method": "http"}).json()
    return validated


def _terminated_pirate(api: Api, origin: ChallengeOrigin) -> dict[str, Any]:
    old = _customer(
        api,
        name="Old Pirate",
        email="boss@oldpirate.example",
        phone="+81 90-1234-5678",
        address="9 Harbour Rd",
    )
    assert _zone(api, origin, old["id"], "manga.pirate-site.co.uk")["status"] == "active"
    r = api.as_("agent").post(f"/v1/customers/{old['id']}/terminate", json={"reason": "repeat infringer"})
    assert r.status_code == 200, r.text
    return old


def test_a_returning_operator_is_linked_and_its_zone_waits_for_an_agent(api: Api) -> None:
    with ChallengeOrigin() as origin:
        old = _terminated_pirate(api, origin)
        new = _customer(
            api,
            name="New Venture",
            email="ceo@newventure.example",
            phone="+81 (90) 1234 5678",
            address="1 Main St",
        )
        flags = api.as_("agent").get(f"/v1/customers/{new['id']}").json()["risk_flags"]
        assert f"linked_to:{old['id']}" in flags  # kept through the verification decision
        zone = _zone(api, origin, new["id"], "www.pirate-site.co.uk")
    assert zone["status"] == "pending" and zone["domain_control_verified"]
    assert any(f"customer {old['id']}" in b for b in zone["activation_blockers"])
    [link] = api.as_("agent").get(f"/v1/customers/{new['id']}/links").json()
    assert link["linked_customer_id"] == old["id"] and link["status"] == "open"
    assert link["found_during"] == "signup"
    assert {e["mark"] for e in link["evidence"]} == {"phone", "origin_host", "registered_domain"}

    r = api.as_("agent").post(
        f"/v1/customer-links/{link['id']}/review", json={"decision": "clear", "reason": "a reseller, checked"}
    )
    assert r.status_code == 200 and r.json()["status"] == "cleared"
    assert api.as_("agent").get(f"/v1/zones/{zone['id']}").json()["status"] == "active"
    trail = api.as_("legal").get(f"/v1/audit/customer/{new['id']}").json()
    reviewed = [e for e in trail if e["action"] == "customer.link_reviewed"]
    assert reviewed and reviewed[0]["data"]["decision"] == "clear"
    assert "+81" not in str([e for e in trail if e["action"] == "customer.linked"])  # kinds, not values
    again = api.as_("agent").post(
        f"/v1/customer-links/{link['id']}/review", json={"decision": "clear", "reason": "x"}
    )
    assert again.status_code == 409


def test_a_confirmed_link_terminates_the_new_customer(api: Api) -> None:
    with ChallengeOrigin() as origin:
        old = _terminated_pirate(api, origin)
        new = _customer(api, name="Other Name", email="x@elsewhere.example", phone="+1 202 555 0199")
        assert not api.as_("agent").get(f"/v1/customers/{new['id']}/links").json()
        zone = _zone(api, origin, new["id"], "cdn.pirate-site.co.uk")
    assert zone["status"] == "pending"
    [link] = api.as_("agent").get(f"/v1/customers/{new['id']}/links").json()
    assert link["found_during"] == "zone" and link["linked_customer_id"] == old["id"]
    r = api.as_("agent").post(
        f"/v1/customer-links/{link['id']}/review",
        json={"decision": "confirm", "reason": "same origin, same site"},
    )
    assert r.status_code == 200
    assert api.as_("agent").get(f"/v1/zones/{zone['id']}").json()["status"] == "terminated"
    assert api.as_("agent").get(f"/v1/customers/{new['id']}/strikes").json()["standing"] == "terminated"


def test_customers_in_good_standing_link_nobody(api: Api) -> None:
    first = _customer(api, name="Good Shop", phone="+44 20 7946 0000")
    second = _customer(api, name="Good Shop", phone="+44 20 7946 0000")
    for customer in (first, second):
        assert not any(
            f.startswith("linked_to:")
            for f in api.as_("agent").get(f"/v1/customers/{customer['id']}").json()["risk_flags"]
        )
