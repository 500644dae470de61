"""The transparency report as JSON, CSV and HTML (with server-drawn SVG charts)."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from staydown import i18n
from staydown.i18n import _
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


_environments = {locale: _environment(locale) for locale in i18n.LOCALES}
_pages = {locale: env.get_template("transparency.html") for locale, env in _environments.items()}
_bodies = {locale: env.get_template("_report_body.html") for locale, env in _environments.items()}


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
        tta_chart=Markup(time_to_action_chart(report.time_to_action_histogram, locale=locale)),  # noqa: S704 - our own SVG
        volume_chart=Markup(volume_chart(report.volume, locale)),  # noqa: S704 - our own SVG
    )


def time_to_action_text(report: TransparencyReport, locale: str = "en") -> str:
    """What the time-to-action chart shows, in words (its text alternative)."""
    bins = "; ".join(f"{b.label}: {b.notices}" for b in report.time_to_action_histogram)
    return _("Notices by time from receipt to first action — %(bins)s.", bins=bins).render(locale, "desk")


def volume_text(report: TransparencyReport, locale: str = "en") -> str:
    """What the volume chart shows, in words (its text alternative)."""
    if not report.volume:
        return _("Notices received per day: none in this period.").render(locale, "desk")
    busiest = max(report.volume, key=lambda v: v.notices)
    return _(
        "Notices received per day: %(total)s on %(days)s day(s) with notices, at most %(most)s on %(date)s.",
        total=sum(v.notices for v in report.volume),
        days=len(report.volume),
        most=busiest.notices,
        date=busiest.date,
    ).render(locale, "desk")


def _image(svg: str, text: str) -> Markup:
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return Markup('<img src="{}" alt="{}">').format(source, text)


def to_html_fragment(
    report: TransparencyReport, locale: str = "en", label: Callable[[object], str] = _words
) -> Markup:
    """The report's body for a page that has its own heading and a style policy without inline
    styles: the charts are images (their own SVG, as data) with their content in words."""
    tta = time_to_action_chart(report.time_to_action_histogram, locale=locale)
    body = _bodies[locale].render(
        r=report,
        label=label,
        hours=_hours,
        percent=_percent,
        tta_chart=_image(tta, time_to_action_text(report, locale)),
        volume_chart=_image(volume_chart(report.volume, locale), volume_text(report, locale)),
    )
    return Markup(body)  # noqa: S704 - rendered by an autoescaping template


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
