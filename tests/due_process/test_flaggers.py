"""Trusted flaggers as a Digital Services Coordinator awards them (DSA Art. 22): recorded by an admin,
suspended or revoked by the coordinator, and worth priority for DSA notices only while in force."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from staydown.accounts import service as accounts
from staydown.due_process.awards import (
    AREA_IP,
    AwardEvent,
    AwardFacts,
    AwardStatus,
    IllegalAwardTransition,
    award_transition,
    gives_priority,
)
from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.support import active_zone, notice_body

HOST = "flagged.example.test"
TODAY = date(2026, 11, 2)


def key_id(api: Api, role: str) -> int:
    with api.database.reader() as session:
        key = accounts.authenticate(session, api.keys[role])
        assert key is not None
        return key.id


def award_status(api: Api, role: str, **overrides: Any) -> dict[str, Any]:
    """Record a coordinator's award for ``role``'s key over the API (as an admin); return it."""
    body: dict[str, Any] = {
        "entity": "Rights Agency e.V.",
        "member_state": "DE",
        "coordinator": "Bundesnetzagentur",
        "reference": "DSC-DE-TF-2026-017",
        "awarded_on": "2026-10-01",
        "areas": [AREA_IP],
    }
    body.update(overrides)
    r = api.as_("admin").post(f"/v1/notifiers/{key_id(api, role)}/trusted-flagger-awards", json=body)
    assert r.status_code == 201, r.text
    award: dict[str, Any] = r.json()
    return award


def dsa_notice(api: Api, role: str, path: str) -> dict[str, Any]:
    r = api.as_(role).post("/v1/notices", json=notice_body([f"http://{HOST}{path}"], regime="dsa"))
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    return notice


def prioritised(api: Api, notice: dict[str, Any]) -> bool:
    received = api.clock()
    six_hours = (received + timedelta(hours=6)).isoformat()[:16]
    return bool(notice["trusted"]) and str(notice["deadline_at"]).startswith(six_hours)


def test_priority_follows_the_award_not_the_keys_flag() -> None:
    awarded = AwardFacts(AwardStatus.awarded, TODAY, (AREA_IP,))
    assert gives_priority(awarded, today=TODAY)
    assert not gives_priority(None, today=TODAY)
    assert not gives_priority(AwardFacts(AwardStatus.suspended, TODAY, (AREA_IP,)), today=TODAY)
    assert not gives_priority(AwardFacts(AwardStatus.revoked, TODAY, (AREA_IP,)), today=TODAY)
    assert not gives_priority(awarded, today=TODAY - timedelta(days=1))  # not yet awarded
    other = AwardFacts(AwardStatus.awarded, TODAY, ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS",))
    assert not gives_priority(other, today=TODAY)  # outside its areas of expertise (Art. 22(1))


def test_the_coordinator_suspends_reinstates_or_revokes_and_revocation_is_final() -> None:
    assert award_transition(AwardStatus.awarded, AwardEvent.suspend) is AwardStatus.suspended
    assert award_transition(AwardStatus.suspended, AwardEvent.reinstate) is AwardStatus.awarded
    assert award_transition(AwardStatus.suspended, AwardEvent.revoke) is AwardStatus.revoked
    assert award_transition(AwardStatus.awarded, AwardEvent.revoke) is AwardStatus.revoked
    for event in AwardEvent:
        with pytest.raises(IllegalAwardTransition):
            award_transition(AwardStatus.revoked, event)
    with pytest.raises(IllegalAwardTransition):
        award_transition(AwardStatus.awarded, AwardEvent.reinstate)


def test_dsa_priority_only_while_the_award_is_in_force(api: Api) -> None:
    active_zone(api, HOST, service_type="platform")
    # The key is flagged trusted, but no coordinator has awarded it anything: no Art. 22 priority.
    assert not prioritised(api, dsa_notice(api, "trusted_flagger", "/0.jpg"))
    # An award to an ordinary submitter key gives its DSA notices priority (still reviewed).
    award = award_status(api, "submitter")
    assert award["status"] == "awarded" and award["priority"] is True
    first = dsa_notice(api, "submitter", "/1.jpg")
    assert prioritised(api, first) and first["items"][0]["status"] == "pending_review"
    # ... but not its DMCA notices, which the provider's own programme (the key's flag) governs.
    dmca = api.as_("submitter").post("/v1/notices", json=notice_body([f"http://{HOST}/us.jpg"])).json()
    assert dmca["trusted"] is False and dmca["status"] == "accepted"

    admin = api.as_("admin")
    suspended = admin.post(
        f"/v1/trusted-flagger-awards/{award['id']}/suspend",
        json={"reason": "investigation after our Art. 22(6) report", "reference": "DSC-DE-INV-9"},
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended" and suspended.json()["priority"] is False
    assert not prioritised(api, dsa_notice(api, "submitter", "/2.jpg"))

    reinstated = admin.post(
        f"/v1/trusted-flagger-awards/{award['id']}/reinstate", json={"reason": "investigation closed"}
    )
    assert reinstated.json()["status"] == "awarded"
    assert prioritised(api, dsa_notice(api, "submitter", "/3.jpg"))

    revoked = admin.post(
        f"/v1/trusted-flagger-awards/{award['id']}/revoke",
        json={"reason": "conditions of Art. 22(2) no longer met", "decided_on": "2026-11-01"},
    )
    assert revoked.json()["status"] == "revoked" and revoked.json()["status_on"] == "2026-11-01"
    assert not prioritised(api, dsa_notice(api, "submitter", "/4.jpg"))
    again = admin.post(f"/v1/trusted-flagger-awards/{award['id']}/reinstate", json={"reason": "x"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"

    listed = api.as_("agent").get(f"/v1/notifiers/{key_id(api, 'submitter')}/trusted-flagger-awards").json()
    assert [a["status"] for a in listed] == ["revoked"]
    trail = api.as_("admin").get(f"/v1/audit/api_key/{key_id(api, 'submitter')}").json()
    actions = [e["action"] for e in trail if "trusted_flagger" in e["action"]]
    assert actions == [
        "notifier.trusted_flagger_awarded",
        "notifier.trusted_flagger_suspend",
        "notifier.trusted_flagger_reinstate",
        "notifier.trusted_flagger_revoke",
    ]
    assert trail[-1]["data"]["legal_basis"] == "Regulation (EU) 2022/2065 Art. 22(7)"
    # Revoked, a new award may be recorded.
    assert award_status(api, "submitter", reference="DSC-DE-TF-2027-001")["status"] == "awarded"


def test_an_award_outside_copyright_or_not_yet_in_force_gives_no_priority(api: Api) -> None:
    active_zone(api, HOST)
    award_status(api, "submitter", areas=["STATEMENT_CATEGORY_PROTECTION_OF_MINORS"])
    assert not prioritised(api, dsa_notice(api, "submitter", "/minors.jpg"))
    later = award_status(api, "trusted_flagger", awarded_on="2027-01-01")
    assert later["priority"] is False
    assert not prioritised(api, dsa_notice(api, "trusted_flagger", "/early.jpg"))


def test_awards_are_recorded_by_admins_with_a_valid_coordinator_and_areas(api: Api) -> None:
    target = key_id(api, "submitter")
    body = {
        "entity": "Rights Agency",
        "member_state": "DE",
        "coordinator": "Bundesnetzagentur",
        "reference": "R-1",
        "awarded_on": "2026-10-01",
        "areas": [AREA_IP],
    }
    path = f"/v1/notifiers/{target}/trusted-flagger-awards"
    assert api.as_("agent").post(path, json=body).status_code == 403
    assert api.as_("trusted_flagger").post(path, json=body).status_code == 403
    for bad in ({"member_state": "US"}, {"member_state": "UK"}, {"areas": ["copyright"]}, {"areas": []}):
        r = api.as_("admin").post(path, json=body | bad)
        assert r.status_code == 422, (bad, r.text)
    not_a_notifier = f"/v1/notifiers/{key_id(api, 'agent')}/trusted-flagger-awards"
    assert api.as_("admin").post(not_a_notifier, json=body).status_code == 404
    assert api.as_("admin").post(path, json=body | {"member_state": "el"}).json()["member_state"] == "EL"
    twice = api.as_("admin").post(path, json=body)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "award_exists"
    assert api.as_("agent").get("/v1/trusted-flagger-awards").json()[0]["reference"] == "R-1"


def test_the_desk_shows_the_award_on_the_notifiers_notices(api: Api) -> None:
    active_zone(api, HOST)
    award = award_status(api, "submitter")
    notice = dsa_notice(api, "submitter", "/desk.jpg")
    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    page = desk.get(f"/desk/notices/{notice['id']}").text
    assert "Digital Services Coordinator of DE (Bundesnetzagentur)" in page
    assert "DSC-DE-TF-2026-017" in page and "intellectual property infringements" in page
    assert "priority review" in page
    api.as_("admin").post(f"/v1/trusted-flagger-awards/{award['id']}/suspend", json={"reason": "inquiry"})
    page = desk.get(f"/desk/notices/{notice['id']}").text
    assert "Suspended" in page or "suspended" in page
    assert "no priority now" in page
    listing = desk.get("/desk/trusted-flaggers").text
    assert "Rights Agency e.V." in listing and "DE · Bundesnetzagentur" in listing
    assert "inquiry" in listing and "1 award(s)" in listing
