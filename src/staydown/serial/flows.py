"""When a customer becomes a case for the serial-infringer review, and what a decision does (pure).

The review opens when, within the window, either
- notices actioned on the customer's zones name at least ``works`` distinct works from at least
  ``rightsholders`` distinct rightsholders (the site carries many people's works, not one
  disputed title), or
- stay-down found at least ``matches`` copies of banked content on its zones (the material keeps
  coming back after it was taken down).
See docs/serial.md for the defaults and why.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from staydown.serial.models import ReviewDecision


@dataclass(frozen=True, slots=True)
class Thresholds:
    works: int
    rightsholders: int
    matches: int
    window_days: int
    deadline_days: float


@dataclass(frozen=True, slots=True)
class Noticed:
    """One actioned item as the review counts it: when its notice came, which work, whose."""

    at: datetime
    work: str
    rightsholder: str


@dataclass(frozen=True, slots=True)
class Trigger:
    reason: str
    works: int
    rightsholders: int
    matches: int
    window_days: int


def window_counts(
    noticed: Iterable[Noticed], match_times: Iterable[datetime], *, now: datetime, days: int
) -> tuple[int, int, int]:
    """Distinct works, distinct rightsholders and stay-down matches in the ``days`` up to ``now``."""
    since = now - timedelta(days=days)
    recent = [n for n in noticed if since < n.at <= now]
    works = len({n.work for n in recent})
    rightsholders = len({n.rightsholder for n in recent})
    matches = sum(1 for at in match_times if since < at <= now)
    return works, rightsholders, matches


def review_trigger(
    noticed: Iterable[Noticed], match_times: Iterable[datetime], *, now: datetime, thresholds: Thresholds
) -> Trigger | None:
    """Why the customer's record now calls for a review, or None."""
    t = thresholds
    works, holders, matches = window_counts(noticed, match_times, now=now, days=t.window_days)
    reasons = []
    if works >= t.works and holders >= t.rightsholders:
        reasons.append(
            f"{works} distinct works from {holders} rightsholders noticed within {t.window_days} days "
            f"(thresholds {t.works} works, {t.rightsholders} rightsholders)"
        )
    if matches >= t.matches:
        reasons.append(f"{matches} stay-down matches within {t.window_days} days (threshold {t.matches})")
    if not reasons:
        return None
    return Trigger("; ".join(reasons), works, holders, matches, t.window_days)


class Outcome(enum.StrEnum):
    """What a decision does to the customer's standing."""

    terminated = "terminated"
    suspended = "suspended"
    unchanged = "unchanged"


DECISION_OUTCOME = {
    ReviewDecision.terminate: Outcome.terminated,
    ReviewDecision.suspend: Outcome.suspended,
    ReviewDecision.keep: Outcome.unchanged,
}


def work_key(works: list[object], index: int | None, notice_id: int) -> str:
    """One work however many notices name it: its first reference URL, else its description."""
    entry = works[index] if index is not None and 0 <= index < len(works) else None
    if isinstance(entry, dict):
        refs = entry.get("reference_urls")
        if isinstance(refs, list) and refs and isinstance(refs[0], str):
            return "ref:" + refs[0].strip().lower()
        description = entry.get("description")
        if isinstance(description, str) and description.strip():
            return "desc:" + " ".join(description.casefold().split())
    return f"notice:{notice_id}:{index}"


def rightsholder_key(on_behalf_of: str | None, organization: str | None, name: str | None) -> str:
    """Whose right a notice asserts: the principal, else the sender's organisation or name."""
    for value in (on_behalf_of, organization, name):
        if value and value.strip():
            return " ".join(value.casefold().split())
    return "(unnamed)"
