"""Forwarding a notice to the host found by RDAP, end to end over HTTP with a real RDAP server:
the forward goes to the abuse address with the origin address and a reproduction line, the
complainant's receipt names the host, and an untrusted submitter never sees an origin address."""

from __future__ import annotations

from typing import Any

from staydown.hosts import service as hosts
from tests.conftest import Api
from tests.dnsserver import LocalDnsServer
from tests.due_process.support import outbox
from tests.hosts.rdapserver import ABUSE_EMAIL, RdapServer
from tests.support import active_zone, notice_body

HOST = "pirate.example.test"


def _letters(api: Api, notice_id: int, kind: str) -> list[dict[str, Any]]:
    return [m for m in outbox(api, notice_id=notice_id) if m["kind"] == kind]


def _actioned_by_agent(api: Api, url: str) -> dict[str, Any]:
    notice = api.as_("submitter").post("/v1/notices", json=notice_body([url])).json()
    item = notice["items"][0]["id"]
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": {str(item): "action"}, "reason": "a copy"}
    )
    assert r.status_code == 200, r.text
    return notice


def test_the_forward_goes_to_the_rdap_abuse_contact_with_the_origin_and_the_complainant_learns_the_host(
    api: Api, rdap: RdapServer
) -> None:
    zone = active_zone(api, HOST, host_contact=None)
    origin = api.as_("agent").get(f"/v1/zones/{zone['zone_id']}").json()["origin"]
    port = origin.rsplit(":", 1)[1]
    untrusted = _actioned_by_agent(api, f"http://{HOST}/chapter-1/page.jpg?size=big")
    trusted = (
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/c2.jpg"])).json()
    )
    assert trusted["status"] == "actioned"
    # Nothing went to a host yet: finding it is the worker's (network) job, never the intake's.
    assert not _letters(api, untrusted["id"], "notice_forward_host")

    assert hosts.run_forwards(api.database, now=api.clock(), settings=api.settings) == 2
    assert rdap.requests == ["/ip/127.0.0.1"]  # the second forward used the cached answer

    [forward] = _letters(api, untrusted["id"], "notice_forward_host")
    assert forward["recipient"] == ABUSE_EMAIL and forward["status"] == "pending"
    assert "127.0.0.1" in forward["body"]
    assert f"curl -H 'Host: {HOST}' 'http://127.0.0.1:{port}/chapter-1/page.jpg?size=big'" in forward["body"]

    [receipt] = _letters(api, untrusted["id"], "notice_host_receipt")
    assert receipt["recipient"] == "agent@rights.example"
    assert "Example Hosting" in receipt["body"] and ABUSE_EMAIL in receipt["body"]
    assert "127.0.0.1" not in receipt["body"] and port not in receipt["body"]
    [told] = _letters(api, trusted["id"], "notice_host_receipt")
    assert "127.0.0.1" in told["body"] and ABUSE_EMAIL in told["body"]

    # Over the API: the untrusted submitter sees the host, never the origin address.
    [seen] = api.as_("submitter").get(f"/v1/notices/{untrusted['id']}/hosts").json()
    assert seen["host_contact"] == ABUSE_EMAIL and seen["contact_source"] == "rdap"
    assert seen["host_name"] == "Example Hosting" and seen["origin_addresses"] is None
    assert seen["rdap_source"] == f"{rdap.url}/"  # the service asked, not the query naming the origin
    assert "/ip/" not in str(seen)
    assert api.as_("submitter").get(f"/v1/notices/{trusted['id']}/hosts").status_code == 404
    [mine] = api.as_("trusted_flagger").get(f"/v1/notices/{trusted['id']}/hosts").json()
    assert mine["origin_addresses"] == ["127.0.0.1"] and mine["rdap_source"] == f"{rdap.url}/ip/127.0.0.1"
    [legal] = api.as_("legal").get(f"/v1/notices/{untrusted['id']}/hosts").json()
    assert legal["origin_addresses"] == ["127.0.0.1"]
    [agent] = api.as_("agent").get(f"/v1/notices/{untrusted['id']}/hosts").json()
    assert agent["origin_addresses"] is None

    # Every disclosure of an origin address is on the audit chain, with to whom.
    trail = api.as_("legal").get(f"/v1/audit/notice/{trusted['id']}").json()
    disclosed = [e["data"]["to"] for e in trail if e["action"] == "host.origin_disclosed"]
    assert disclosed == ["trusted flagger (receipt)", "trusted flagger (API)"]
    trail = api.as_("legal").get(f"/v1/audit/notice/{untrusted['id']}").json()
    assert [e["data"]["to"] for e in trail if e["action"] == "host.origin_disclosed"] == ["legal"]


def test_a_silent_host_is_reminded_and_its_silence_is_on_the_dossier_until_it_answers(api: Api) -> None:
    zone = active_zone(api, HOST, host_contact=None)
    notice = _actioned_by_agent(api, f"http://{HOST}/a.jpg")
    hosts.run_forwards(api.database, now=api.clock(), settings=api.settings)
    sent_at = api.clock()
    api.clock.advance(days=5, minutes=1)
    assert hosts.run_reminders(api.database, now=api.clock(), settings=api.settings) == 1
    [reminder] = _letters(api, notice["id"], "notice_forward_host_reminder")
    assert reminder["recipient"] == ABUSE_EMAIL and "no answer" in reminder["body"]
    host = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/dossier").json()["host"]
    assert (host["unanswered"], host["reminders"]) == (1, 1)
    assert host["silent_since"].startswith(sent_at.isoformat()[:19])

    [forward] = api.as_("agent").get(f"/v1/notices/{notice['id']}/hosts").json()
    r = api.as_("agent").post(f"/v1/host-forwards/{forward['id']}/answer", json={"answer": "Removed it."})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    api.clock.advance(days=10)
    assert hosts.run_reminders(api.database, now=api.clock(), settings=api.settings) == 0
    assert len(_letters(api, notice["id"], "notice_forward_host_reminder")) == 1
    host = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/dossier").json()["host"]
    assert (host["unanswered"], host["answered"], host["silent_since"]) == (0, 1, None)


def test_a_contact_set_by_hand_wins_and_goes_at_once(api: Api, rdap: RdapServer) -> None:
    active_zone(api, HOST, host_contact="noc@own-host.example")
    notice = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"])).json()
    [forward] = _letters(api, notice["id"], "notice_forward_host")
    assert forward["recipient"] == "noc@own-host.example" and "127.0.0.1" in forward["body"]
    assert hosts.run_forwards(api.database, now=api.clock(), settings=api.settings) == 0
    assert rdap.requests == []


def test_origins_without_dns_or_on_refused_addresses_are_recorded_and_never_looked_up(
    api: Api, rdap: RdapServer, dns: LocalDnsServer
) -> None:
    zone = active_zone(api, HOST, host_contact=None)
    gone = "http://origin-gone.example.test"
    r = api.as_("agent").patch(f"/v1/zones/{zone['zone_id']}", json={"origin": gone})
    assert r.status_code == 200, r.text
    first = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/a.jpg"])).json()
    assert first["status"] == "actioned"  # intake never waits for the host
    assert hosts.run_forwards(api.database, now=api.clock(), settings=api.settings) == 1
    [forward] = api.as_("legal").get(f"/v1/notices/{first['id']}/hosts").json()
    assert forward["status"] == "unreachable" and forward["host_contact"] is None
    assert any("has no address" in reason for reason in forward["reasons"])
    [letter] = _letters(api, first["id"], "notice_forward_host")
    assert letter["recipient"] == "(no host contact found)" and letter["status"] == "stored"
    [receipt] = _letters(api, first["id"], "notice_host_receipt")
    assert "could not find an abuse contact" in receipt["body"]

    dns.set_addresses("origin-gone.example.test", "10.0.0.5")
    second = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/b.jpg"])).json()
    hosts.run_forwards(api.database, now=api.clock(), settings=api.settings)
    [forward] = api.as_("legal").get(f"/v1/notices/{second['id']}/hosts").json()
    assert forward["status"] == "unreachable"
    assert any("not looked up" in r and "a private address" in r for r in forward["reasons"])
    assert rdap.requests == []  # neither origin was ever asked about
