"""Due-process figures in the transparency report, and the DSA statements export from the CLI:
every statement issued in the period, each valid under the Transparency Database's rules."""

from __future__ import annotations

import json
from typing import Any

from staydown.reports.dsa import validate_statement
from tests.conftest import Api
from tests.due_process.support import actioned_notice, counter_notice_body
from tests.notices.test_deadline import timers_run
from tests.reports.test_exports import cli

PERIOD = {"from": "2026-11-01", "to": "2026-12-31"}


def customer_client(api: Api, key: str) -> Any:
    client = api.client()
    client.headers["authorization"] = f"Bearer {key}"
    return client


def test_counter_notices_restorations_complaints_and_statements(api: Api) -> None:
    restored = actioned_notice(api, "shop.example.test", ["/a.jpg", "/b.jpg"], service_type="platform")
    counter = customer_client(api, restored["key"]).post(
        "/v1/counter-notices", json=counter_notice_body(restored["notice"]["id"], restored["item_ids"])
    )
    assert counter.status_code == 201, counter.text
    assert timers_run(api, counter.json()["restore_at"])["ran"] == 1

    complained = actioned_notice(api, "gallery.example.test", ["/c.jpg"], service_type="hosting")
    complaint = customer_client(api, complained["key"]).post(
        "/v1/complaints",
        json={
            "notice_id": complained["notice"]["id"],
            "items": complained["item_ids"],
            "explanation": "mine",
        },
    )
    assert complaint.status_code == 201, complaint.text
    dismissed = api.as_("agent").post(
        f"/v1/complaints/{complaint.json()['id']}/decision",
        json={"outcome": "dismissed", "reason": "the notifier's licence covers it"},
    )
    assert dismissed.status_code == 200, dismissed.text
    # An incomplete counter-notice is counted too, under its own status.
    incomplete = customer_client(api, complained["key"]).post(
        "/v1/counter-notices",
        json=counter_notice_body(complained["notice"]["id"], complained["item_ids"], signature=None),
    )
    assert incomplete.status_code == 201 and incomplete.json()["status"] == "incomplete"

    statements = api.as_("agent").get("/v1/statements").json()
    assert len(statements) >= 3

    report = api.as_("agent").get("/v1/reports/transparency", params=PERIOD).json()
    figures = report["due_process"]
    assert figures["available"] is True
    assert figures["counter_notices"] == 2
    assert figures["counter_notices_by_status"] == {"incomplete": 1, "restored": 1}
    assert figures["restorations"] == 1
    assert figures["complaints"] == 1 and figures["complaints_by_outcome"] == {"dismissed": 1}
    assert figures["statements_of_reasons"] == len(statements)
    assert report["urls"]["by_status"]["restored"] == 2
    html = api.as_("agent").get("/v1/reports/transparency.html", params=PERIOD).text
    assert "Counter-notices" in html and "not recorded by this installation" not in html

    result = cli(api, "report", "statements", "--from", PERIOD["from"], "--to", PERIOD["to"])
    exported = json.loads(result.stdout)["statements"]
    # Only an online platform's statements go to the Transparency Database (DSA Art. 24(5)).
    platform = [s for s in statements if s["zone_id"] == restored["zone_id"]]
    assert platform and len(platform) < len(statements)
    assert sorted(s["puid"] for s in exported) == sorted(s["puid"] for s in platform)
    for statement in exported:
        assert validate_statement(statement) == [], statement
        assert statement["category"] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    assert f"{len(platform)} statement(s), all valid" in result.stderr

    earlier = cli(api, "report", "statements", "--from", "2026-01-01", "--to", "2026-10-31")
    assert json.loads(earlier.stdout) == {"statements": []}
