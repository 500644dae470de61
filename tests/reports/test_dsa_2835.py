"""The DSA Art. 15 report in the CSV templates of Implementing Regulation (EU) 2024/2835.

The produced parts are read back and compared with copies of the Commission's blank CSV parts kept
in ``tests/reports/data/dsa_2835/`` (columns, their order and the rows' categories), and their
figures with the notices the test created.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from staydown.accounts.models import Zone
from staydown.fingerprints import service as fingerprints
from staydown.fingerprints.hashing import Fingerprint
from staydown.fingerprints.models import BankScope, BankSource
from staydown.fingerprints.schemas import MatchReport
from staydown.reports import dsa_2835
from staydown.reports.queries import TemplateRows
from tests.conftest import Api
from tests.reports.test_exports import seed

DATA = Path(__file__).with_name("data") / "dsa_2835"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def read(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def template(name: str) -> tuple[list[str], list[list[str]]]:
    return read((DATA / name).read_text(encoding="utf-8"))


def by_category(header: list[str], rows: list[list[str]]) -> dict[str, dict[str, str]]:
    category = header.index("Category of illegal content")
    return {row[category]: dict(zip(header, row, strict=True)) for row in rows}


def get_part(api: Api, part: str, **params: str) -> tuple[list[str], list[list[str]]]:
    response = api.as_("legal").get(f"/v1/reports/dsa-2835/{part}.csv", params={**NOVEMBER, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    name = dsa_2835.PARTS[part]
    assert f'filename="{name}"' in response.headers["content-disposition"]
    return read(response.text)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_parts_have_the_templates_columns_and_figures_from_the_notices(api: Api) -> None:
    seed(api)

    header, rows = get_part(api, "part-4")
    blank_header, blank_rows = template("Part_4_notices.csv")
    assert header == blank_header and len(header) == 25
    category = header.index("Category of illegal content")
    assert [r[category] for r in rows] == [r[category] for r in blank_rows]
    assert all(len(r) == len(header) for r in rows)
    figures = by_category(header, rows)
    total = figures["TOTAL"]
    # Three notices in November: a trusted flagger's (2 URLs, actioned on receipt), a private
    # person's (3 URLs: one actioned and one rejected three hours later, one off the network) and a
    # Japanese one naming nothing on the network.
    assert total["Reporting period"] == "2026-11-01/2026-11-30"
    assert total["Number of notices received "] == "3"
    assert total["Number of notices received from Trusted flaggers"] == "1"
    assert total["Number of specific items of information included in the total number of notices"] == "6"
    assert (
        total[
            "Number of specific items of information included in the total number of notices by "
            "Trusted Flaggers (Trusted Flagger notices)"
        ]
        == "2"
    )
    assert total["Median time to take action"] == "1.50"  # hours: 0 and 3
    assert total["Median time to take action (Trusted Flagger notices)"] == "0.00"
    assert total["Number of actions taken on the basis of the law"] == "3"
    assert total["Number of actions taken on the basis of the law (Trusted Flagger notices)"] == "2"
    assert total["Number of actions taken on the basis of the terms and conditions of the service"] == "0"
    assert "DSA" not in total["Contextual information on Number of notices received "]
    assert "US DMCA (17 U.S.C. 512): 2" in total["Contextual information on Number of notices received "]
    copyright_row = figures["KEYWORD_COPYRIGHT_INFRINGEMENT"]
    ip_row = figures["STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"]
    assert copyright_row["Number of notices received "] == ip_row["Number of notices received "] == "3"
    assert figures["KEYWORD_HATE_SPEECH"]["Number of notices received "] == ""

    header, rows = get_part(api, "part-1", previous="2025-02-28")
    blank_header, blank_rows = template("Part_1_summary.csv")
    assert header == blank_header
    indicator = header.index("Indicator")
    assert [r[indicator] for r in rows] == [r[indicator] for r in blank_rows]
    values = {r[indicator]: r[header.index("Value")] for r in rows}
    assert values == {
        "Name of the service provider": "staydown",
        "Date of the publication of the report": api.clock.now.date().isoformat(),
        "Date of the publication of the latest previous report": "2025-02-28",
        "Starting date of reporting period": "2026-11-01",
        "Ending date of reporting period": "2026-11-30",
    }

    header, rows = get_part(api, "part-7")
    blank_header, blank_rows = template("Part_7_appeals_and_recidivism.csv")
    assert header == blank_header
    keys = [(r[3], r[4], r[5]) for r in rows]
    assert keys == [(r[3], r[4], r[5]) for r in blank_rows]
    assert rows[0][header.index("Value")] == "0"  # no complaint in November

    assert api.as_("legal").get("/v1/reports/dsa-2835/part-2.csv", params=NOVEMBER).status_code == 404
    assert api.as_("submitter").get("/v1/reports/dsa-2835/part-4.csv", params=NOVEMBER).status_code == 403
    bad = api.as_("legal").get("/v1/reports/dsa-2835/part-1.csv", params={**NOVEMBER, "previous": "soon"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_date"


def test_complaint_figures_fill_part_7() -> None:
    data = TemplateRows(
        notices=[],
        items=[],
        time_to_action=[],
        complaints={"upheld": 1, "dismissed": 2, "open": 1},
        complaint_seconds=[3600.0, 7200.0, 36000.0],
    )
    facts = dsa_2835.ReportFacts("P", "S", date(2026, 1, 1), date(2026, 12, 31), date(2027, 2, 1), None)
    _header, rows = read(dsa_2835.part_7(facts, data))
    first = [r for r in rows if r[4] == "Number of complaints submitted to the internal-complaints mechanism"]
    values = {r[5]: r[6] for r in first}
    assert values == {
        "Total number": "4",
        "Decisions upheld": "2",  # complaints found unfounded: the decision stands
        "Decisions partially reversed": "",
        "Decisions reversed": "1",
        "Median time": "2.00",
        "Decision omitted": "",
    }
    assert all(r[1] == "S" and r[2] == "2026-01-01/2026-12-31" for r in rows)
    header4, rows4 = read(dsa_2835.part_4(facts, data))
    assert by_category(header4, rows4)["TOTAL"]["Median time to take action"] == ""


FACTS = dsa_2835.ReportFacts("P", "S", date(2026, 1, 1), date(2026, 12, 31), date(2027, 2, 1), None)
OPERATOR = dsa_2835.Operator(
    auto_block_distance=31,
    review_distance=48,
    flood_urls=50,
    flood_window_seconds=3600,
    match_strikes="on_confirm",
    policy_text="# P repeat-infringer policy\n\nThree strikes suspend.",
)
COPYRIGHT = (
    "TOTAL",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "KEYWORD_COPYRIGHT_INFRINGEMENT",
)
HOUR = 3600.0


def rows_data(**fields: Any) -> TemplateRows:
    return TemplateRows(
        notices=[], items=[], time_to_action=[], complaints={}, complaint_seconds=[], **fields
    )


def by_indicator(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    header, rows = read(text)
    h = [name.lower() for name in header]
    i, s, v, c = h.index("indicator"), h.index("scope"), h.index("value"), h.index("contextual information")
    return {(r[i], r[s]): (r[v], r[c]) for r in rows}


def test_member_states_are_read_from_the_orders_jurisdiction() -> None:
    assert dsa_2835.member_state("EU/DE") == dsa_2835.member_state("de") == "DE"
    assert dsa_2835.member_state("GR") == "EL"
    assert dsa_2835.member_state("FR-Paris") == "FR"
    assert dsa_2835.member_state("JP") is None
    assert dsa_2835.member_state("US") is None
    assert dsa_2835.member_state("EU") is None


def test_orders_fill_part_3_by_category_and_member_state() -> None:
    data = rows_data(
        orders=[
            ("EU/DE", True, "authority_order", "complied", 2 * HOUR),
            ("DE", False, "court_order", "received", None),
            ("FR", True, "court_order", "partially_complied", 6 * HOUR),
            ("JP", True, "jp_disclosure_order", "complied", 1 * HOUR),
        ]
    )
    header, rows = read(dsa_2835.part_3(FACTS, data))
    blank_header, blank_rows = template("Part_3_member_states_orders.csv")
    assert header == blank_header and len(header) == 20
    scope, category = header.index("Scope"), header.index("Category of illegal content")
    totals = [r for r in blank_rows if r[scope] == "TOTAL"]
    block = [r[category] for r in blank_rows if r[scope] == "AT, […], SE"]
    # The TOTAL block as it is, then the Member State block once per Member State with orders, in
    # the template's order (France before Germany).
    assert [(r[scope], r[category]) for r in rows] == (
        [("TOTAL", r[category]) for r in totals] + [("FR", c) for c in block] + [("DE", c) for c in block]
    )
    assert all(len(r) == len(header) and r[1] == "S" and r[2] == "2026-01-01/2026-12-31" for r in rows)
    assert "Text to detail" not in "".join(",".join(r) for r in rows)
    cells = {(r[scope], r[category]): dict(zip(header, r, strict=True)) for r in rows}
    number, median = (
        "Number of orders to provide information",
        "Median time to give effect to the order to provide information",
    )
    assert cells[("TOTAL", "TOTAL")][number] == "3"  # the Japanese order is not a Member State's
    assert cells[("TOTAL", "TOTAL")][median] == "4.00"  # hours: 2 and 6, the open order not measured
    assert (
        "1 order(s) of authorities outside the Union"
        in cells[("TOTAL", "TOTAL")][f"Contextual information on {number}"]
    )
    assert cells[("TOTAL", "KEYWORD_COPYRIGHT_INFRINGEMENT")][number] == "2"
    assert cells[("TOTAL", "STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER")][number] == "1"
    assert cells[("DE", "TOTAL")][number] == "2" and cells[("DE", "TOTAL")][median] == "2.00"
    assert cells[("DE", "KEYWORD_COPYRIGHT_INFRINGEMENT")][number] == "1"
    assert cells[("FR", "TOTAL")][number] == "1" and cells[("FR", "TOTAL")][median] == "6.00"
    assert cells[("TOTAL", "KEYWORD_HATE_SPEECH")][number] == ""
    assert cells[("TOTAL", "TOTAL")]["Number of orders to act against illegal content received"] == ""

    # No order from a Member State: the TOTAL block only, with zeros on the rows this service fills.
    _header, rows = read(dsa_2835.part_3(FACTS, rows_data()))
    assert [r[scope] for r in rows] == ["TOTAL"] * len(totals)
    assert rows[0][header.index(number)] == "0"


def test_stay_down_matches_fill_parts_5_and_8() -> None:
    data = rows_data(
        # (outcome, status, of a registered work, exact copy, count)
        matches=[
            ("block", "blocked", False, True, 4),  # automatic, never looked at
            ("block", "confirmed", True, False, 3),
            ("block", "dismissed", False, False, 1),  # lifted on a complaint
            ("review", "confirmed", True, False, 2),  # blocked once an agent confirmed
            ("review", "dismissed", False, False, 5),  # never blocked
            ("review", "pending_review", False, False, 6),  # not blocked yet
        ],
        matches_lifted_on_complaint={"block": 1},
        decided_items=[
            ("actioned", True, True, 7),
            ("actioned", False, False, 2),
            ("rejected", False, False, 9),
        ],
        notice_automation=[(True, True, 3), (False, True, 1), (False, False, 4)],
    )
    header, rows = read(dsa_2835.part_5(FACTS, data))
    blank_header, blank_rows = template("Part_5_own_initiative_illegal.csv")
    assert header == blank_header and len(header) == 37
    assert [r[3] for r in rows] == [r[3] for r in blank_rows]
    cells = by_category(header, rows)
    for name in COPYRIGHT:
        row = cells[name]
        assert row["Number of measures taken at the provider's own initiative "] == "10"
        assert row["Number of measures taken after detection with solely automated means "] == "10"
        assert row["Visibility restriction Disable"] == "10"
        assert row["Visibility restriction Removal"] == ""
    context = cells["TOTAL"][
        "Contextual Information on Number of measures taken at the provider's own initiative "
    ]
    assert "after a notice (5) or of works rightsholders registered (5)" in context
    assert "8 blocked at once, 2 blocked after an agent confirmed" in context
    assert (
        "4 exact copies"
        in cells["TOTAL"][
            "Contextual Information on Number of measures taken after detection with solely automated means "
        ]
    )
    assert cells["KEYWORD_HATE_SPEECH"]["Number of measures taken at the provider's own initiative "] == ""

    values = by_indicator(dsa_2835.part_8(FACTS, data))
    _bh, blank_rows = template("Part_8_automated_means.csv")
    assert list(values) == list(dict.fromkeys((r[4], r[5]) for r in blank_rows))
    solely, not_solely = (
        "Number of measures solely taken by automated means ",
        "Number of measures not taken by automated means",
    )
    assert values[(solely, "Own-initiative ")][0] == "8"
    assert values[(not_solely, "Own-initiative ")][0] == "2"
    assert values[(solely, "Total number")][0] == "15"  # 8 automatic blocks, 7 items actioned automatically
    assert values[(not_solely, "Total number")][0] == "4"  # 2 confirmed matches, 2 items actioned by an agent
    precision = values[("Accuracy of the automated means - Precision", "Own-initiative ")]
    assert precision[0] == "0.75"  # 3 confirmed of the 4 automatic blocks an agent looked at
    assert "1 on an upheld complaint" in precision[1]
    assert values[("Accuracy of the automated means - Recall", "Own-initiative ")][0] == ""
    assert values[("Number of notices solely processed by automated means ", "NAM Total")][0] == "4"
    assert values[("Number of notices not processed by automated means", "NAM Total")][0] == "4"
    assert values[("Number of notices solely processed by automated means ", "NAM Trusted Flagger")][0] == "3"
    assert values[(solely, "bg")] == ("", "")


def test_repeat_infringer_steps_fill_part_6() -> None:
    data = rows_data(
        policy_steps=[
            ("warning", True, 5),
            ("suspension", True, 2),
            ("suspension", False, 1),
            ("termination", False, 1),
            ("termination_pending", True, 1),
            ("reinstatement", False, 1),
        ]
    )
    header, rows = read(dsa_2835.part_6(FACTS, data))
    blank_header, blank_rows = template("Part_6_own_initiative_TC.csv")
    assert (
        header == blank_header
        and header[3] == "Category of incompatibility with the provider's terms and conditions"
    )
    assert [r[3] for r in rows] == [r[3] for r in blank_rows]
    cells = {r[3]: dict(zip(header, r, strict=True)) for r in rows}
    for name in COPYRIGHT:
        row = cells[name]
        assert row["Number of measures taken at the provider's own initiative "] == "4"
        assert row["Number of measures taken after detection with solely automated means "] == "2"
        assert row["Provision of the service Suspension"] == "3"
        assert row["Provision of the service Termination"] == "1"
        assert row["Account restriction Termination"] == ""
    assert (
        "5 warnings"
        in cells["TOTAL"][
            "Contextual Information on Number of measures taken at the provider's own initiative "
        ]
    )
    assert cells["KEYWORD_NUDITY"]["Provision of the service Suspension"] == ""
    # No step in the period: zeros, which are what was done.
    _header, rows = read(dsa_2835.part_6(FACTS, rows_data()))
    assert rows[0][header.index("Provision of the service Termination")] == "0"


def test_part_9_states_only_what_the_operator_configured() -> None:
    values = by_indicator(dsa_2835.part_9(FACTS, OPERATOR))
    internal = ("Number of internal moderators employed by the provider", "Total number")
    assert values[internal] == ("", "Not configured by the operator (STAYDOWN_DSA_MODERATORS_INTERNAL).")
    languages = "Number of total moderators with sufficient linguistic expertise "
    assert not any(scope in ("bg", "[...]", "sv") for _, scope in values)  # no language configured
    staffed = replace(
        OPERATOR,
        moderators_internal=4,
        moderators_external=0,
        moderators_with_languages=3,
        moderator_languages={"sv": 1, "de": 2, "en": 3},
    )
    header, _rows = read(dsa_2835.part_9(FACTS, staffed))
    assert header == template("Part_9_human_resources.csv")[0]
    values = by_indicator(dsa_2835.part_9(FACTS, staffed))
    assert values[internal][0] == "4"
    assert values[("Number of external moderators contracted by the provider", "Total number")][0] == "0"
    assert [scope for indicator, scope in values if indicator == languages] == [
        "Total number",
        "de",
        "en",
        "sv",
    ]
    assert values[(languages, "en")][0] == "3"


def test_part_11_describes_the_matcher_and_publishes_the_policy() -> None:
    data = rows_data(matches=[("block", "blocked", False, True, 4)], policy_steps=[("suspension", True, 1)])
    header, rows = read(dsa_2835.part_11(FACTS, data, OPERATOR))
    blank_header, blank_rows = template("Part_11_qualitative.csv")
    assert header == blank_header
    assert [r[3] for r in rows] == [r[3] for r in blank_rows]
    text = {r[3]: r[4] for r in rows}
    assert (
        "(4 measures in the period)"
        in text["Summary of the content moderation engaged in at the providers\u2019 own initiative"]
    )
    assert "within 31 differing bits" in text["Qualitative description of the automated means"]
    assert "more than 50 URLs within 3600 seconds" in text["Safeguards applied to the use of automated means"]
    assert (
        text[
            "Meaningful and comprehensible information regarding content moderation engaged in at the "
            "providers' own initiative"
        ]
        == OPERATOR.policy_text
    )
    assert (
        text["High-level description of the content moderation governance structure"] == ""
    )  # not "Free text"


def test_a_figure_with_no_matching_column_or_row_stops_the_export() -> None:
    header, rows = dsa_2835.blank("part-5")
    with pytest.raises(ValueError, match="not columns of the template"):
        dsa_2835._fill_categories(FACTS, header, rows, {"Visibility restriction Erased": "1"})
    header, rows = dsa_2835.blank("part-8")
    with pytest.raises(ValueError, match="not rows of the template"):
        dsa_2835._fill_indicators(FACTS, header, rows, {("Number of measures", "Total number"): ("1", "")})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_orders_matches_and_policy_steps_reach_the_parts_over_the_api(api: Api) -> None:
    """Parts 3, 5, 6 and 8 over the API from what the service recorded: a German authority's order
    complied with two hours after receipt (besides the seed's Japanese one), two stay-down matches
    blocked at once (one dismissed by an agent, one confirmed) and one in the review band, and the
    repeat-infringer policy's suspension of the customer."""
    seed(api)
    with api.database.reader() as session:
        zone = session.scalars(select(Zone).where(Zone.hostname == "manga.example.test")).one()
        zone_id, customer_id = zone.id, zone.customer_id
    legal = api.as_("legal")
    order = legal.post(
        "/v1/disclosure-orders",
        json={
            "customer_id": customer_id,
            "authority": "Bundesnetzagentur",
            "authority_kind": "authority",
            "case_number": "DSC-1",
            "jurisdiction": "EU/DE",
            "legal_basis": "authority_order",
            "scope": ["name"],
        },
    )
    assert order.status_code == 201, order.text
    api.clock.advance(hours=2)
    decided = legal.post(
        f"/v1/disclosure-orders/{order.json()['id']}/decision", json={"decision": "comply", "reason": "valid"}
    )
    assert decided.status_code == 200, decided.text

    now, settings = api.clock.now, api.settings
    fp = Fingerprint(bytes(32), (bytes(32),), quality=100, width=64, height=64, format="PNG")
    with api.database.transaction() as session:
        entry = fingerprints.add_entry(
            session,
            fp,
            scope=BankScope.zone,
            source=BankSource.reference,
            now=now,
            actor="test",
            zone_id=zone_id,
        )
        found = []
        for n, distance in enumerate((0, 10, 40)):
            report = MatchReport(
                entry_id=entry.id,
                zone_id=zone_id,
                target=f"/copy{n}.png",
                url=f"http://manga.example.test/copy{n}.png",
                distance=distance,
                exact=distance == 0,
                copy_sha256=(bytes(32) if distance == 0 else bytes([n]) * 32).hex(),
            )
            match, _created = fingerprints.report_match(
                session, report, now=now, actor="edge", settings=settings
            )
            assert match is not None
            found.append(match.id)
    with api.database.transaction() as session:
        for match_id, decision in zip(found[:2], ("dismiss", "confirm"), strict=True):
            fingerprints.decide_match(
                session,
                match_id,
                decision=decision,
                reason="checked",
                now=now,
                actor="agent",
                settings=settings,
            )

    header, rows = get_part(api, "part-3")
    assert header == template("Part_3_member_states_orders.csv")[0]
    scope, category = header.index("Scope"), header.index("Category of illegal content")
    cells = {(r[scope], r[category]): dict(zip(header, r, strict=True)) for r in rows}
    number = "Number of orders to provide information"
    assert cells[("TOTAL", "TOTAL")][number] == "1"  # the Japanese order is not a Member State's
    assert cells[("DE", "TOTAL")][number] == "1"
    assert cells[("DE", "STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER")][number] == "1"
    assert cells[("DE", "TOTAL")]["Median time to give effect to the order to provide information"] == "2.00"

    header, rows = get_part(api, "part-5")
    total = by_category(header, rows)["TOTAL"]
    assert total["Number of measures taken at the provider's own initiative "] == "2"  # review-band one waits
    assert total["Visibility restriction Disable"] == "2"

    # The seed's notices gave the customer a warning in October and three strikes in November: the
    # policy suspended it then, on its own.
    steps = api.as_("agent").get(f"/v1/customers/{customer_id}/strikes").json()["steps"]
    november = [s for s in steps if s["at"].startswith("2026-11")]
    assert [(s["kind"], s["automatic"]) for s in november] == [("suspension", True)]
    header, rows = get_part(api, "part-6")
    total = {r[3]: dict(zip(header, r, strict=True)) for r in rows}["TOTAL"]
    assert total["Provision of the service Suspension"] == "1"
    assert total["Provision of the service Termination"] == "0"
    assert total["Number of measures taken after detection with solely automated means "] == "1"
    assert (
        "0 warnings"
        in total["Contextual Information on Number of measures taken at the provider's own initiative "]
    )

    response = api.as_("legal").get("/v1/reports/dsa-2835/part-8.csv", params=NOVEMBER)
    values = by_indicator(response.text)
    assert values[("Number of measures solely taken by automated means ", "Own-initiative ")][0] == "2"
    assert values[("Accuracy of the automated means - Precision", "Own-initiative ")][0] == "0.50"

    for part in ("part-9", "part-11"):
        header, _rows = get_part(api, part)
        assert header == template(dsa_2835.PARTS[part])[0]
    assert api.as_("legal").get("/v1/reports/dsa-2835/part-10.csv", params=NOVEMBER).status_code == 404
