"""What happens to a zone's certificate, as pure decisions: a transition table of its status with
the commands each step returns, when to renew, how long to back off, which challenge to answer.

The runner (``service``) carries the commands out: ``Serve`` writes a ``cert_set`` record,
``Withdraw`` a ``cert_remove`` record, ``Order`` queues an ACME order, ``CancelOrders`` drops the
zone's pending ones.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from staydown.certificates.models import CertificateSource, CertificateStatus


class CertificateEvent(enum.StrEnum):
    zone_suspended = "zone_suspended"
    zone_reinstated = "zone_reinstated"
    zone_terminated = "zone_terminated"
    superseded = "superseded"  # a newer certificate of the zone is served instead


class IllegalCertificateTransition(Exception):
    def __init__(self, state: CertificateStatus, event: CertificateEvent) -> None:
        super().__init__(f"certificate in state {state.value!r} does not allow {event.value!r}")
        self.state, self.event = state, event


@dataclass(frozen=True, slots=True)
class Serve:
    """Send the certificate to the edges (again)."""


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Tell the edges to stop serving the certificate."""


S, E = CertificateStatus, CertificateEvent
TRANSITIONS: dict[
    tuple[CertificateStatus, CertificateEvent], tuple[CertificateStatus, tuple[object, ...]]
] = {
    (S.active, E.zone_suspended): (S.withdrawn, (Withdraw(),)),
    (S.withdrawn, E.zone_reinstated): (S.active, (Serve(),)),
    (S.active, E.zone_terminated): (S.removed, (Withdraw(),)),
    (S.withdrawn, E.zone_terminated): (S.removed, ()),
    # The edges replace a zone's certificate with the next cert_set record: nothing to withdraw.
    (S.active, E.superseded): (S.replaced, ()),
    (S.withdrawn, E.superseded): (S.replaced, ()),
}


def transition(
    state: CertificateStatus, event: CertificateEvent
) -> tuple[CertificateStatus, tuple[object, ...]]:
    """The certificate's next state and the commands to run; ``IllegalCertificateTransition`` else."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalCertificateTransition(state, event) from None


def renew_at(not_before: datetime, not_after: datetime) -> datetime:
    """When a certificate is renewed: two thirds into its lifetime."""
    return not_before + (not_after - not_before) * 2 / 3


def renewal_due(not_before: datetime, not_after: datetime, *, now: datetime) -> datetime:
    """When a certificate obtained at ``now`` is renewed: at :func:`renew_at`, but not before a
    third of its lifetime from now (a CA may backdate, a clock may be behind)."""
    return max(renew_at(not_before, not_after), now + (not_after - not_before) / 3)


def retry_at(now: datetime, *, attempts: int, base: float, cap: float) -> datetime:
    """When a failed order is tried again: ``base`` seconds doubled per failure, at most ``cap``."""
    return now + timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def needs_order(*, zone_active: bool, served: CertificateSource | None, pending_order: bool) -> bool:
    """Whether a zone needs an ACME order now: it is served, has no certificate and none is coming."""
    return zone_active and served is None and not pending_order


def renews_by_acme(source: CertificateSource) -> bool:
    """Whether ACME renews a certificate of this source (an uploaded one is the customer's to renew)."""
    return source is CertificateSource.acme


def choose_challenge(offered: Sequence[str], preference: Sequence[str]) -> str | None:
    """The first challenge type of ``preference`` the directory offers, or None."""
    for wanted in preference:
        if wanted in offered:
            return wanted
    return None


class Alert(enum.StrEnum):
    expiring = "expiring"  # served, and expiring within the alert window
    expired = "expired"
    renewal_failing = "renewal_failing"  # the order for it has failed at least once


def alerts(
    *,
    status: CertificateStatus,
    not_after: datetime,
    now: datetime,
    alert_window: timedelta,
    failed_attempts: int,
) -> list[Alert]:
    """What the desk and the metrics raise about a certificate."""
    if status is not CertificateStatus.active:
        return []
    found = []
    if not_after <= now:
        found.append(Alert.expired)
    elif not_after - now <= alert_window:
        found.append(Alert.expiring)
    if failed_attempts > 0:
        found.append(Alert.renewal_failing)
    return found
