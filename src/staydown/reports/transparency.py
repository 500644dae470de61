"""The transparency report as pure functions of the rows the query layer fetched.

Nothing here touches the database or the clock: the same rows always give the same report, so
the figures can be checked against counts computed any other way.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from staydown.reports.queries import TransparencyRows
from staydown.reports.schemas import (
    Automation,
    DayVolume,
    DueProcessFigures,
    HistogramBin,
    NoticeFigures,
    OrderFigures,
    PolicyFigures,
    RegimeClassCount,
    TimeToAction,
    TransparencyReport,
    UrlFigures,
)

ACTIONED_STATES = ("actioned", "counter_noticed", "restored")
# Bounds of the time-to-action histogram: what a reader asks ("within the hour? the day?").
HISTOGRAM_BOUNDS: tuple[tuple[float, str], ...] = (
    (60.0, "≤ 1 min"),
    (600.0, "≤ 10 min"),
    (3600.0, "≤ 1 h"),
    (6 * 3600.0, "≤ 6 h"),
    (24 * 3600.0, "≤ 24 h"),
    (72 * 3600.0, "≤ 3 d"),
    (7 * 86400.0, "≤ 7 d"),
)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of ``values`` by linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def histogram(values: Iterable[float]) -> list[HistogramBin]:
    """Count ``values`` into the report's time-to-action bins."""
    counts = [0] * (len(HISTOGRAM_BOUNDS) + 1)
    uppers = [bound for bound, _ in HISTOGRAM_BOUNDS]
    for value in values:
        for index, upper in enumerate(uppers):
            if value <= upper:
                counts[index] += 1
                break
        else:
            counts[-1] += 1
    bins = [
        HistogramBin(upper_seconds=upper, label=label, notices=count)
        for (upper, label), count in zip(HISTOGRAM_BOUNDS, counts, strict=False)
    ]
    bins.append(HistogramBin(upper_seconds=None, label="> 7 d", notices=counts[-1]))
    return bins


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _sum_by(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    counter: Counter[str] = Counter()
    for key, count in pairs:
        counter[key] += count
    return dict(sorted(counter.items()))


def notice_figures(rows: TransparencyRows) -> NoticeFigures:
    by_pair = _sum_by((f"{regime}\0{klass}", n) for regime, klass, _status, n in rows.notices)
    return NoticeFigures(
        total=sum(n for *_rest, n in rows.notices),
        by_regime=_sum_by((regime, n) for regime, _k, _s, n in rows.notices),
        by_submitter_class=_sum_by((klass, n) for _r, klass, _s, n in rows.notices),
        by_regime_and_class=[
            RegimeClassCount(regime=key.split("\0")[0], submitter_class=key.split("\0")[1], notices=n)
            for key, n in by_pair.items()
        ],
        by_status=_sum_by((status, n) for _r, _k, status, n in rows.notices),
    )


def url_figures(rows: TransparencyRows) -> UrlFigures:
    by_status = _sum_by((status, n) for status, _d, _a, n in rows.items)
    return UrlFigures(
        total=sum(by_status.values()),
        actioned=sum(by_status.get(s, 0) for s in ACTIONED_STATES),
        rejected=by_status.get("rejected", 0),
        not_on_network=by_status.get("not_on_network", 0),
        pending_review=by_status.get("pending_review", 0),
        by_status=by_status,
    )


def time_to_action(rows: TransparencyRows) -> TimeToAction:
    seconds = [s for s, _met in rows.time_to_action]
    met = sum(1 for _s, ok in rows.time_to_action if ok)
    return TimeToAction(
        notices_actioned=len(seconds),
        median_seconds=percentile(seconds, 0.5),
        p90_seconds=percentile(seconds, 0.9),
        within_deadline=met,
        after_deadline=len(seconds) - met,
        within_deadline_share=_share(met, len(seconds)),
        unactioned_past_deadline=rows.unactioned_overdue,
    )


def automation(rows: TransparencyRows) -> Automation:
    decided = sum(n for status, d, _a, n in rows.items if d and status != "not_on_network")
    automated = sum(n for status, d, a, n in rows.items if d and a and status != "not_on_network")
    return Automation(
        decided_urls=decided, automated_urls=automated, automated_share=_share(automated, decided)
    )


def policy_figures(rows: TransparencyRows) -> PolicyFigures:
    by_kind = _sum_by((kind, n) for kind, _auto, n in rows.policy_steps)
    return PolicyFigures(
        warnings=by_kind.get("warning", 0),
        suspensions=by_kind.get("suspension", 0),
        terminations=by_kind.get("termination", 0),
        reinstatements=by_kind.get("reinstatement", 0),
        automatic_steps=sum(n for _kind, auto, n in rows.policy_steps if auto),
    )


def order_figures(rows: TransparencyRows) -> OrderFigures:
    return OrderFigures(
        total=len(rows.orders),
        by_legal_basis=_sum_by((o.legal_basis, 1) for o in rows.orders),
        by_status=_sum_by((o.status, 1) for o in rows.orders),
        by_jurisdiction=_sum_by((o.jurisdiction, 1) for o in rows.orders),
        gagged=sum(1 for o in rows.orders if o.gagged),
    )


def due_process_figures(rows: TransparencyRows) -> DueProcessFigures:
    dp = rows.due_process
    if dp is None:
        return DueProcessFigures(
            available=False,
            counter_notices=0,
            counter_notices_by_status={},
            restorations=0,
            complaints=0,
            complaints_by_outcome={},
            statements_of_reasons=0,
            statements_by_restriction={},
        )
    return DueProcessFigures(
        available=True,
        counter_notices=sum(dp.counter_notices.values()),
        counter_notices_by_status=dict(sorted(dp.counter_notices.items())),
        restorations=dp.restorations,
        complaints=sum(dp.complaints.values()),
        complaints_by_outcome=dict(sorted(dp.complaints.items())),
        statements_of_reasons=sum(dp.statements.values()),
        statements_by_restriction=dict(sorted(dp.statements.items())),
    )


def build_report(
    rows: TransparencyRows, *, start: datetime, end: datetime, generated_at: datetime, provider: str
) -> TransparencyReport:
    """Compute the transparency report of ``[start, end)`` from its rows."""
    return TransparencyReport(
        provider=provider,
        period_from=start,
        period_to=end,
        generated_at=generated_at,
        notices=notice_figures(rows),
        urls=url_figures(rows),
        time_to_action=time_to_action(rows),
        time_to_action_histogram=histogram(s for s, _ in rows.time_to_action),
        automation=automation(rows),
        due_process=due_process_figures(rows),
        policy=policy_figures(rows),
        disclosure_orders=order_figures(rows),
        volume=[DayVolume(date=day, notices=n) for day, n in rows.volume],
    )
