"""The report's charts count notices in whole numbers: an axis of counts has no fractional ticks."""

from __future__ import annotations

import re

from staydown.reports.charts import time_to_action_chart, volume_chart
from staydown.reports.schemas import DayVolume, HistogramBin


def _ticks(svg: str) -> list[str]:
    # Tick labels are kept as text in the SVG (svg.fonttype none).
    return re.findall(r">(-?\d+(?:\.\d+)?)</text>", svg)


def test_small_counts_are_ticked_in_whole_numbers() -> None:
    bins = [
        HistogramBin(upper_seconds=bound, label=label, notices=n)
        for bound, label, n in ((3600, "<1h", 1), (86400, "1-24h", 2), (None, ">24h", 0))
    ]
    svg = time_to_action_chart(bins)
    assert _ticks(svg) and all("." not in tick for tick in _ticks(svg))
    volume = [DayVolume(date=f"2026-01-0{d}", notices=n) for d, n in ((1, 1), (2, 0), (3, 2))]
    svg = volume_chart(volume)
    assert all("." not in tick for tick in _ticks(svg))
