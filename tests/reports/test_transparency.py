"""The report's pure functions: percentiles, histogram bins, and figures from hand-made rows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.disclosure.service import OrderFigure
from staydown.reports.queries import DueProcessRows, TransparencyRows
from staydown.reports.transparency import build_report, histogram, percentile

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)


@given(
    st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=200),
    st.sampled_from([0.0, 0.5, 0.9, 1.0]),
)
def test_percentile_matches_numpy(values: list[float], fraction: float) -> None:
    expected = float(np.percentile(values, fraction * 100))
    assert percentile(values, fraction) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_percentile_of_nothing() -> None:
    assert percentile([], 0.5) is None


def test_histogram_bins_are_inclusive_upper_bounds() -> None:
    bins = histogram([0, 60, 61, 3600, 86400, 86401, 10**7])
    counts = {b.label: b.notices for b in bins}
    assert counts["≤ 1 min"] == 2
    assert counts["≤ 10 min"] == 1
    assert counts["≤ 1 h"] == 1
    assert counts["≤ 24 h"] == 1
    assert counts["≤ 3 d"] == 1
    assert counts["> 7 d"] == 1


def rows(due_process: DueProcessRows | None = None) -> TransparencyRows:
    return TransparencyRows(
        notices=[
            ("dmca", "trusted_flagger", "actioned", 5),
            ("dmca", "individual", "rejected", 2),
            ("dsa", "organisation", "actioned", 3),
            ("dsa", "organisation", "accepted", 1),
        ],
        items=[
            ("actioned", True, True, 6),
            ("actioned", True, False, 3),
            ("restored", True, False, 1),
            ("rejected", True, False, 2),
            ("not_on_network", True, False, 4),
            ("pending_review", False, False, 1),
        ],
        time_to_action=[(60.0, True), (120.0, True), (90_000.0, False), (30.0, True)],
        unactioned_overdue=1,
        volume=[("2026-01-01", 4), ("2026-01-02", 7)],
        policy_steps=[("warning", True, 3), ("suspension", True, 1), ("termination", False, 1)],
        orders=[
            OrderFigure("us_512h_subpoena", "US", "complied", False),
            OrderFigure("jp_disclosure_order", "JP", "contested", True),
        ],
        due_process=due_process,
    )


def test_figures_from_rows() -> None:
    report = build_report(rows(), start=START, end=END, generated_at=END, provider="cdn")
    assert report.notices.total == 11
    assert report.notices.by_regime == {"dmca": 7, "dsa": 4}
    assert report.notices.by_submitter_class == {"individual": 2, "organisation": 4, "trusted_flagger": 5}
    assert [(r.regime, r.submitter_class, r.notices) for r in report.notices.by_regime_and_class] == [
        ("dmca", "individual", 2),
        ("dmca", "trusted_flagger", 5),
        ("dsa", "organisation", 4),
    ]
    assert (report.urls.total, report.urls.actioned, report.urls.rejected, report.urls.not_on_network) == (
        17,
        10,
        2,
        4,
    )
    assert report.time_to_action.median_seconds == 90.0
    assert (report.time_to_action.within_deadline, report.time_to_action.after_deadline) == (3, 1)
    assert report.time_to_action.within_deadline_share == 0.75
    assert report.time_to_action.unactioned_past_deadline == 1
    assert (report.automation.decided_urls, report.automation.automated_urls) == (12, 6)
    assert report.automation.automated_share == 0.5
    assert (report.policy.warnings, report.policy.suspensions, report.policy.terminations) == (3, 1, 1)
    assert report.policy.automatic_steps == 4
    assert report.disclosure_orders.by_status == {"complied": 1, "contested": 1}
    assert report.disclosure_orders.gagged == 1
    assert report.due_process.available is False


def test_due_process_figures_are_carried() -> None:
    dp = DueProcessRows(
        counter_notices={"restored": 2, "pending": 1},
        restorations=2,
        complaints={"upheld": 1, "rejected": 3},
        statements={"block": 9},
    )
    report = build_report(rows(dp), start=START, end=END, generated_at=END, provider="cdn")
    assert report.due_process.available is True
    assert (report.due_process.counter_notices, report.due_process.restorations) == (3, 2)
    assert report.due_process.complaints == 4
    assert report.due_process.complaints_by_outcome == {"rejected": 3, "upheld": 1}
    assert report.due_process.statements_of_reasons == 9
