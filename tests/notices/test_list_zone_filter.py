"""The ``zone`` filter of the notice list: an id, a hostname, or a refusal in the common error shape."""

from __future__ import annotations

from tests.conftest import Api
from tests.support import active_zone, notice_body

REFUSED = [
    ("²", "validation_error"),
    ("1²", "validation_error"),
    ("١٢", "validation_error"),  # Arabic-Indic digits
    ("9" * 5000, "out_of_range"),
    ("2147483648", "out_of_range"),
    ("9223372036854775808", "out_of_range"),
]


def test_the_zone_filter_takes_an_id_or_a_hostname_and_refuses_other_numbers(api: Api) -> None:
    zone = active_zone(api, "manga.example.test")
    notice = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body(["http://manga.example.test/p/1.jpg"]))
        .json()
    )
    agent = api.as_("agent")
    for value in (str(zone["zone_id"]), f"000{zone['zone_id']}", "MANGA.example.test"):
        r = agent.get("/v1/notices", params={"zone": value})
        assert r.status_code == 200, r.text
        assert [n["id"] for n in r.json()["notices"]] == [notice["id"]]
    for value in ("other.example.test", "2147483647"):
        r = agent.get("/v1/notices", params={"zone": value})
        assert r.status_code == 200, r.text
        assert r.json()["notices"] == []
    for value, code in REFUSED:
        r = agent.get("/v1/notices", params={"zone": value})
        assert r.status_code == 422, (value[:20], r.text)
        error = r.json()["error"]
        assert error["code"] == code
        assert error["details"][0]["loc"] == ["query", "zone"]
        assert len(r.content) < 1000
