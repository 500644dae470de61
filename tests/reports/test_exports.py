"""Reports as users get them: the transparency report over HTTP, and the Lumen export from the CLI
as a process, parsed back and compared with the notices as the API shows them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx

from staydown.reports import lumen
from tests.conftest import Api
from tests.support import active_zone, notice_body

STAYDOWN = [sys.executable, "-m", "staydown.cli"]


def cli(api: Api, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STAYDOWN_DATA_DIR": str(api.settings.data_dir),
        "STAYDOWN_DATABASE_URL": str(api.settings.database_url),
    }
    result = subprocess.run(
        [*STAYDOWN, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def seed(api: Api) -> dict[str, Any]:
    """Three notices in November 2026 (one trusted, one from a private individual, one Japanese)
    and one in October, outside the reporting period."""
    zone = active_zone(api, "manga.example.test")
    host = zone["hostname"]
    api.clock.advance(days=-5)
    october = (
        api.as_("trusted_flagger").post("/v1/notices", json=notice_body([f"http://{host}/old.jpg"])).json()
    )
    api.clock.advance(days=5, hours=1)
    trusted = (
        api.as_("trusted_flagger")
        .post("/v1/notices", json=notice_body([f"http://{host}/a.jpg", f"http://{host}/b.jpg"]))
        .json()
    )
    individual_body = notice_body(
        [f"http://{host}/c.jpg", f"http://{host}/d.jpg", "http://elsewhere.example/x.jpg"],
        submitter={
            "name": "Jane Private",
            "email": "jane@home.example",
            "address": "12 Elm Road, Leeds",
            "phone": "+44 113 000 0000",
            "organization": None,
            "on_behalf_of": None,
        },
    )
    individual = api.as_("submitter").post("/v1/notices", json=individual_body).json()
    api.clock.advance(hours=3)
    decision = {individual["items"][0]["id"]: "action", individual["items"][1]["id"]: "reject"}
    r = api.as_("agent").post(
        f"/v1/notices/{individual['id']}/decision", json={"items": decision, "reason": "r"}
    )
    assert r.status_code == 200, r.text
    japanese = (
        api.as_("submitter")
        .post(
            "/v1/notices",
            json=notice_body(
                ["http://elsewhere.example/manga/1.png"],
                regime="jp",
                works=[
                    {"description": "漫画『デモ』第1巻", "reference_urls": ["https://publisher.example/jp"]}
                ],
            ),
        )
        .json()
    )
    api.as_("legal").post(
        "/v1/disclosure-orders",
        json={
            "customer_id": zone["customer_id"],
            "authority": "Tokyo District Court",
            "case_number": "R8-1",
            "jurisdiction": "JP",
            "legal_basis": "jp_disclosure_order",
            "scope": ["name"],
            "gagged": True,
        },
    )
    return {"october": october, "trusted": trusted, "individual": individual, "japanese": japanese}


def test_transparency_report_over_http(api: Api) -> None:
    notices = seed(api)
    params = {"from": "2026-11-01", "to": "2026-11-30"}
    for role in ("submitter", "trusted_flagger", "edge"):
        denied = api.as_(role).get("/v1/reports/transparency", params=params)
        assert denied.status_code == 403, role
    report = api.as_("legal").get("/v1/reports/transparency", params=params)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["notices"]["total"] == 3
    assert body["notices"]["by_regime"] == {"dmca": 2, "jp": 1}
    assert body["notices"]["by_submitter_class"] == {"individual": 1, "organisation": 1, "trusted_flagger": 1}
    assert body["urls"]["total"] == 6
    assert (body["urls"]["actioned"], body["urls"]["rejected"], body["urls"]["not_on_network"]) == (3, 1, 2)
    assert body["time_to_action"]["notices_actioned"] == 2
    # The trusted notice was actioned on receipt, the individual's after three hours: median 1.5 h.
    assert body["time_to_action"]["median_seconds"] == 1.5 * 3600
    assert body["time_to_action"]["within_deadline"] == 2
    assert (body["automation"]["decided_urls"], body["automation"]["automated_urls"]) == (4, 2)
    assert body["disclosure_orders"] == {
        "total": 1,
        "by_legal_basis": {"jp_disclosure_order": 1},
        "by_status": {"received": 1},
        "by_jurisdiction": {"JP": 1},
        "gagged": 1,
    }
    assert body["volume"] == [{"date": "2026-11-02", "notices": 3}]
    october = api.as_("agent").get(
        "/v1/reports/transparency", params={"from": "2026-10-01", "to": "2026-10-31"}
    )
    assert october.json()["notices"]["total"] == 1 and notices["october"]["status"] == "actioned"

    html = api.as_("agent").get("/v1/reports/transparency.html", params=params)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.count("<svg") == 2 and "<script" not in html.text
    assert '<td class="n" id="notices-total">3</td>' in html.text
    assert '<td class="n" id="urls-actioned">3</td>' in html.text

    bad = api.as_("agent").get("/v1/reports/transparency", params={"from": "2026-13-01", "to": "2026-11-30"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_period"
    backwards = api.as_("agent").get(
        "/v1/reports/transparency", params={"from": "2026-12-01", "to": "2026-11-01"}
    )
    assert backwards.status_code == 422 and "ends before it starts" in backwards.json()["error"]["message"]
    missing = api.as_("agent").get("/v1/reports/transparency", params={"to": "2026-11-30"})
    assert missing.status_code == 422


def notice_view(api: Api, notice_id: int) -> dict[str, Any]:
    view: dict[str, Any] = api.as_("agent").get(f"/v1/notices/{notice_id}").json()
    return view


def test_lumen_export_round_trips_with_private_individuals_redacted(api: Api) -> None:
    notices = seed(api)
    result = cli(api, "report", "lumen", "--from", "2026-11-01", "--to", "2026-11-30")
    exported = lumen.parse(result.stdout)
    assert json.loads(result.stdout)["notices"][0].keys() == lumen.LumenNotice.model_fields.keys()
    by_id = {n.id: n for n in exported.notices}
    assert set(by_id) == {
        f"staydown-notice-{notices[k]['id']}" for k in ("trusted", "individual", "japanese")
    }

    for key, notice in notices.items():
        if key == "october":
            continue
        view = notice_view(api, notice["id"])
        got = by_id[f"staydown-notice-{notice['id']}"]
        assert got.type == {"dmca": "DMCA", "jp": "Other"}[view["regime"]]
        assert got.date_received.isoformat() == httpx.Response(200, json=view).json()["received_at"].replace(
            "Z", "+00:00"
        )
        assert got.recipient_name == "staydown"
        assert [w.description for w in got.works] == [w["description"] for w in view["works"]]
        assert [u.url for u in got.works[0].copyrighted_urls] == view["works"][0]["reference_urls"]
        assert [u.url for u in got.works[0].infringing_urls] == [i["url"] for i in view["items"]]
        assert got.jurisdictions == {"dmca": ["US"], "jp": ["JP"]}[view["regime"]]

    trusted = by_id[f"staydown-notice-{notices['trusted']['id']}"]
    assert trusted.action_taken == "Yes"
    # An organisation is named; its contact details (a person's mailbox, telephone) are not published.
    assert (trusted.sender_name, trusted.sender_email) == ("Rights Agency", lumen.REDACTED)
    assert (trusted.sender_phone, trusted.sender_address) == (lumen.REDACTED, lumen.REDACTED)
    assert "agent@rights.example" not in result.stdout and "Otemachi" not in result.stdout
    assert trusted.principal_name == "Manga Publisher" and trusted.language == "en"

    private = by_id[f"staydown-notice-{notices['individual']['id']}"]
    assert private.action_taken == "Partial"
    assert [private.sender_name, private.sender_email, private.sender_phone, private.sender_address] == [
        lumen.REDACTED
    ] * 4
    assert (
        "Jane" not in result.stdout
        and "jane@home.example" not in result.stdout
        and "Elm Road" not in result.stdout
    )

    japanese = by_id[f"staydown-notice-{notices['japanese']['id']}"]
    assert japanese.action_taken == "No" and japanese.language == "ja"

    # Export → parse → export gives the same document.
    assert lumen.parse(exported.model_dump_json()) == exported


def test_report_cli_refuses_bad_input(api: Api) -> None:
    bad = cli(
        api,
        "report",
        "transparency",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--format",
        "pdf",
        check=False,
    )
    assert bad.returncode == 2 and "unknown format 'pdf'" in bad.stderr
    backwards = cli(api, "report", "lumen", "--from", "2026-11-30", "--to", "2026-11-01", check=False)
    assert backwards.returncode == 2 and "ends before it starts" in backwards.stderr
