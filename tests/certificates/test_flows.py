"""The certificate's lifecycle table, renewal timing, back-off and alerts are pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.certificates import flows
from staydown.certificates.flows import CertificateEvent, IllegalCertificateTransition, Serve, Withdraw
from staydown.certificates.models import CertificateSource, CertificateStatus

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_suspension_withdraws_and_reinstatement_serves_again() -> None:
    state, commands = flows.transition(CertificateStatus.active, CertificateEvent.zone_suspended)
    assert (state, commands) == (CertificateStatus.withdrawn, (Withdraw(),))
    assert flows.transition(state, CertificateEvent.zone_reinstated) == (CertificateStatus.active, (Serve(),))
    assert flows.transition(CertificateStatus.active, CertificateEvent.zone_terminated) == (
        CertificateStatus.removed,
        (Withdraw(),),
    )
    assert flows.transition(CertificateStatus.withdrawn, CertificateEvent.zone_terminated)[1] == ()


@pytest.mark.parametrize("state", [CertificateStatus.replaced, CertificateStatus.removed])
@pytest.mark.parametrize("event", list(CertificateEvent))
def test_a_finished_certificate_allows_nothing(state: CertificateStatus, event: CertificateEvent) -> None:
    with pytest.raises(IllegalCertificateTransition):
        flows.transition(state, event)


def test_renewal_is_due_at_two_thirds_of_the_lifetime() -> None:
    assert flows.renew_at(NOW, NOW + timedelta(days=90)) == NOW + timedelta(days=60)


@given(st.integers(min_value=1, max_value=80))
def test_back_off_doubles_up_to_its_cap(attempts: int) -> None:
    due = flows.retry_at(NOW, attempts=attempts, base=60, cap=3600)
    assert due - NOW == timedelta(seconds=min(3600, 60 * 2 ** (attempts - 1)))
    assert due <= flows.retry_at(NOW, attempts=attempts + 1, base=60, cap=3600)


def test_challenge_choice_follows_the_preference_among_what_is_offered() -> None:
    offered = ["dns-01", "tls-alpn-01", "http-01"]
    assert flows.choose_challenge(offered, ["http-01", "tls-alpn-01"]) == "http-01"
    assert flows.choose_challenge(["tls-alpn-01", "dns-01"], ["http-01", "tls-alpn-01"]) == "tls-alpn-01"
    assert flows.choose_challenge(["dns-01"], ["http-01", "tls-alpn-01"]) is None


def test_orders_only_for_live_zones_without_a_certificate() -> None:
    assert flows.needs_order(zone_active=True, served=None, pending_order=False)
    assert not flows.needs_order(zone_active=True, served=None, pending_order=True)
    assert not flows.needs_order(zone_active=True, served=CertificateSource.upload, pending_order=False)
    assert not flows.needs_order(zone_active=False, served=None, pending_order=False)
    assert flows.renews_by_acme(CertificateSource.acme)
    assert not flows.renews_by_acme(CertificateSource.upload)


def test_alerts_for_expiry_and_failing_renewals() -> None:
    window = timedelta(days=14)

    def alerts(
        days: float, failed: int = 0, status: CertificateStatus = CertificateStatus.active
    ) -> list[str]:
        return flows.alerts(
            status=status,
            not_after=NOW + timedelta(days=days),
            now=NOW,
            alert_window=window,
            failed_attempts=failed,
        )

    assert alerts(30) == []
    assert alerts(10) == ["expiring"]
    assert alerts(-1, failed=2) == ["expired", "renewal_failing"]
    assert alerts(-1, status=CertificateStatus.withdrawn) == []


def test_a_certificate_just_obtained_is_not_renewed_at_once() -> None:
    lifetime = timedelta(days=90)
    assert flows.renewal_due(NOW, NOW + lifetime, now=NOW) == NOW + timedelta(days=60)
    later = NOW + timedelta(days=80)  # obtained "as of" a later instant than it was issued
    assert flows.renewal_due(NOW, NOW + lifetime, now=later) == later + timedelta(days=30)
