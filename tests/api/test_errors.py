"""Error answers over HTTP: numbers the database cannot hold, bodies that are not JSON-safe or not
JSON at all, and the headers RFC 9110 asks of a 401."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import Api
from tests.support import active_zone, image_bytes, notice_body

BEYOND_INT64 = "99999999999999999999"
BEYOND_INT32 = "3000000000"


def strict_json(response: httpx.Response) -> Any:
    """Parse as RFC 8259 JSON: no NaN or Infinity, valid UTF-8 without lone surrogates."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in an answer")

    text = response.content.decode("utf-8")
    text.encode("utf-8")
    return json.loads(text, parse_constant=refuse)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = strict_json(response)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def zone(api: Api) -> dict[str, Any]:
    return active_zone(api, "manga.example.test")


def post_json(client: httpx.Client, path: str, raw: bytes) -> httpx.Response:
    return client.post(path, content=raw, headers={"content-type": "application/json"})


def test_ids_beyond_what_the_database_holds_name_nothing(api: Api) -> None:
    paths = [
        "/v1/notices/{}",
        "/v1/zones/{}",
        "/v1/customers/{}",
        "/v1/customers/{}/strikes",
        "/v1/works/{}",
        "/v1/counter-notices/{}",
        "/v1/complaints/{}",
        "/v1/staydown/matches/{}",
        "/v1/disclosure-orders/{}",
    ]
    legal, admin = api.as_("legal"), api.as_("admin")
    for path in paths:
        client = legal if "disclosure" in path else admin
        for number in (BEYOND_INT64, "-" + BEYOND_INT64, BEYOND_INT32):
            error = error_of(client.get(path.format(number)), 404, "not_found")
            assert error["message"].endswith(f" {number} does not exist")
        # Too long even to read as an integer: refused before any route runs.
        error = error_of(client.get(path.format("9" * 5000)), 422, "validation_error")
        assert len(json.dumps(error)) < 1_000
    r = admin.post(f"/v1/notices/{BEYOND_INT64}/decision", json={"items": {"1": "action"}, "reason": "x"})
    error_of(r, 404, "not_found")


def test_numbers_beyond_range_in_queries_and_bodies_are_refused(api: Api, zone: dict[str, Any]) -> None:
    agent = api.as_("agent")
    for path, params in [
        ("/v1/notices", {"page": BEYOND_INT64}),
        ("/v1/notices", {"zone": BEYOND_INT64}),
        ("/v1/counter-notices", {"notice_id": BEYOND_INT64}),
    ]:
        error_of(agent.get(path, params=params), 422, "out_of_range")

    notice = api.as_("trusted_flagger").post(
        "/v1/notices", json=notice_body(["http://manga.example.test/p1.jpg"])
    )
    assert notice.status_code == 201, notice.text
    customer = api.client()
    customer.headers["authorization"] = f"Bearer {zone['key']}"
    item = notice.json()["items"][0]["id"]
    for body in (
        {"notice_id": notice.json()["id"], "items": [int(BEYOND_INT64)]},
        {"notice_id": int(BEYOND_INT64), "items": [item]},
    ):
        error_of(customer.post("/v1/counter-notices", json=body), 422, "out_of_range")


def test_an_out_of_range_decision_changes_nothing_and_leaves_the_database_writable(
    api: Api, zone: dict[str, Any]
) -> None:
    urls = ["http://manga.example.test/p1.jpg", "http://manga.example.test/p2.jpg"]
    notice = api.as_("submitter").post("/v1/notices", json=notice_body(urls)).json()
    first, second = (i["id"] for i in notice["items"])
    agent = api.as_("agent")
    decision = f"/v1/notices/{notice['id']}/decision"
    r = agent.post(decision, json={"items": {str(first): "action", BEYOND_INT64: "reject"}, "reason": "r"})
    error_of(r, 422, "out_of_range")
    unchanged = agent.get(f"/v1/notices/{notice['id']}").json()
    assert [i["status"] for i in unchanged["items"]] == ["pending_review", "pending_review"]
    r = agent.post(decision, json={"items": {str(first): "action", str(second): "reject"}, "reason": "r"})
    assert r.status_code == 200, r.text
    assert [i["status"] for i in r.json()["items"]] == ["actioned", "rejected"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"per_second": NaN}',
        b'{"per_second": Infinity}',
        b'{"per_second": -Infinity, "burst": 5}',
        b'{"per_second": 1e400}',
        b'{"per_second": "\\ud800"}',
    ],
)
def test_rate_limit_errors_are_json_safe(api: Api, zone: dict[str, Any], raw: bytes) -> None:
    r = post_json(api.as_("agent"), f"/v1/zones/{zone['zone_id']}/rate-limit", raw)
    error = error_of(r, 422, "validation_error")
    assert [d["loc"] for d in error["details"]] == [["body", "per_second"]]


def test_notice_validation_errors_are_json_safe(api: Api, zone: dict[str, Any]) -> None:
    client = api.as_("submitter")
    raw = (
        b'{"regime": "dmca", "explanation": "\\ud800", "signature": NaN, "works": Infinity,'
        b' "items": [{"url": 1e400, "work": "\\udfff"}], "submitter": {"\\ud800": 1}}'
    )
    error = error_of(post_json(client, "/v1/notices", raw), 422, "validation_error")
    assert error["details"] and all(set(d) <= {"loc", "msg", "type", "input"} for d in error["details"])
    assert "\\ud800" in json.dumps(error, ensure_ascii=False)

    notice = client.post("/v1/notices", json=notice_body(["http://manga.example.test/p1.jpg"])).json()
    decision = f"/v1/notices/{notice['id']}/decision"
    r = post_json(api.as_("agent"), decision, b'{"items": {"\\ud800": "action"}, "reason": NaN}')
    error = error_of(r, 422, "validation_error")
    assert {tuple(d["loc"][:2]) for d in error["details"]} == {("body", "items"), ("body", "reason")}


def test_error_answers_do_not_repeat_the_body(api: Api) -> None:
    client = api.as_("submitter")
    array = b"[" + b",".join([b'"http://manga.example.test/page.jpg"'] * 200_000) + b"]"
    assert len(array) > 7_000_000
    r = post_json(client, "/v1/notices", array)
    error_of(r, 422, "validation_error")
    assert len(r.content) < 2_000

    long_text = "x" * 1_000_000
    r = client.post("/v1/notices", json={"regime": "dmca", "items": long_text})
    error = error_of(r, 422, "validation_error")
    assert len(r.content) < 2_000
    [shown] = [d["input"] for d in error["details"] if d["loc"] == ["body", "items"]]
    assert shown.startswith("'xxx") and len(shown) < 60

    r = post_json(client, "/v1/notices", b'{"explanation": "' + b"y" * 1_000_000 + b'"')
    error_of(r, 400, "malformed_json")
    assert len(r.content) < 2_000


def test_json_endpoints_refuse_other_media_types(api: Api) -> None:
    agent = api.as_("agent")
    body = json.dumps({"name": "Shop", "email": "shop@example.com"}).encode()
    for response in (
        agent.post("/v1/customers", content=body, headers={"content-type": "text/plain"}),
        agent.post("/v1/customers", content=body),
        agent.post("/v1/customers", data={"name": "Shop", "email": "shop@example.com"}),
        agent.post("/v1/customers", files={"name": ("name", b"Shop")}),
    ):
        error = error_of(response, 415, "unsupported_media_type")
        assert "application/json" in error["message"]
        assert error["details"]["expected"] == "application/json"

    r = agent.post(
        "/v1/customers",
        content=json.dumps({"name": "Shop", "email": "shop@example.com"}),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201, r.text

    picture = Image.radial_gradient("L").resize((320, 320)).convert("RGB")
    created = api.as_("trusted_flagger").post(
        "/v1/works",
        data={"description": "Volume 1"},
        files=[("images", ("p1.png", image_bytes(picture, "PNG"), "image/png"))],
    )
    assert created.status_code == 201, created.text


def test_unauthorized_answers_carry_a_bearer_challenge(api: Api) -> None:
    anonymous = api.client()
    r = anonymous.get("/v1/notices")
    error_of(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = anonymous.get("/v1/notices", headers={"authorization": "Bearer not-a-key"})
    error_of(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
