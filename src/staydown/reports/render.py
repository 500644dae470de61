"""The transparency report as JSON, CSV and HTML (with server-drawn SVG charts)."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from staydown.reports.charts import time_to_action_chart, volume_chart
from staydown.reports.schemas import TransparencyReport

FORMATS = ("json", "csv", "html")


def to_json(report: TransparencyReport) -> str:
    return report.model_dump_json(indent=2)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]", inner)
    else:
        yield prefix, "" if value is None else str(value)


def to_csv(report: TransparencyReport) -> str:
    """One ``metric,value`` row per figure, named by its path in the JSON report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", "value"])
    for metric, value in _flatten("", report.model_dump(mode="json")):
        writer.writerow([metric, value])
    return buffer.getvalue()


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


_TEMPLATES = Path(__file__).with_name("templates")
_environment = Environment(
    loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True)
)
_page = _environment.get_template("transparency.html")
_body = _environment.get_template("_report_body.html")


def to_html(report: TransparencyReport) -> str:
    """A self-contained HTML page: tables and inline SVG charts, no script, no external request."""
    return _page.render(
        r=report,
        hours=_hours,
        percent=_percent,
        tta_chart=Markup(time_to_action_chart(report.time_to_action_histogram)),  # noqa: S704 - our own SVG
        volume_chart=Markup(volume_chart(report.volume)),  # noqa: S704 - our own SVG
    )


def time_to_action_text(report: TransparencyReport) -> str:
    """What the time-to-action chart shows, in words (its text alternative)."""
    bins = "; ".join(f"{b.label}: {b.notices}" for b in report.time_to_action_histogram)
    return f"Notices by time from receipt to first action — {bins}."


def volume_text(report: TransparencyReport) -> str:
    """What the volume chart shows, in words (its text alternative)."""
    if not report.volume:
        return "Notices received per day: none in this period."
    busiest = max(report.volume, key=lambda v: v.notices)
    total = sum(v.notices for v in report.volume)
    return (
        f"Notices received per day: {total} on {len(report.volume)} day(s) with notices, "
        f"at most {busiest.notices} on {busiest.date}."
    )


def _image(svg: str, text: str) -> Markup:
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return Markup('<img src="{}" alt="{}">').format(source, text)


def to_html_fragment(report: TransparencyReport) -> Markup:
    """The report's body for a page that has its own heading and a style policy without inline
    styles: the charts are images (their own SVG, as data) with their content in words."""
    tta = time_to_action_chart(report.time_to_action_histogram)
    body = _body.render(
        r=report,
        hours=_hours,
        percent=_percent,
        tta_chart=_image(tta, time_to_action_text(report)),
        volume_chart=_image(volume_chart(report.volume), volume_text(report)),
    )
    return Markup(body)  # noqa: S704 - rendered by an autoescaping template


def render(report: TransparencyReport, fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
