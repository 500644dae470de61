"""The agents' review queue: notices of a notifier under a misuse sanction (DSA Art. 23(2); its §512
and Japanese notices are still taken in) come after every other notice, whatever their deadlines."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.desk.support import DeskClient
from tests.due_process.support import outbox
from tests.support import active_zone, notice_body

HOST = "queue.example.test"


def post(api: Api, role: str, path: str, regime: str) -> dict[str, Any]:
    r = api.as_(role).post("/v1/notices", json=notice_body([f"http://{HOST}{path}"], regime=regime))
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    return notice


def suspend_submitter(api: Api) -> None:
    """Four notices found manifestly unfounded: warned at three, suspended at four."""
    for n in range(4):
        if n == 3:
            api.clock.advance(days=1)  # after the prior warning Art. 23(2) asks for
        notice = post(api, "submitter", f"/unfounded-{n}.jpg", "dsa")
        r = api.as_("agent").post(
            f"/v1/notices/{notice['id']}/manifestly-unfounded",
            json={"reason": "claims a work it does not own"},
        )
        assert r.status_code == 201, r.text
    measure = r.json()["measure"]
    assert measure["kind"] == "suspension"


def queue(api: Api) -> list[dict[str, Any]]:
    page = api.as_("agent").get("/v1/notices", params={"status": "accepted", "per_page": 500}).json()
    notices: list[dict[str, Any]] = page["notices"]
    return notices


def test_sanctioned_notifiers_notices_are_reviewed_after_the_others(api: Api) -> None:
    active_zone(api, HOST)  # a caching zone: Art. 23 does not refuse anything here
    suspend_submitter(api)
    before = {n["id"] for n in queue(api)}

    sanctioned_dmca = post(api, "submitter", "/dmca.jpg", "dmca")
    assert sanctioned_dmca["status"] == "accepted" and sanctioned_dmca["sanction"]
    (receipt,) = [m for m in outbox(api, notice_id=sanctioned_dmca["id"]) if m["kind"] == "notice_receipt"]
    assert "reviewed after those of other notifiers" in receipt["body"]
    api.clock.advance(minutes=10)
    sanctioned_jp = post(api, "submitter", "/jp.jpg", "jp")
    api.clock.advance(hours=2)
    # A later notice from a notifier in good standing: its deadline is later, yet it comes first.
    other = post(api, "trusted_flagger", "/eu.jpg", "dsa")
    assert other["sanction"] is None and other["deadline_at"] > sanctioned_dmca["deadline_at"]

    order = [n for n in queue(api) if n["id"] not in before]
    assert [n["id"] for n in order] == [other["id"], sanctioned_dmca["id"], sanctioned_jp["id"]]
    assert [n["sanctioned"] for n in order] == [False, True, True]
    # The earlier notices of the notifier, from before its suspension, keep their place by deadline.
    assert all(not n["sanctioned"] for n in queue(api) if n["id"] in before)

    desk = DeskClient(api)
    desk.sign_in_with_key(api.keys["agent"])
    page = desk.get("/desk/queue").text
    positions = [page.index(f">Notice {n['id']}<") for n in order]
    assert positions == sorted(positions)
    assert page.count("sanctioned notifier · lower priority") == 2
    detail = desk.get(f"/desk/notices/{sanctioned_dmca['id']}").text
    assert "Reviewed after notices of other notifiers" in detail
