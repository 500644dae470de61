"""Notice intake and decisions over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support import active_zone, notice_body


def feed(api: Api, after: int = 0) -> list[dict[str, Any]]:
    r = api.as_("edge").get("/v1/edge/feed", params={"after": after})
    assert r.status_code == 200, r.text
    return r.json()["records"]


@pytest.fixture
def zone(api: Api) -> dict[str, Any]:
    return active_zone(api, "manga.example.test")


def test_trusted_flagger_notice_is_actioned_and_blocked_in_feed(api: Api, zone: dict[str, Any]) -> None:
    url = "HTTP://Manga.Example.Test:80/chapter-1/./page-01.jpg#top"
    r = api.as_("trusted_flagger").post("/v1/notices", json=notice_body([url]))
    assert r.status_code == 201, r.text
    notice = r.json()
    assert notice["status"] == "actioned"
    assert notice["missing_elements"] == []
    [item] = notice["items"]
    assert item["status"] == "actioned"
    assert item["canonical_url"] == "http://manga.example.test/chapter-1/page-01.jpg"
    assert item["zone"] == "manga.example.test"
    assert notice["time_to_action_seconds"] == 0
    blocks = [rec for rec in feed(api) if rec["kind"] == "block"]
    assert [(b["zone_id"], b["target"], b["notice_id"]) for b in blocks] == [
        (zone["zone_id"], "/chapter-1/page-01.jpg", notice["id"])
    ]


def test_untrusted_notice_waits_for_review_then_agent_decides(api: Api, zone: dict[str, Any]) -> None:
    urls = ["http://manga.example.test/p1.jpg", "http://manga.example.test/p2.jpg"]
    notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls)).json()
    assert notice["status"] == "accepted"
    assert {i["status"] for i in notice["items"]} == {"pending_review"}
    assert not [r for r in feed(api) if r["kind"] == "block"]
    queue = api.as_("agent").get("/v1/notices", params={"status": "accepted"}).json()
    assert [n["id"] for n in queue["notices"]] == [notice["id"]]

    api.clock.advance(hours=2)
    first, second = (i["id"] for i in notice["items"])
    r = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision",
        json={
            "items": {str(first): "action", str(second): "reject"},
            "reason": "page 1 matches; page 2 is original",
        },
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "actioned"
    assert [i["status"] for i in decided["items"]] == ["actioned", "rejected"]
    assert decided["time_to_action_seconds"] == 7200
    assert [r["target"] for r in feed(api) if r["kind"] == "block"] == ["/p1.jpg"]
    again = api.as_("agent").post(
        f"/v1/notices/{notice['id']}/decision", json={"items": {str(first): "action"}, "reason": "again"}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "illegal_transition"


def test_incomplete_dmca_notice_names_missing_elements(api: Api, zone: dict[str, Any]) -> None:
    body = notice_body(["http://manga.example.test/p1.jpg"], signature=None)
    body["statements"] = {"good_faith": False, "accurate": True, "authorized": False}
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201
    notice = r.json()
    assert notice["status"] == "incomplete"
    assert notice["missing_elements"] == [
        "512(c)(3)(A)(i) signature",
        "512(c)(3)(A)(v) good-faith statement",
        "512(c)(3)(A)(vi) accuracy and authority statement",
    ]
    assert notice["items"][0]["status"] == "pending_review"
    assert not [rec for rec in feed(api) if rec["kind"] == "block"]
    outbox = api.as_("agent").get("/v1/outbox", params={"notice_id": notice["id"]}).json()
    assert any("512(c)(3)(A)(v) good-faith statement" in m["body"] for m in outbox)

    r = api.as_("trusted_flagger").post(
        f"/v1/notices/{notice['id']}/supplement",
        json={
            "signature": "Rights Agent",
            "statements": {"good_faith": True, "accurate": True, "authorized": True},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "actioned"
    assert [rec["target"] for rec in feed(api) if rec["kind"] == "block"] == ["/p1.jpg"]


def test_notice_without_identifiable_work_or_contact_is_rejected(api: Api, zone: dict[str, Any]) -> None:
    body = notice_body(
        ["http://manga.example.test/p1.jpg"],
        works=[],
        items=[{"url": "http://manga.example.test/p1.jpg"}],
        submitter={"name": "Anonymous"},
    )
    notice = api.as_("trusted_flagger").post("/v1/notices", json=body).json()
    assert notice["status"] == "rejected"
    assert "512(c)(3)(A)(ii) identification of the copyrighted work" in notice["missing_elements"]
    assert notice["items"][0]["status"] == "rejected"


@pytest.mark.parametrize(
    ("regime", "overrides", "missing"),
    [
        ("dsa", {"explanation": None}, ["DSA Art. 16(2)(a) substantiated explanation"]),
        ("dsa", {"statements": {"accurate": False}}, ["DSA Art. 16(2)(d) statement of bona fide belief"]),
        ("jp", {"explanation": None}, ["IDPA removal request: reason the right is infringed"]),
    ],
)
def test_other_regimes_name_their_elements(
    api: Api, zone: dict[str, Any], regime: str, overrides: dict[str, Any], missing: list[str]
) -> None:
    body = notice_body(["http://manga.example.test/p1.jpg"], regime=regime, **overrides)
    notice = api.as_("submitter").post("/v1/notices", json=body).json()
    assert notice["status"] == "incomplete"
    assert notice["missing_elements"] == missing


def test_url_on_no_zone_is_not_on_network(api: Api, zone: dict[str, Any]) -> None:
    body = notice_body(["http://elsewhere.example/x.jpg", "http://manga.example.test/ok.jpg"])
    notice = api.as_("trusted_flagger").post("/v1/notices", json=body).json()
    assert [i["status"] for i in notice["items"]] == ["not_on_network", "actioned"]
    assert notice["items"][0]["zone"] is None
    only_off = (
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body(["https://nowhere.test/a"])).json()
    )
    assert only_off["status"] == "closed"
    assert only_off["items"][0]["status"] == "not_on_network"


def test_duplicate_urls_are_linked_not_reactioned(api: Api, zone: dict[str, Any]) -> None:
    flagger = api.as_("trusted_flagger")
    first = flagger.post("/v1/notices", json=notice_body(["http://manga.example.test/a.jpg"])).json()
    spellings = ["http://MANGA.example.test/%61.jpg", "http://manga.example.test//x/../a.jpg"]
    second = flagger.post("/v1/notices", json=notice_body(spellings)).json()
    original = first["items"][0]["id"]
    assert [i["duplicate_of"] for i in second["items"]] == [original, original]
    assert [i["status"] for i in second["items"]] == ["actioned", "actioned"]
    assert len([r for r in feed(api) if r["kind"] == "block"]) == 1
    strikes = api.as_("agent").get(f"/v1/customers/{zone['customer_id']}/strikes").json()
    assert strikes["active_strikes"] == 1


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://manga.example.test/a", "scheme_not_allowed"),
        ("javascript:alert(1)", "scheme_not_allowed"),
        ("http://user:pw@manga.example.test/a", "credentials_in_url"),
        ("http://manga.example.test:99999/a", "invalid_port"),
        ("/relative/path", "scheme_not_allowed"),
        ("http://manga.example.test/%zz", "invalid_percent_encoding"),
        ("", "empty"),
    ],
)
def test_bad_urls_are_rejected_per_item_and_the_rest_taken_in(
    api: Api, zone: dict[str, Any], url: str, code: str
) -> None:
    body = notice_body(["http://manga.example.test/fine.jpg", url])
    body["items"][1]["external_id"] = "row-2"
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    notice = r.json()
    assert [(i["url"], i["status"]) for i in notice["items"]] == [
        ("http://manga.example.test/fine.jpg", "actioned")
    ]
    [rejected] = notice["rejected"]
    assert (rejected["index"], rejected["code"], rejected["external_id"]) == (1, code, "row-2")
    assert rejected["message"]
    assert notice["item_count"] == 1
    stored = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert stored["rejected"] == notice["rejected"]
    blocks = [rec for rec in feed(api) if rec["kind"] == "block"]
    assert [b["target"] for b in blocks] == ["/fine.jpg"]


def test_a_notice_with_no_valid_url_is_refused_whole(api: Api, zone: dict[str, Any]) -> None:
    body = notice_body(["ftp://manga.example.test/a", "http://user:pw@manga.example.test/b"])
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_items"
    assert [(d["index"], d["code"]) for d in error["details"]] == [
        (0, "scheme_not_allowed"),
        (1, "credentials_in_url"),
    ]
    assert api.as_("agent").get("/v1/notices").json()["total"] == 0
    assert feed(api) == [rec for rec in feed(api) if rec["kind"] == "zone"]


def test_malformed_requests_get_clear_errors(api: Api) -> None:
    client = api.as_("submitter")
    r = client.post("/v1/notices", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"
    r = client.post("/v1/notices", json={**notice_body(["http://x.test/a"]), "regime": "ukraine"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_regime"
    r = client.post("/v1/notices", json=[1, 2])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    r = client.post("/v1/notices", json={"regime": "dmca", "items": [{"url": 5}]})
    assert r.status_code == 422
    assert api.as_("agent").get("/v1/notices").json()["total"] == 0


def test_oversized_bodies_and_too_many_items_are_refused(api: Api) -> None:
    client = api.as_("submitter")
    big = b'{"regime": "dmca", "explanation": "' + b"x" * (api.settings.max_body_bytes + 10) + b'"}'
    r = client.post("/v1/notices", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"

    def chunks():  # no Content-Length: the limit must hold on a streamed body too
        yield b'{"regime": "dmca", "explanation": "'
        for _ in range(api.settings.max_body_bytes // 65536 + 2):
            yield b"y" * 65536
        yield b'"}'

    r = client.post("/v1/notices", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    many = notice_body([f"http://x.test/{i}" for i in range(api.settings.max_notice_items + 1)])
    r = client.post("/v1/notices", json=many)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_many_items"
    assert api.as_("agent").get("/v1/notices").json()["total"] == 0


def test_roles_and_visibility(api: Api, zone: dict[str, Any]) -> None:
    other = active_zone(api, "photos.example.test", name="Photo Owner")
    flagger = api.as_("trusted_flagger")
    mine = flagger.post("/v1/notices", json=notice_body(["http://manga.example.test/a.jpg"])).json()
    theirs = flagger.post("/v1/notices", json=notice_body(["http://photos.example.test/b.jpg"])).json()

    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    assert customer.get(f"/v1/notices/{mine['id']}").status_code == 200
    r = customer.get(f"/v1/notices/{theirs['id']}")
    assert r.status_code == 404
    assert [n["id"] for n in customer.get("/v1/notices").json()["notices"]] == [mine["id"]]
    assert customer.get(f"/v1/customers/{other['customer_id']}").status_code == 404
    assert customer.get(f"/v1/zones/{other['zone_id']}").status_code == 404
    assert customer.post("/v1/notices", json=notice_body(["http://x.test/a"])).status_code == 403
    assert customer.get("/v1/edge/feed").status_code == 403

    assert api.client().get("/v1/notices").status_code == 401
    bad = api.client()
    bad.headers["authorization"] = "Bearer sd_not-a-key"
    assert bad.get("/v1/notices").json()["error"]["code"] == "unauthorized"
    assert api.as_("submitter").get(f"/v1/notices/{mine['id']}").status_code == 404
    assert api.as_("trusted_flagger").get(f"/v1/notices/{mine['id']}").status_code == 200
    assert api.as_("submitter").post(f"/v1/notices/{mine['id']}/decision", json={}).status_code == 403
    assert api.as_("agent").get("/v1/edge/feed").status_code == 403


def test_an_insufficient_notice_naming_nothing_on_the_network_is_refused_not_an_error(api: Api) -> None:
    """A notice that lacks what the law requires and names only URLs off the network is answered
    with its refusal (it was a 500: the refusal then met the "nothing on the network" settlement)."""
    for body in (
        notice_body(
            ["http://nowhere-at-all.example/a.jpg"],
            works=[],
            items=[{"url": "http://nowhere-at-all.example/a.jpg"}],
        ),
        notice_body(["http://nowhere-at-all.example/b.jpg"], submitter={"name": "Only A Name"}),
    ):
        answer = api.as_("submitter").post("/v1/notices", json=body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "rejected" and answer.json()["missing_elements"]
