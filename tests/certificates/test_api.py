"""Over the API: a customer's own certificate is checked, served through the feed with its key
sealed, taken back when the zone is suspended or terminated; HTTPS settings reach the edges; no
answer, feed record, snapshot or log line carries a private key."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from staydown import certseal
from staydown.certificates import service as certificates
from staydown.certificates.metrics import CertificatesCollector
from staydown.certificates.models import CertificateSource
from staydown.certificates.validation import check
from staydown.edge.state import SnapshotLoader
from tests.certificates.factories import chain
from tests.conftest import Api
from tests.support import active_zone


def feed(api: Api, kind: str | None = None) -> list[dict[str, Any]]:
    records = api.as_("edge").get("/v1/edge/feed", params={"after": 0}).json()["records"]
    return [r for r in records if kind is None or r["kind"] == kind]


def upload_body(hosts: list[str], api: Api, **options: Any) -> tuple[dict[str, str], bytes]:
    made = chain(hosts, now=api.clock(), **options)
    return {"certificate": made.pem().decode(), "private_key": made.key().decode()}, made.key()


def test_an_uploaded_certificate_is_served_through_the_feed_with_its_key_sealed(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zone = active_zone(api, "shop.example.com")
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    assert customer.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["order"]["purpose"] == "issue"
    body, key = upload_body(["shop.example.com"], api)
    r = customer.post(f"/v1/zones/{zone['zone_id']}/certificate", json=body)
    assert r.status_code == 201, r.text
    served = r.json()
    assert served["certificate"]["source"] == "upload"
    assert served["certificate"]["hostnames"] == ["shop.example.com"]
    assert served["order"] is None  # ACME no longer orders or renews for this zone
    (record,) = feed(api, "cert_set")
    assert record["zone_id"] == zone["zone_id"] and record["source"] == "upload"
    assert record["cert_id"] == served["certificate"]["id"]
    secret = api.settings.cert_seal_secret()
    assert (
        certseal.unseal(
            record["key_sealed"], secret=secret, zone_id=zone["zone_id"], cert_id=record["cert_id"]
        )
        == key
    )
    snapshot = api.as_("edge").get("/v1/edge/snapshot")
    loader = SnapshotLoader()
    for line in snapshot.content.splitlines():  # httpx undoes the gzip content-encoding
        loader.feed(line)
    assert loader.finish().certs[zone["zone_id"]].key_sealed == record["key_sealed"]
    listed = api.as_("agent").get("/v1/certificates").json()
    assert [c["zone_id"] for c in listed] == [zone["zone_id"]]
    key_text = key.decode().split("-----")[2].strip().splitlines()[0]  # a line of the key's base64
    for text in (
        r.text,
        json.dumps(feed(api)),
        snapshot.content.decode(),
        json.dumps(listed),
        customer.get(f"/v1/zones/{zone['zone_id']}/certificate").text,
        caplog.text,
    ):
        assert "PRIVATE KEY" not in text and key_text not in text


def test_bad_uploads_are_refused_with_every_reason_and_change_nothing(api: Api) -> None:
    zone = active_zone(api, "shop.example.com")
    agent = api.as_("agent")
    other, _key = upload_body(["other.example.org"], api, days=-1)
    mismatched = {
        "certificate": other["certificate"],
        "private_key": upload_body(["shop.example.com"], api)[0]["private_key"],
    }
    r = agent.post(f"/v1/zones/{zone['zone_id']}/certificate", json=mismatched)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "certificate_refused"
    reasons = error["details"]["reasons"]
    assert "the private key does not belong to the leaf certificate" in reasons
    assert "the certificate does not name shop.example.com" in reasons
    assert any(reason.startswith("the certificate expired") for reason in reasons)
    assert "PRIVATE KEY" not in r.text
    r = agent.post(f"/v1/zones/{zone['zone_id']}/certificate", json={"certificate": "x", "private_key": "y"})
    assert r.status_code == 422 and len(r.json()["error"]["details"]["reasons"]) == 2
    r = agent.post(f"/v1/zones/{zone['zone_id']}/certificate", json={"certificate": "x"})
    assert r.status_code == 422
    assert feed(api, "cert_set") == []
    state = agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert state["certificate"] is None and state["order"]["status"] == "pending"


def test_a_customer_cannot_touch_another_customers_zone(api: Api) -> None:
    mine = active_zone(api, "shop.example.com")
    theirs = active_zone(api, "rival.example.net", name="Rival")
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {mine['key']}"
    body, _key = upload_body(["rival.example.net"], api)
    assert customer.post(f"/v1/zones/{theirs['zone_id']}/certificate", json=body).status_code == 404
    assert customer.get(f"/v1/zones/{theirs['zone_id']}/certificate").status_code == 404
    assert customer.get("/v1/certificates").status_code == 403


def test_suspension_takes_the_certificate_back_and_reinstatement_serves_it_again(api: Api) -> None:
    zone = active_zone(api, "shop.example.com")
    agent = api.as_("agent")
    body, _key = upload_body(["shop.example.com"], api)
    cert_id = agent.post(f"/v1/zones/{zone['zone_id']}/certificate", json=body).json()["certificate"]["id"]
    r = agent.post(f"/v1/zones/{zone['zone_id']}/suspend", json={"reason": "repeat infringer"})
    assert r.status_code == 200, r.text
    assert [(r["cert_id"], r["zone_id"]) for r in feed(api, "cert_remove")] == [(cert_id, zone["zone_id"])]
    assert (
        agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["certificate"]["status"] == "withdrawn"
    )
    refused = agent.post(f"/v1/zones/{zone['zone_id']}/certificate", json=body)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "zone_not_served"
    agent.post(f"/v1/zones/{zone['zone_id']}/reinstate", json={"reason": "appeal granted"})
    assert [r["cert_id"] for r in feed(api, "cert_set")] == [cert_id, cert_id]
    assert agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["order"] is None
    agent.post(f"/v1/zones/{zone['zone_id']}/terminate", json={"reason": "terminated"})
    assert len(feed(api, "cert_remove")) == 2
    assert agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["certificate"] is None


def test_a_zone_suspended_before_it_has_a_certificate_loses_its_order(api: Api) -> None:
    zone = active_zone(api, "shop.example.com")
    agent = api.as_("agent")
    agent.post(f"/v1/zones/{zone['zone_id']}/suspend", json={"reason": "repeat infringer"})
    assert agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json() == {
        "zone_id": zone["zone_id"],
        "certificate": None,
        "order": None,
    }
    agent.post(f"/v1/zones/{zone['zone_id']}/reinstate", json={"reason": "appeal granted"})
    assert agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["order"]["purpose"] == "issue"


def test_https_redirect_and_hsts_reach_the_edges(api: Api) -> None:
    zone = active_zone(api, "shop.example.com")
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.patch(
        f"/v1/zones/{zone['zone_id']}", json={"https_redirect": True, "hsts_max_age": 31536000}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["https_redirect"], r.json()["hsts_max_age"]) == (True, 31536000)
    last = feed(api, "zone")[-1]
    assert (last["https_redirect"], last["hsts_max_age"]) == (True, 31536000)
    r = customer.patch(f"/v1/zones/{zone['zone_id']}", json={"hsts_max_age": None})
    assert (r.json()["https_redirect"], r.json()["hsts_max_age"]) == (True, None)
    assert "hsts_max_age" not in feed(api, "zone")[-1]
    assert customer.patch(f"/v1/zones/{zone['zone_id']}", json={"hsts_max_age": -1}).status_code == 422
    snapshot = api.as_("edge").get("/v1/edge/snapshot").content
    loader = SnapshotLoader()
    for line in snapshot.splitlines():
        loader.feed(line)
    assert loader.finish().zones[zone["zone_id"]].https_redirect is True


def test_reinstatement_serves_an_acme_certificate_again_and_renews_it_again(api: Api) -> None:
    zone = active_zone(api, "shop.example.com")
    made = chain(["shop.example.com"], now=api.clock(), days=90)
    checked = check(made.pem(), made.key(), hostnames=["shop.example.com"], now=api.clock())
    with api.database.writer() as session:
        cert = certificates.store(
            session,
            zone["zone_id"],
            checked,
            source=CertificateSource.acme,
            hostnames=["shop.example.com"],
            now=api.clock(),
            actor="test",
            secret=api.settings.cert_seal_secret(),
        )
        session.commit()
        cert_id = cert.id
    agent = api.as_("agent")
    renewal = agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["order"]
    assert renewal["purpose"] == "renew"
    nb, na = made.leaf.cert.not_valid_before_utc, made.leaf.cert.not_valid_after_utc
    assert datetime.fromisoformat(renewal["due_at"]) == nb + (na - nb) * 2 / 3
    agent.post(f"/v1/zones/{zone['zone_id']}/suspend", json={"reason": "repeat infringer"})
    assert agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()["order"] is None
    agent.post(f"/v1/zones/{zone['zone_id']}/reinstate", json={"reason": "appeal granted"})
    state = agent.get(f"/v1/zones/{zone['zone_id']}/certificate").json()
    assert (state["certificate"]["id"], state["certificate"]["status"]) == (cert_id, "active")
    assert (state["order"]["purpose"], state["order"]["due_at"]) == ("renew", renewal["due_at"])
    assert [r["cert_id"] for r in feed(api, "cert_set")] == [cert_id, cert_id]


def test_expiring_certificates_are_alerts_in_the_metrics(api: Api) -> None:
    zone = active_zone(api, "shop.example.com")
    body, _key = upload_body(["shop.example.com"], api, days=5)
    assert api.as_("agent").post(f"/v1/zones/{zone['zone_id']}/certificate", json=body).status_code == 201
    registry = CollectorRegistry()
    registry.register(CertificatesCollector(api.database, api.clock, api.settings))
    text = generate_latest(registry).decode()
    assert 'staydown_certificate_alerts{alert="expiring"} 1.0' in text
    assert 'staydown_certificates{source="upload",status="active"} 1.0' in text
    expiry = f'staydown_certificate_expiry_seconds{{source="upload",zone="{zone["zone_id"]}"}} '
    assert float(text.split(expiry)[1].split()[0]) == 5 * 86400
    assert "PRIVATE KEY" not in text
