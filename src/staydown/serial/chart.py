"""The dossier's timeline as SVG (matplotlib, no pyplot): what was noticed each day, and when the
provider acted, so a reader sees at a glance how long it knew before it did something."""

from __future__ import annotations

import io
from datetime import date, datetime

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from staydown.serial.schemas import TimelineDay, TimelineEvent

COLOURS = {"policy": "#b03a2e", "host": "#7d6608", "serial": "#6c3483"}


def _day(day: date) -> float:
    """Matplotlib's number for ``day``: days since its ``date.epoch``."""
    epoch = np.datetime64(mpl.rcParams["date.epoch"], "D")
    return float((np.datetime64(day, "D") - epoch) / np.timedelta64(1, "D"))


def timeline_chart(days: list[TimelineDay], events: list[TimelineEvent], *, as_of: datetime) -> str:
    """Bars of notices and actioned URLs per day, stay-down matches as dots, and the provider's
    steps as labelled vertical lines; the grey band is the time the provider has known."""
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "staydown", "font.size": 9.0}):
        figure = Figure(figsize=(8.0, 3.2))
        axes = figure.subplots()
        axes.set_title("What was noticed, and when the provider acted")
        if days:
            x = np.array([_day(date.fromisoformat(d.date)) for d in days])
            axes.bar(x, [d.urls_actioned for d in days], width=0.8, color="#3b6ea5", label="URLs actioned")
            axes.bar(x, [d.notices for d in days], width=0.4, color="#85c1e9", label="notices")
            matches = [(xi, d.matches) for xi, d in zip(x, days, strict=True) if d.matches]
            if matches:
                axes.plot(
                    [m[0] for m in matches],
                    [m[1] for m in matches],
                    "o",
                    color="#1e8449",
                    label="stay-down matches",
                )
            axes.axvspan(float(x[0]) - 0.5, _day(as_of.date()) + 0.5, color="#eeeeee", zorder=0)
        top = max([max(d.notices, d.urls_actioned, d.matches) for d in days] or [1])
        by_day: dict[date, list[TimelineEvent]] = {}
        for event in events:
            by_day.setdefault(event.at.date(), []).append(event)
        for day, happened in list(by_day.items())[-12:]:
            when = _day(day)
            # One line per day, coloured by its most severe kind; one label naming what happened.
            kinds = [e.kind.split(".")[0] for e in happened]
            colour = next((COLOURS[k] for k in ("policy", "serial", "host") if k in kinds), "#555555")
            labels = list(dict.fromkeys(e.kind.split(".", 1)[-1].replace("_", " ") for e in happened))
            axes.axvline(when, color=colour, linewidth=1, linestyle="--")
            # Hung from the top of the plot, inside it, down towards the bars.
            axes.text(
                when - 0.15,
                0.98,
                ", ".join(labels)[:60],
                transform=axes.get_xaxis_transform(),
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
                color=colour,
            )
        axes.set_ylim(0, top * 3.2 + 1)
        axes.set_ylabel("per day")
        axes.spines[["top", "right"]].set_visible(False)
        if days:
            axes.legend(loc="upper center", frameon=False, fontsize=7, ncols=3)
        axes.xaxis_date()
        figure.autofmt_xdate()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]
