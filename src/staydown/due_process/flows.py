"""Pure decisions of due process: counter-notice and complaint workflows, notifier misuse.

``(state, event) → state`` tables for counter-notices and internal complaints, the §512(g)(3)
elements a counter-notice needs, the six-month complaint window and the DSA Art. 23 misuse step.
Nothing here reads the clock or the database; the service passes ``now`` and the counts in.
"""

from __future__ import annotations

import calendar as _calendar
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from staydown.wording import mark as _


class DueProcessError(Exception):
    """A due-process request that cannot be carried out; nothing of it was written."""

    def __init__(self, code: str, message: str, *, status: int = 409, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details


class IllegalTransition(Exception):
    """An event was applied to a state that does not allow it."""

    def __init__(self, entity: str, state: enum.Enum, event: enum.Enum) -> None:
        super().__init__(f"{entity} in state {state.value!r} does not allow {event.value!r}")
        self.entity, self.state, self.event = entity, state, event


# --- counter-notices (17 U.S.C. 512(g)) -------------------------------------------------------


class CounterNoticeStatus(enum.StrEnum):
    received = "received"
    incomplete = "incomplete"  # elements missing: nothing forwarded, no timer
    pending = "pending"  # forwarded to the complainant; the restoration timer runs
    restored = "restored"  # the timer fired with no court action reported
    court_action = "court_action"  # the complainant reported a court action: the block stays


class CounterNoticeEvent(enum.StrEnum):
    assessed_complete = "assessed_complete"
    assessed_incomplete = "assessed_incomplete"
    timer_fired = "timer_fired"
    court_action_reported = "court_action_reported"


CS, CE = CounterNoticeStatus, CounterNoticeEvent
COUNTER_NOTICE_TRANSITIONS: dict[tuple[CounterNoticeStatus, CounterNoticeEvent], CounterNoticeStatus] = {
    (CS.received, CE.assessed_complete): CS.pending,
    (CS.received, CE.assessed_incomplete): CS.incomplete,
    (CS.pending, CE.timer_fired): CS.restored,
    (CS.pending, CE.court_action_reported): CS.court_action,
}


def counter_notice_transition(state: CounterNoticeStatus, event: CounterNoticeEvent) -> CounterNoticeStatus:
    """Return the counter-notice's next state or raise ``IllegalTransition``."""
    try:
        return COUNTER_NOTICE_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("counter-notice", state, event) from None


@dataclass(frozen=True, slots=True)
class CounterNoticeFacts:
    """What a counter-notice contains, reduced to the questions §512(g)(3) asks."""

    signature: bool
    items: bool
    good_faith_mistake: bool
    name: bool
    address: bool
    phone: bool
    consent_to_jurisdiction: bool
    accept_service: bool


COUNTER_NOTICE_ELEMENTS: dict[str, tuple[str, str]] = {
    "A": (
        _("512(g)(3)(A) signature"),
        _("Your physical or electronic signature."),
    ),
    "B": (
        _("512(g)(3)(B) identification of the material removed"),
        _(
            "Which blocked items you contest (their ids), so the material and where it appeared are "
            "identified."
        ),
    ),
    "C": (
        _("512(g)(3)(C) statement under penalty of perjury"),
        _(
            "A statement under penalty of perjury that you believe in good faith the material was removed "
            "or disabled by mistake or misidentification."
        ),
    ),
    "D-contact": (
        _("512(g)(3)(D) name, address and telephone number"),
        _("Your name, postal address and telephone number."),
    ),
    "D-jurisdiction": (
        _("512(g)(3)(D) consent to jurisdiction"),
        _(
            "A statement that you consent to the jurisdiction of the Federal District Court for your "
            "address (or, outside the United States, any judicial district in which the service provider "
            "may be found)."
        ),
    ),
    "D-service": (
        _("512(g)(3)(D) acceptance of service of process"),
        _(
            "A statement that you will accept service of process from the person who sent the notice or "
            "their agent."
        ),
    ),
}


def counter_notice_missing(facts: CounterNoticeFacts) -> list[str]:
    """Name every §512(g)(3) element the counter-notice lacks (empty when it is complete)."""
    checks = [
        ("A", facts.signature),
        ("B", facts.items),
        ("C", facts.good_faith_mistake),
        ("D-contact", facts.name and facts.address and facts.phone),
        ("D-jurisdiction", facts.consent_to_jurisdiction),
        ("D-service", facts.accept_service),
    ]
    return [COUNTER_NOTICE_ELEMENTS[code][0] for code, present in checks if not present]


def element_explanations(names: list[str]) -> dict[str, str]:
    by_name = dict(COUNTER_NOTICE_ELEMENTS.values())
    return {name: by_name.get(name, "") for name in names}


# --- internal complaints (DSA Art. 20) --------------------------------------------------------


class ComplaintStatus(enum.StrEnum):
    open = "open"
    upheld = "upheld"  # well-founded: the decision was reversed
    dismissed = "dismissed"  # not well-founded: the decision stands


class ComplaintEvent(enum.StrEnum):
    found_well_founded = "found_well_founded"
    found_unfounded = "found_unfounded"


class ComplaintSubject(enum.StrEnum):
    """What decision a complaint contests."""

    items = "items"  # the decision on items of a notice (blocked, or the notice rejected)
    policy_step = "policy_step"  # a repeat-infringer step against the customer
    notifier_measure = "notifier_measure"  # a misuse measure against the notifier
    staydown_match = "staydown_match"  # the block of a copy stay-down found on the customer's zone


class Complainant(enum.StrEnum):
    customer = "customer"  # contests a restriction of its content
    notifier = "notifier"  # contests the rejection of its notice


KS, KE = ComplaintStatus, ComplaintEvent
COMPLAINT_TRANSITIONS: dict[tuple[ComplaintStatus, ComplaintEvent], ComplaintStatus] = {
    (KS.open, KE.found_well_founded): KS.upheld,
    (KS.open, KE.found_unfounded): KS.dismissed,
}


def complaint_transition(state: ComplaintStatus, event: ComplaintEvent) -> ComplaintStatus:
    """Return the complaint's next state or raise ``IllegalTransition``."""
    try:
        return COMPLAINT_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("complaint", state, event) from None


# The item event that reverses a contested decision, by who contests it (names from notices.flows).
REVERSAL_EVENT = {Complainant.customer: "restore", Complainant.notifier: "action"}
# The item states a complainant may contest: a customer a live block, a notifier a rejection.
CONTESTABLE = {
    Complainant.customer: frozenset({"actioned", "counter_noticed"}),
    Complainant.notifier: frozenset({"rejected"}),
}


# Steps a complaint can reverse through the workflow that took them. A termination removes the zones'
# hostnames and is decided by an agent on review (``termination_pending``): it is contested in court
# or before an out-of-court body, not undone here.
CONTESTABLE_STEPS = frozenset({"warning", "suspension", "termination"})
CONTESTABLE_MEASURES = frozenset({"warning", "suspension", "trust_revoked"})


def add_months(instant: datetime, months: int) -> datetime:
    """The same wall-clock instant ``months`` calendar months later (clamped to the month's end)."""
    month0 = instant.month - 1 + months
    year, month = instant.year + month0 // 12, month0 % 12 + 1
    day = min(instant.day, _calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def complaint_open_until(decided_at: datetime, *, months: int) -> datetime:
    """The last instant a complaint against a decision taken at ``decided_at`` may be lodged."""
    return add_months(decided_at, months)


def independent_decider(decider: str, decided_by: set[str]) -> bool:
    """A complaint is decided by someone other than who took the contested decision (Art. 20(6))."""
    return decider not in decided_by


# Actors that are a person: an agent's API key or a desk user. Timers, intake and the system are not.
HUMAN_ACTORS = ("key:", "user:")


def human_decider(decider: str) -> bool:
    """Art. 20(6): complaint decisions are taken under the supervision of appropriately qualified
    staff, not solely by automated means; here a person decides them."""
    return decider.startswith(HUMAN_ACTORS)


def informed_at(taken_at: datetime, letters: Iterable[tuple[datetime, datetime | None]]) -> datetime:
    """When the recipient was informed of a decision taken at ``taken_at`` (Art. 20(2): the complaint
    period starts then): the earliest delivery of a letter written for it, else when the first was
    written (it waited in the outbox, on the desk), else the decision itself.

    ``letters``: (written at, delivered at) of the letters to the recipient since the decision.
    """
    written = [(created, sent) for created, sent in letters if created >= taken_at]
    delivered = [sent for _created, sent in written if sent is not None]
    if delivered:
        return min(delivered)
    if written:
        return min(created for created, _sent in written)
    return taken_at


# --- notifier misuse (DSA Art. 23(2)) ---------------------------------------------------------


class MeasureKind(enum.StrEnum):
    warning = "warning"
    suspension = "suspension"
    trust_revoked = "trust_revoked"
    trust_restored = "trust_restored"
    reversed = "reversed"  # a complaint found an earlier measure wrong: it no longer counts


@dataclass(frozen=True, slots=True)
class MisuseRule:
    """When a notifier's manifestly unfounded notices call for a warning, then a suspension."""

    threshold: int  # manifestly unfounded notices within the window
    window_days: int
    min_share: float  # of all its notices within the window
    suspension_days: float


@dataclass(frozen=True, slots=True)
class MisuseRecord:
    """A notifier's history as the decision needs it."""

    unfounded_at: tuple[datetime, ...]  # when each of its notices was found manifestly unfounded
    notices_in_window: int
    warned_at: datetime | None  # the last warning
    suspended_until: datetime | None  # the end of the last suspension


@dataclass(frozen=True, slots=True)
class MisuseStep:
    kind: MeasureKind
    unfounded: int
    notices: int
    until: datetime | None
    reason: str


def misuse_step(record: MisuseRecord, *, now: datetime, rule: MisuseRule) -> MisuseStep | None:
    """Return the measure a new finding of a manifestly unfounded notice calls for, if any.

    Art. 23(2) asks for a prior warning and for weighing counts and proportions: nothing happens
    below ``threshold`` unfounded notices in the window or below ``min_share`` of all of them. The
    first time both are reached the notifier is warned; an unfounded notice found after that
    warning suspends it for ``suspension_days``. While suspended, nothing more is decided.
    """
    if record.suspended_until is not None and record.suspended_until > now:
        return None
    since = now - timedelta(days=rule.window_days)
    unfounded = sum(1 for at in record.unfounded_at if since < at <= now)
    total = max(record.notices_in_window, unfounded)
    if unfounded < rule.threshold or total == 0 or unfounded / total < rule.min_share:
        return None
    share = f"{unfounded} of {total} notices in {rule.window_days} days manifestly unfounded"
    warned = record.warned_at is not None and since < record.warned_at
    if not warned:
        return MisuseStep(MeasureKind.warning, unfounded, total, None, f"{share}; warning before suspension")
    after_warning = [
        at for at in record.unfounded_at if record.warned_at is not None and at > record.warned_at
    ]
    if record.suspended_until is not None:
        after_warning = [at for at in after_warning if at > record.suspended_until]
    if not after_warning:
        return None
    until = now + timedelta(days=rule.suspension_days)
    return MisuseStep(
        MeasureKind.suspension,
        unfounded,
        total,
        until,
        f"{share}, again after a warning; notices are not processed until {until.isoformat()}",
    )
