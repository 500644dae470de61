"""What intake and supplements refuse over HTTP: sworn statements that are not JSON booleans,
malformed e-mail addresses, reference URLs that are not absolute http(s) URLs, and supplements that
would leave a notice intake itself would refuse or reject."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support import active_zone, notice_body

URL = "http://manga.example.test/chapter-2/page-03.jpg"
MISSING_EMAIL = {
    "dmca": [],  # a postal address or telephone is contact information enough (512(c)(3)(A)(iv))
    "dsa": ["DSA Art. 16(2)(c) name and e-mail address"],
    "jp": [],  # a postal address is contact enough
}


@pytest.fixture
def zone(api: Api) -> dict[str, Any]:
    return active_zone(api, "manga.example.test")


def locations(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return [detail["loc"] for detail in error["details"]]


def notice_count(api: Api) -> int:
    total: int = api.as_("agent").get("/v1/notices").json()["total"]
    return total


def incomplete_notice(api: Api, **overrides: Any) -> dict[str, Any]:
    r = api.as_("submitter").post("/v1/notices", json=notice_body([URL], signature=None, **overrides))
    assert r.status_code == 201, r.text
    notice: dict[str, Any] = r.json()
    assert notice["status"] == "incomplete"
    return notice


def test_sworn_statements_must_be_json_booleans(api: Api, zone: dict[str, Any]) -> None:
    # One API for the whole table: what is checked is the request, not the database.
    for value in ["yes", "on", 1, "true", 0]:
        body = notice_body([URL], statements={"good_faith": value, "accurate": True, "authorized": True})
        r = api.as_("submitter").post("/v1/notices", json=body)
        assert ["body", "statements", "good_faith"] in locations(r), value
        assert "statements.good_faith" in r.json()["error"]["message"], value
    assert notice_count(api) == 0


def test_sworn_statements_in_a_supplement_must_be_json_booleans(api: Api, zone: dict[str, Any]) -> None:
    notice = incomplete_notice(api, statements={"good_faith": False, "accurate": True, "authorized": True})
    r = api.as_("submitter").post(
        f"/v1/notices/{notice['id']}/supplement",
        json={
            "signature": "Rights Agent",
            "statements": {"good_faith": "yes", "accurate": 1, "authorized": "on"},
        },
    )
    assert sorted(locations(r)) == [
        ["body", "statements", "accurate"],
        ["body", "statements", "authorized"],
        ["body", "statements", "good_faith"],
    ]
    stored = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert stored["status"] == "incomplete"
    assert stored["signature"] is None
    assert stored["statements"]["good_faith"] is False


@pytest.mark.parametrize("regime", ["dmca", "dsa", "jp"])
def test_a_malformed_email_address_is_refused(api: Api, zone: dict[str, Any], regime: str) -> None:
    body = notice_body([URL], regime=regime)
    for email in ["not-an-email", "agent@", "@rights.example", "agent@rights", "a b@rights.example"]:
        body["submitter"]["email"] = email
        r = api.as_("trusted_flagger").post("/v1/notices", json=body)
        assert locations(r) == [["body", "submitter", "email"]], email
        assert "submitter.email" in r.json()["error"]["message"], email
    assert notice_count(api) == 0

    # A well-formed address is kept as given; an empty one is no address: a missing element.
    body["submitter"]["email"] = "Agent@Rights.Example"
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    stored = api.as_("agent").get(f"/v1/notices/{r.json()['id']}").json()
    assert stored["submitter"]["email"] == "Agent@Rights.Example"
    body["submitter"]["email"] = "  "
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["missing_elements"] == MISSING_EMAIL[regime]


def test_a_malformed_email_address_in_a_supplement_is_refused(api: Api, zone: dict[str, Any]) -> None:
    notice = incomplete_notice(api)
    r = api.as_("submitter").post(
        f"/v1/notices/{notice['id']}/supplement",
        json={"signature": "Rights Agent", "submitter": {"email": "not-an-email"}},
    )
    assert locations(r) == [["body", "submitter", "email"]]
    stored = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert stored["status"] == "incomplete"
    assert stored["submitter"]["email"] == "agent@rights.example"


def test_reference_urls_must_be_absolute_http_urls(api: Api, zone: dict[str, Any]) -> None:
    refused = ["javascript:alert(1)", "file:///etc/passwd", "not a url", "/vol1", "//publisher.example/vol1"]
    refused.append("ftp://x.example/")
    body = notice_body([URL])
    notice = incomplete_notice(api)
    for reference in refused:
        body["works"] = [
            {"description": "Demo Manga, volume 1"},
            {
                "description": "Demo Manga, volume 2",
                "reference_urls": ["https://publisher.example/vol2", reference],
            },
        ]
        r = api.as_("trusted_flagger").post("/v1/notices", json=body)
        assert locations(r) == [["body", "works", 1, "reference_urls", 1]], reference
        r = api.as_("submitter").post(
            f"/v1/notices/{notice['id']}/supplement",
            json={
                "signature": "Rights Agent",
                "works": [{"description": "Vol. 1", "reference_urls": [reference]}],
            },
        )
        assert locations(r) == [["body", "works", 0, "reference_urls", 0]], reference
    assert notice_count(api) == 1  # the incomplete notice only
    assert api.as_("agent").get(f"/v1/notices/{notice['id']}").json()["status"] == "incomplete"

    references = ["https://publisher.example/vol2", "HTTP://Publisher.Example:8080/a?b=c"]
    body["works"][1]["reference_urls"] = references
    r = api.as_("trusted_flagger").post("/v1/notices", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["works"][1]["reference_urls"] == references


def test_a_supplement_may_not_leave_an_item_naming_a_work_that_is_gone(
    api: Api, zone: dict[str, Any]
) -> None:
    works = [{"description": "Volume 1"}, {"description": "Volume 2"}]
    notice = incomplete_notice(
        api,
        works=works,
        items=[{"url": URL, "work": 0}, {"url": "http://manga.example.test/p2.jpg", "work": 1}],
    )
    supplement = f"/v1/notices/{notice['id']}/supplement"
    submitter = api.as_("submitter")

    r = submitter.post(supplement, json={"signature": "Rights Agent", "works": [{"description": "only"}]})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_items"
    assert [(d["index"], d["code"]) for d in error["details"]] == [(1, "unknown_work")]
    stored = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
    assert stored["status"] == "incomplete"
    assert stored["signature"] is None
    assert [w["description"] for w in stored["works"]] == ["Volume 1", "Volume 2"]

    r = submitter.post(supplement, json={"works": []})
    assert r.status_code == 422, r.text
    assert [(d["index"], d["code"]) for d in r.json()["error"]["details"]] == [
        (0, "unknown_work"),
        (1, "unknown_work"),
    ]

    # Intake rejects the same entry of the combined notice with the same code, and takes the rest.
    combined = notice_body([URL], works=[{"description": "only"}], items=notice["items"])
    intake = submitter.post("/v1/notices", json=combined)
    assert intake.status_code == 201, intake.text
    rejected = [{k: v for k, v in r.items() if k != "external_id"} for r in intake.json()["rejected"]]
    assert rejected == error["details"]
    assert [i["work"] for i in intake.json()["items"]] == [0]

    r = submitter.post(
        supplement,
        json={"signature": "Rights Agent", "works": [{"description": "Vol. 1"}, {"description": "Vol. 2"}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    assert [i["work"] for i in r.json()["items"]] == [0, 1]


def test_a_supplement_may_not_take_away_what_identifies_the_work(api: Api, zone: dict[str, Any]) -> None:
    notice = incomplete_notice(api, items=[{"url": URL}])
    supplement = f"/v1/notices/{notice['id']}/supplement"
    for works in ([], [{"description": "   "}]):
        r = api.as_("submitter").post(supplement, json={"signature": "Rights Agent", "works": works})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "notice_insufficient"
        assert (
            "512(c)(3)(A)(ii) identification of the copyrighted work" in error["details"]["missing_elements"]
        )
        stored = api.as_("agent").get(f"/v1/notices/{notice['id']}").json()
        assert stored["status"] == "incomplete"
        assert stored["missing_elements"] == notice["missing_elements"]
        assert stored["signature"] is None
        assert [w["description"] for w in stored["works"]] == ["Demo Manga, volume 1"]
