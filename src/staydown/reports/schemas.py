"""The transparency report's shape (JSON), shared by the API, the CLI and the renderers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RegimeClassCount(BaseModel):
    regime: str
    submitter_class: str
    notices: int


class NoticeFigures(BaseModel):
    total: int
    by_regime: dict[str, int]
    by_submitter_class: dict[str, int]
    by_regime_and_class: list[RegimeClassCount]
    by_status: dict[str, int]


class UrlFigures(BaseModel):
    """URLs named by the period's notices. ``actioned`` counts every URL that was ever actioned
    (still blocked, counter-noticed or since restored); ``by_status`` is where each stands now."""

    total: int
    actioned: int
    rejected: int
    not_on_network: int
    pending_review: int
    by_status: dict[str, int]


class TimeToAction(BaseModel):
    """From receipt of a notice to its first actioned URL, for the period's actioned notices."""

    notices_actioned: int
    median_seconds: float | None
    p90_seconds: float | None
    within_deadline: int
    after_deadline: int
    within_deadline_share: float | None
    unactioned_past_deadline: int


class HistogramBin(BaseModel):
    upper_seconds: float | None  # None: everything above the last bound
    label: str
    notices: int


class Automation(BaseModel):
    """Decisions on URLs taken by automated means (a trusted flagger's complete notice, a duplicate)."""

    decided_urls: int
    automated_urls: int
    automated_share: float | None


class PolicyFigures(BaseModel):
    warnings: int
    suspensions: int
    terminations: int
    reinstatements: int
    automatic_steps: int


class OrderFigures(BaseModel):
    total: int
    by_legal_basis: dict[str, int]
    by_status: dict[str, int]
    by_jurisdiction: dict[str, int]
    gagged: int


class DueProcessFigures(BaseModel):
    available: bool
    counter_notices: int
    counter_notices_by_status: dict[str, int]
    restorations: int
    complaints: int
    complaints_by_outcome: dict[str, int]
    statements_of_reasons: int
    statements_by_restriction: dict[str, int]


class DayVolume(BaseModel):
    date: str
    notices: int


class TransparencyReport(BaseModel):
    provider: str
    period_from: datetime
    period_to: datetime
    generated_at: datetime
    notices: NoticeFigures
    urls: UrlFigures
    time_to_action: TimeToAction
    time_to_action_histogram: list[HistogramBin]
    automation: Automation
    due_process: DueProcessFigures
    policy: PolicyFigures
    disclosure_orders: OrderFigures
    volume: list[DayVolume]
