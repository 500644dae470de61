"""The transparency report as JSON, CSV and HTML (with server-drawn SVG charts)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from staydown import i18n
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


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    # The report is read on the desk, so its words are the desk's.
    return i18n.jinja_env_install(env, locale, "desk")


_pages = {locale: _environment(locale).get_template("transparency.html") for locale in i18n.LOCALES}


def _words(code: object) -> str:
    return str(code).replace("_", " ")


def to_html(report: TransparencyReport, locale: str = "en", label: Callable[[object], str] = _words) -> str:
    """A self-contained HTML page: tables and inline SVG charts, no script, no external request.

    In ``locale``, with the codes it counts by (statuses, legal bases) named by ``label``."""
    return _pages[locale].render(
        r=report,
        label=label,
        hours=_hours,
        percent=_percent,
        tta_svg=Markup(time_to_action_chart(report.time_to_action_histogram)),  # noqa: S704 - our own SVG
        volume_svg=Markup(volume_chart(report.volume)),  # noqa: S704 - our own SVG
    )


def render(
    report: TransparencyReport, fmt: str, locale: str = "en", label: Callable[[object], str] = _words
) -> str:
    """The report as ``fmt``; the HTML page in ``locale`` (JSON and CSV are data, named by code)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report, locale, label)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
