"""Charts for the HTML report, drawn on the server as SVG (matplotlib, no pyplot, no GUI backend).

The SVG keeps its text as text and uses a fixed hash salt, so the same report draws the same bytes
and the page needs no script or image request to show it. Its words are in the reader's language
(the ``desk`` catalog); the reader's browser draws them, so a Japanese title needs no Japanese font
on the server (matplotlib's measure of it is only approximate).
"""

from __future__ import annotations

import io
import warnings
from contextlib import AbstractContextManager
from datetime import date

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from staydown.i18n import _
from staydown.reports.schemas import DayVolume, HistogramBin


def _style() -> AbstractContextManager[None]:
    return mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "staydown", "font.size": 9.0})


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with _style(), warnings.catch_warnings():
        # Kept as text (svg.fonttype none): a glyph the measuring font lacks (Japanese) is the browser's.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline in HTML: drop the XML prolog and DOCTYPE, keep the <svg> element.
    return text[text.index("<svg") :]


def time_to_action_chart(
    bins: list[HistogramBin], *, deadline_label: str | None = None, locale: str = "en"
) -> str:
    """Bar chart of notices by time from receipt to first action."""
    with _style():
        figure = Figure(figsize=(7.0, 2.8))
        axes = figure.subplots()
        labels = [b.label for b in bins]
        axes.bar(range(len(bins)), [b.notices for b in bins], color="#3b6ea5")
        axes.set_xticks(range(len(bins)), labels)
        axes.set_ylabel(_("notices").render(locale, "desk"))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.2 steps
        axes.set_title(_("Time from receipt to first action").render(locale, "desk"))
        if deadline_label:
            axes.annotate(deadline_label, xy=(0.99, 0.95), xycoords="axes fraction", ha="right", va="top")
        axes.spines[["top", "right"]].set_visible(False)
        return _svg(figure)


def volume_chart(volume: list[DayVolume], locale: str = "en") -> str:
    """Notices received per day (per week when the period is long)."""
    with _style():
        figure = Figure(figsize=(7.0, 2.8))
        axes = figure.subplots()
        days = [date.fromisoformat(v.date) for v in volume]
        counts = [v.notices for v in volume]
        if len(days) > 120:
            weekly: dict[date, int] = {}
            for day, count in zip(days, counts, strict=True):
                monday = date.fromordinal(day.toordinal() - day.weekday())
                weekly[monday] = weekly.get(monday, 0) + count
            days, counts = list(weekly), list(weekly.values())
            axes.set_title(_("Notices received per week").render(locale, "desk"))
        else:
            axes.set_title(_("Notices received per day").render(locale, "desk"))
        if days:
            axes.plot(
                np.array(days, dtype="datetime64[D]"),
                counts,
                color="#3b6ea5",
                linewidth=1.2,
                marker="o" if len(days) < 40 else None,
            )
            axes.set_ylim(bottom=0)
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            # Matplotlib draws the years 1 to 9999 only: its padding around the data stays inside.
            # Its date numbers count days from the ``date.epoch`` setting.
            epoch = np.datetime64(mpl.rcParams["date.epoch"], "D")
            first, last = (
                float((np.datetime64(d, "D") - epoch) / np.timedelta64(1, "D")) for d in (date.min, date.max)
            )
            left, right = axes.get_xlim()
            axes.set_xlim(max(left, first), min(right, last))
        figure.autofmt_xdate()
        axes.set_ylabel(_("notices").render(locale, "desk"))
        axes.spines[["top", "right"]].set_visible(False)
        return _svg(figure)
