"""Strikes weighed by a notice's size, over HTTP: one notice of many URLs counts more than a single
URL and less than as many notices; decisions that action more of a notice weigh its strike again,
and a partial restoration lightens it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api
from tests.due_process.support import counter_notice_body
from tests.notices.test_deadline import timers_run
from tests.support import active_zone, notice_body

RESTORE_AT = datetime(2026, 11, 18, 5, 0, tzinfo=UTC)  # see tests/due_process/test_counter_notices.py


def ledger(api: Api, customer_id: int) -> dict[str, Any]:
    result: dict[str, Any] = api.as_("agent").get(f"/v1/customers/{customer_id}/strikes").json()
    return result


def urls(hostname: str, n: int, prefix: str = "p") -> list[str]:
    return [f"http://{hostname}/{prefix}/{i}.jpg" for i in range(n)]


def test_a_large_notice_weighs_more_than_one_url_and_less_than_as_many_notices(api: Api) -> None:
    text = api.client().get("/v1/policy/repeat-infringer").text
    assert "one strike for every 50 URL(s) actioned (rounded up), at most 2 for one notice" in text
    zone = active_zone(api, "big.example.test")
    big = api.as_("trusted_flagger").post("/v1/notices", json=notice_body(urls(zone["hostname"], 3000)))
    assert big.status_code == 201 and big.json()["status"] == "actioned"
    book = ledger(api, zone["customer_id"])
    assert [(s["weight"], s["urls"]) for s in book["strikes"]] == [(2, 3000)]
    assert book["active_strikes"] == 2
    # 3,000 URLs in one notice: a warning, not the suspension three notices would bring.
    assert [(s["kind"], s["strikes_counted"]) for s in book["steps"]] == [("warning", 2)]
    assert book["standing"] == "warned"

    single = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(urls(zone["hostname"], 1, "one"))
    )
    assert single.json()["status"] == "actioned"
    book = ledger(api, zone["customer_id"])
    assert [s["weight"] for s in book["strikes"]] == [2, 1]
    assert [(s["kind"], s["strikes_counted"]) for s in book["steps"]] == [("warning", 2), ("suspension", 3)]


def test_more_items_actioned_weigh_the_strike_again_and_a_restoration_lightens_it(api: Api) -> None:
    zone = active_zone(api, "grow.example.test")
    notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls(zone["hostname"], 80))).json()
    items = [item["id"] for item in notice["items"]]
    agent = api.as_("agent")

    def action(ids: list[int]) -> None:
        r = agent.post(
            f"/v1/notices/{notice['id']}/decision",
            json={"items": {str(i): "action" for i in ids}, "reason": "the pages match"},
        )
        assert r.status_code == 200, r.text

    action(items[:30])
    assert [(s["weight"], s["urls"]) for s in ledger(api, zone["customer_id"])["strikes"]] == [(1, 30)]
    action(items[30:])
    book = ledger(api, zone["customer_id"])
    assert [(s["weight"], s["urls"]) for s in book["strikes"]] == [(2, 80)]  # the same strike, heavier
    assert book["active_strikes"] == 2
    trail = api.as_("admin").get(f"/v1/audit/customer/{zone['customer_id']}").json()
    reweighed = [e["data"] for e in trail if e["action"] == "strike.reweighed"]
    assert [(d["from"], d["to"], d["urls"]) for d in reweighed] == [(1, 2, 80)]

    # A counter-notice restores 40 of the 80: the strike stays, weighed on the 40 still blocked.
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    r = customer.post("/v1/counter-notices", json=counter_notice_body(notice["id"], items[:40]))
    assert r.status_code == 201, r.text
    assert timers_run(api, RESTORE_AT.isoformat())["ran"] == 1
    book = ledger(api, zone["customer_id"])
    assert [(s["status"], s["weight"], s["urls"]) for s in book["strikes"]] == [("active", 1, 40)]
    assert book["active_strikes"] == 1
