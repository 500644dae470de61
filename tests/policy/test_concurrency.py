"""Concurrent notices against one customer take exactly the steps a serial run takes.

Each notice's strike and the step it warrants are taken under a lock on the customer, so no
interleaving can count a strike twice, miss a threshold or take a step twice.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.conftest import Api
from tests.support import active_zone, notice_body

NOTICES = 12
EXPECTED = [("warning", 1), ("suspension", 3), ("termination", 5)]


def ledger(api: Api, customer_id: int) -> dict[str, Any]:
    return api.as_("agent").get(f"/v1/customers/{customer_id}/strikes").json()


def steps(api: Api, customer_id: int) -> list[tuple[str, int]]:
    return [(s["kind"], s["strikes_counted"]) for s in ledger(api, customer_id)["steps"]]


def submit(api: Api, hostname: str, n: int, statuses: list[int]) -> None:
    client = api.as_("trusted_flagger")
    url = f"http://{hostname}/chapter-{n}/page.jpg"
    statuses.append(client.post("/v1/notices", json=notice_body([url])).status_code)


def test_concurrent_notices_take_each_step_once(api: Api) -> None:
    serial = active_zone(api, "serial.example.test", name="Serial")
    statuses: list[int] = []
    for n in range(NOTICES):
        submit(api, serial["hostname"], n, statuses)
    assert steps(api, serial["customer_id"]) == EXPECTED

    racing = active_zone(
        api, "racing.example.test", name="Racing", phone="+1 202 555 0142", address="8 Race Course Rd"
    )
    barrier = threading.Barrier(NOTICES)

    def race(n: int) -> None:
        barrier.wait(30)
        submit(api, racing["hostname"], n, statuses)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(NOTICES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [201] * (2 * NOTICES)
    assert steps(api, racing["customer_id"]) == EXPECTED
    both = ledger(api, serial["customer_id"]), ledger(api, racing["customer_id"])
    assert [b["standing"] for b in both] == ["terminated"] * 2
    # Serially, the zone is off the network once terminated and later notices strike nobody; notices
    # already resolved to the zone when it ended still strike, but take no further step.
    assert both[0]["active_strikes"] == 5 and 5 <= both[1]["active_strikes"] <= NOTICES
    letters = [m["kind"] for m in api.as_("agent").get("/v1/outbox", params={"limit": 500}).json()]
    assert sorted(k for k in letters if k.startswith("policy_")) == sorted(
        [f"policy_{kind}" for kind, _ in EXPECTED] * 2
    )
