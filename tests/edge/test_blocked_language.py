"""The 451 page speaks the visitor's language (Accept-Language), over a real socket."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.conftest import Api
from tests.edge.harness import HOST, EdgeThread, Route, ScriptedOrigin, eventually, get, live_zone
from tests.support import notice_body


def test_the_451_page_is_japanese_for_a_japanese_visitor_and_english_otherwise(
    api: Api, origin: ScriptedOrigin, edge_factory: Callable[..., EdgeThread]
) -> None:
    live_zone(api, origin)
    origin.routes["/vol-1/page-01.jpg"] = Route(b"JPEGDATA")
    edge = edge_factory()
    notice = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body([f"http://{HOST}/vol-1/page-01.jpg"]))
        .json()
    )
    eventually(lambda: get(edge, "/vol-1/page-01.jpg").status_code == 451)

    def fetch(accept_language: str | None) -> httpx.Response:
        headers = {"host": HOST} | ({"accept-language": accept_language} if accept_language else {})
        return httpx.get(edge.url + "/vol-1/page-01.jpg", headers=headers, timeout=10)

    japanese = fetch("ja-JP,ja;q=0.9,en-US;q=0.8")
    assert japanese.status_code == 451
    assert japanese.headers["content-language"] == "ja"
    assert "accept-language" in japanese.headers["vary"].lower()
    assert '<html lang="ja">' in japanese.text
    assert f"通知 #{notice['id']} に基づき" in japanese.text and "反対通知" in japanese.text
    english = fetch(None)
    assert english.headers["content-language"] == "en" and '<html lang="en">' in english.text
    assert f"in response to notice #{notice['id']}" in english.text and "反対通知" not in english.text
    assert fetch("en;q=0.9, ja;q=0.2").headers["content-language"] == "en"
    assert fetch("fr, ja;q=0.5").headers["content-language"] == "ja"
    assert fetch("fr").headers["content-language"] == "en"
    as_json = httpx.get(
        edge.url + "/vol-1/page-01.jpg",
        headers={"host": HOST, "accept": "application/json", "accept-language": "ja"},
        timeout=10,
    )
    assert as_json.json()["notice_id"] == notice["id"] and "反対通知" in as_json.json()["contest"]
