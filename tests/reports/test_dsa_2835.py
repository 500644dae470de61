"""The DSA Art. 15 report in the CSV templates of Implementing Regulation (EU) 2024/2835.

The produced parts are read back and compared with copies of the Commission's blank CSV parts kept
in ``tests/reports/data/dsa_2835/`` (columns, their order and the rows' categories), and their
figures with the notices the test created.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

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
    assert "17 U.S.C. §512(c)(3): 2" in total["Contextual information on Number of notices received "]
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
