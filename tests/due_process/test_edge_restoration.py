"""At the edge: a counter-noticed resource is served again once its restoration timer runs."""

from __future__ import annotations

from pathlib import Path

from staydown.worker import run_timers
from tests.conftest import Api
from tests.due_process.support import counter_notice_body
from tests.due_process.test_counter_notices import RESTORE_AT
from tests.edge.harness import HOST, EdgeThread, Route, ScriptedOrigin, eventually, get, live_zone
from tests.support import notice_body


def test_the_edge_serves_restored_content_again(api: Api, tmp_path: Path) -> None:
    with ScriptedOrigin() as origin:
        zone = live_zone(api, origin)
        origin.routes["/own/photo.jpg"] = Route(b"JPEGDATA", headers={"Cache-Control": "public, max-age=600"})
        key = (
            api.as_("admin")
            .post("/v1/keys", json={"role": "customer", "customer_id": zone["customer_id"]})
            .json()["key"]
        )
        customer = api.client()
        customer.headers["authorization"] = f"Bearer {key}"
        with EdgeThread(
            control_plane=api.url, key=api.keys["edge"], data_dir=tmp_path / "edge", settings=api.settings
        ) as edge:
            eventually(lambda: get(edge, "/own/photo.jpg").status_code == 200)
            notice = (
                api.as_("trusted_flagger")
                .post("/v1/notices", json=notice_body([f"http://{HOST}/own/photo.jpg"]))
                .json()
            )
            eventually(lambda: get(edge, "/own/photo.jpg").status_code == 451)
            items = [item["id"] for item in notice["items"]]
            counter = customer.post("/v1/counter-notices", json=counter_notice_body(notice["id"], items))
            assert counter.status_code == 201, counter.text
            assert get(edge, "/own/photo.jpg").status_code == 451  # blocked while the timer runs

            assert run_timers(api.database, as_of=RESTORE_AT, settings=api.settings) == 1
            eventually(lambda: get(edge, "/own/photo.jpg").status_code == 200)
            assert get(edge, "/own/photo.jpg").content == b"JPEGDATA"
