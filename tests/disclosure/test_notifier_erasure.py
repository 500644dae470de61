"""A notifier's own erasure request (GDPR Art. 17), over HTTP: its personal data leaves its notices
and letters, except what legal claims need (Art. 17(3)(e)), which the answer names with the reason;
the audit chain keeps verifying."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from staydown.accounts import service as accounts
from staydown.db.migrate import metadata
from tests.conftest import Api
from tests.support import active_zone, notice_body

HOST, HELD = "erase.example.test", "held.example.test"
PHONES = {"alice": "0101", "bob": "0202", "carol": "0303", "dave": "0404", "erin": "0505"}


def person(name: str) -> dict[str, Any]:
    slug = name.split(maxsplit=1)[0].lower()
    return {
        "name": name,
        "email": f"{slug}@rights.example",
        "address": f"{len(name)} {name} Street, Tokyo",
        "phone": f"+81 3 5555 {PHONES[slug]}",
        "organization": None,
        "on_behalf_of": "Manga Publisher",
    }


def submit(api: Api, host: str, path: str, who: str) -> dict[str, Any]:
    body = notice_body([f"http://{host}{path}"], submitter=person(who), signature=who)
    r = api.as_("submitter").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    return notice


def decide(api: Api, notice: dict[str, Any], verdict: str) -> None:
    items = {str(item["id"]): verdict for item in notice["items"]}
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": items, "reason": "reviewed"}
    )
    assert r.status_code == 200, r.text


def everything(api: Api) -> str:
    """Every row of every table, as text."""
    rows = []
    with api.database.reader() as session:
        for table in metadata().sorted_tables:
            rows += [repr(tuple(row)) for row in session.execute(select(table))]
    return "\n".join(rows)


def key_id(api: Api, role: str) -> int:
    with api.database.reader() as session:
        key = accounts.authenticate(session, api.keys[role])
        assert key is not None
        return key.id


def test_a_notifier_erases_its_data_and_is_told_what_is_kept_and_why(api: Api) -> None:
    active_zone(api, HOST)
    held = active_zone(api, HELD)
    old = submit(api, HOST, "/old.jpg", "Alice Oldnotice")
    decide(api, old, "reject")
    api.clock.advance(days=1000)
    recent = submit(api, HOST, "/recent.jpg", "Bob Recentnotice")
    decide(api, recent, "reject")
    live = submit(api, HOST, "/live.jpg", "Carol Livenotice")
    decide(api, live, "action")
    under_hold = submit(api, HELD, "/held.jpg", "Dave Heldnotice")
    decide(api, under_hold, "reject")
    hold = api.as_("legal").post(
        "/v1/legal-holds", json={"customer_id": held["customer_id"], "reason": "court order"}
    )
    assert hold.status_code == 201, hold.text
    api.clock.advance(days=200)  # the oldest notice was decided 1,200 days ago: past the claims period

    r = api.as_("submitter").post(
        "/v1/notifiers/me/erasure", json={"reason": "GDPR Art. 17 request of 2030-02-14"}
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["notices"], result["notices_erased"], result["notices_contacts_erased"]) == (4, 1, 1)
    assert result["letters_erased"] >= 2  # the receipts and decisions of the two erased notices
    kept = {k["notice_id"]: k for k in result["kept"]}
    assert set(kept) == {recent["id"], live["id"], under_hold["id"]}
    assert kept[recent["id"]]["fields"] == ["on_behalf_of", "signature", "submitter_name"]
    assert (
        kept[recent["id"]]["reason"].startswith("limitation_period")
        and "512(f)" in kept[recent["id"]]["reason"]
    )
    assert kept[recent["id"]]["until"].startswith("2032-07-28")  # decided (2029-07-29) + 1,095 days
    assert kept[live["id"]]["reason"].startswith("restriction_in_force")
    assert "submitter_email" in kept[live["id"]]["fields"]
    assert kept[under_hold["id"]]["reason"].startswith("legal_hold")
    assert all("17(3)(e)" in k["legal_basis"] for k in result["kept"])

    stored = everything(api)
    for gone in ("Alice", "alice@rights.example", "Alice Oldnotice Street", "+81 3 5555 0101"):
        assert gone not in stored, gone
    for gone in ("bob@rights.example", "Bob Recentnotice Street", "+81 3 5555 0202"):
        assert gone not in stored, gone
    assert "Bob Recentnotice" in stored  # the name and signature, for the claims period
    for kept_value in ("carol@rights.example", "dave@rights.example"):
        assert kept_value in stored
    agent = api.as_("agent")
    assert agent.get(f"/v1/notices/{old['id']}").json()["submitter"]["email"] is None

    trail = api.as_("admin").get(f"/v1/audit/api_key/{key_id(api, 'submitter')}").json()
    entry = [e for e in trail if e["action"] == "notifier.personal_data_erased"][-1]
    assert entry["data"]["notices_erased"] == [old["id"]] and "bob" not in repr(entry["data"]).lower()
    assert api.as_("admin").get("/v1/audit/verify").json()["ok"] is True


def test_an_agent_may_ask_on_the_notifiers_behalf(api: Api) -> None:
    active_zone(api, HOST)
    notice = submit(api, HOST, "/x.jpg", "Erin Onbehalf")
    decide(api, notice, "reject")
    target = key_id(api, "submitter")
    body = {"reason": "request received by post"}
    assert api.as_("trusted_flagger").post(f"/v1/notifiers/{target}/erasure", json=body).status_code == 403
    assert (
        api.as_("agent").post(f"/v1/notifiers/{key_id(api, 'agent')}/erasure", json=body).status_code == 404
    )
    assert api.as_("agent").post(f"/v1/notifiers/{target}/erasure", json={"reason": ""}).status_code == 422
    r = api.as_("agent").post(f"/v1/notifiers/{target}/erasure", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["notices_contacts_erased"] == 1 and r.json()["kept"][0]["fields"] == [
        "on_behalf_of",
        "signature",
        "submitter_name",
    ]
    assert "erin@rights.example" not in everything(api)
    # The trusted flagger's own notices are not touched by another notifier's request.
    other = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{HOST}/tf.jpg"]))
    assert other.status_code == 201
    assert api.as_("trusted_flagger").post("/v1/notifiers/me/erasure", json=body).json()["notices"] == 1
