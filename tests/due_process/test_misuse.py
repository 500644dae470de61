"""Notifier misuse (DSA Art. 23(2)) over HTTP: warning, suspension with a clear 403 until a given
instant, notifying again after it, and the revocation of trusted-flagger treatment."""

from __future__ import annotations

from datetime import datetime, timedelta

from staydown.accounts import service as accounts
from tests.conftest import Api
from tests.due_process.support import outbox
from tests.support import active_zone, notice_body

UNSWORN = {"good_faith": True, "accurate": False, "authorized": True}
SWORN = {"good_faith": True, "accurate": True, "authorized": True}


def _key_id(api: Api, role: str) -> int:
    with api.database.reader() as session:
        key = accounts.authenticate(session, api.keys[role])
        assert key is not None
        return key.id


def _notice(api: Api, role: str, path: str, regime: str = "dsa") -> dict[str, object]:
    r = api.as_(role).post(
        "/v1/notices", json=notice_body([f"http://misuse.example.test{path}"], regime=regime)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _unfounded(api: Api, notice_id: object) -> dict[str, object]:
    r = api.as_("agent").post(
        f"/v1/notices/{notice_id}/manifestly-unfounded",
        json={"reason": "the notifier claims a public-domain work it does not own"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_misusing_notifier_is_warned_then_suspended_then_may_notify_again(api: Api) -> None:
    active_zone(api, "misuse.example.test", service_type="platform")
    key_id = _key_id(api, "submitter")
    findings = [_unfounded(api, _notice(api, "submitter", f"/{n}.jpg")["id"]) for n in range(3)]
    assert [f["measure"] for f in findings[:2]] == [None, None]
    warning = findings[2]["measure"]
    assert isinstance(warning, dict) and warning["kind"] == "warning" and warning["until"] is None
    assert "3 of 3 notices" in warning["reason"]
    letters = [m for m in outbox(api) if m["kind"] == "notifier_warning"]
    assert letters and letters[0]["recipient"] == "agent@rights.example"

    # Warned, not suspended: the next notice is taken in. Found unfounded too, it suspends.
    api.clock.advance(days=1)
    fourth = _notice(api, "submitter", "/3.jpg")
    suspension = _unfounded(api, fourth["id"])["measure"]
    assert isinstance(suspension, dict) and suspension["kind"] == "suspension"
    until = datetime.fromisoformat(str(suspension["until"]))
    assert until == api.clock() + timedelta(days=30)

    api.clock.advance(days=3)
    refused = api.as_("submitter").post(
        "/v1/notices", json=notice_body(["http://misuse.example.test/4.jpg"], regime="dsa")
    )
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "notifier_suspended"
    assert until.isoformat() in error["message"] and "manifestly unfounded" in error["message"]
    assert datetime.fromisoformat(error["details"]["until"]) == until
    standing = api.as_("agent").get(f"/v1/notifiers/{key_id}").json()
    assert datetime.fromisoformat(standing["suspended_until"]) == until
    assert standing["unfounded_notices"] == 4
    assert [m["kind"] for m in standing["measures"]] == ["warning", "suspension"]
    # Other notifiers are not affected.
    assert (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://misuse.example.test/other.jpg"], regime="dsa"))
        .status_code
        == 201
    )

    api.clock.now = until - timedelta(seconds=1)
    assert (
        api.as_("submitter")
        .post("/v1/notices", json=notice_body(["http://misuse.example.test/5.jpg"], regime="dsa"))
        .status_code
        == 403
    )
    api.clock.now = until
    again = api.as_("submitter").post(
        "/v1/notices", json=notice_body(["http://misuse.example.test/5.jpg"], regime="dsa")
    )
    assert again.status_code == 201, again.text
    assert api.as_("submitter").get(f"/v1/notifiers/{key_id}").json()["suspended_until"] is None
    # A notifier sees only its own record.
    assert api.as_("trusted_flagger").get(f"/v1/notifiers/{key_id}").status_code == 404


def test_revoking_trusted_flagger_status_sends_its_next_notices_to_review(api: Api) -> None:
    active_zone(api, "misuse.example.test", service_type="platform")
    key_id = _key_id(api, "trusted_flagger")
    assert _notice(api, "trusted_flagger", "/t1.jpg", regime="dmca")["status"] == "actioned"

    r = api.as_("agent").post(
        f"/v1/notifiers/{key_id}/revoke-trust", json={"reason": "two notices named licensed content"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "trust_revoked"
    notice = _notice(api, "trusted_flagger", "/t2.jpg", regime="dmca")
    assert notice["status"] == "accepted" and notice["trusted"] is False
    items = notice["items"]
    assert isinstance(items, list) and items[0]["status"] == "pending_review"
    twice = api.as_("agent").post(f"/v1/notifiers/{key_id}/revoke-trust", json={"reason": "again"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "trust_unchanged"
    assert (
        api.as_("submitter").post(f"/v1/notifiers/{key_id}/revoke-trust", json={"reason": "x"}).status_code
        == 403
    )
    missing = api.as_("agent").post("/v1/notifiers/999999/revoke-trust", json={"reason": "x"})
    assert missing.status_code == 404

    restored = api.as_("agent").post(f"/v1/notifiers/{key_id}/restore-trust", json={"reason": "reviewed"})
    assert restored.status_code == 200 and restored.json()["kind"] == "trust_restored"
    assert _notice(api, "trusted_flagger", "/t3.jpg", regime="dmca")["status"] == "actioned"
    trail = api.as_("agent").get(f"/v1/audit/api_key/{key_id}").json()
    assert [e["action"] for e in trail][-2:] == ["notifier.trust_revoked", "notifier.trust_restored"]


def test_finding_a_notice_unfounded_is_for_agents_and_happens_once(api: Api) -> None:
    active_zone(api, "misuse.example.test", service_type="platform")
    notice = _notice(api, "submitter", "/once.jpg")
    body = {"reason": "unfounded"}
    assert (
        api.as_("submitter").post(f"/v1/notices/{notice['id']}/manifestly-unfounded", json=body).status_code
        == 403
    )
    assert (
        api.as_("agent").post(f"/v1/notices/{notice['id']}/manifestly-unfounded", json=body).status_code
        == 201
    )
    twice = api.as_("agent").post(f"/v1/notices/{notice['id']}/manifestly-unfounded", json=body)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_unfounded"
    assert api.as_("agent").post("/v1/notices/999999/manifestly-unfounded", json=body).status_code == 404


def test_a_supplement_meets_the_notifier_as_it_stands_now(api: Api) -> None:
    """An incomplete notice completed after its notifier lost trusted status goes to review, and a
    suspended notifier cannot complete one either."""
    active_zone(api, "misuse.example.test", service_type="platform")
    key_id = _key_id(api, "trusted_flagger")
    unsigned = notice_body(["http://misuse.example.test/s1.jpg"], regime="dsa", statements=UNSWORN)
    incomplete = api.as_("trusted_flagger").post("/v1/notices", json=unsigned).json()
    assert incomplete["status"] == "incomplete", incomplete
    revoked = api.as_("agent").post(f"/v1/notifiers/{key_id}/revoke-trust", json={"reason": "licensed work"})
    assert revoked.status_code == 200, revoked.text
    done = api.as_("trusted_flagger").post(
        f"/v1/notices/{incomplete['id']}/supplement", json={"statements": SWORN}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "accepted"
    assert [item["status"] for item in done.json()["items"]] == ["pending_review"]

    submitter = _key_id(api, "submitter")
    unsigned_too = api.as_("submitter").post(
        "/v1/notices",
        json=notice_body(["http://misuse.example.test/s2.jpg"], regime="dsa", statements=UNSWORN),
    )
    assert unsigned_too.json()["status"] == "incomplete"
    for n in range(4):  # unfounded notices: a warning first, then a suspension
        api.clock.advance(days=1)
        _unfounded(api, _notice(api, "submitter", f"/u{n}.jpg")["id"])
    standing = api.as_("agent").get(f"/v1/notifiers/{submitter}").json()
    assert standing["suspended_until"] is not None
    refused = api.as_("submitter").post(
        f"/v1/notices/{unsigned_too.json()['id']}/supplement", json={"statements": SWORN}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "notifier_suspended"
