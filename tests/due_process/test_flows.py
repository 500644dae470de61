"""The due-process transition tables, §512(g)(3) elements, the complaint window and misuse steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staydown.due_process.flows import (
    COMPLAINT_TRANSITIONS,
    COUNTER_NOTICE_TRANSITIONS,
    ComplaintEvent,
    ComplaintStatus,
    CounterNoticeEvent,
    CounterNoticeFacts,
    CounterNoticeStatus,
    IllegalTransition,
    MeasureKind,
    MisuseRecord,
    MisuseRule,
    add_months,
    complaint_open_until,
    complaint_transition,
    counter_notice_missing,
    counter_notice_transition,
    independent_decider,
    misuse_step,
)
from staydown.due_process.statements import (
    EEA,
    ItemRestriction,
    ZoneRestriction,
    content_types,
    item_statement,
    zone_statement,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@given(st.sampled_from(CounterNoticeStatus), st.sampled_from(CounterNoticeEvent))
def test_counter_notice_table_is_total_or_raises(
    state: CounterNoticeStatus, event: CounterNoticeEvent
) -> None:
    if (state, event) in COUNTER_NOTICE_TRANSITIONS:
        assert counter_notice_transition(state, event) is COUNTER_NOTICE_TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition):
            counter_notice_transition(state, event)


def test_restoration_and_court_action_exclude_each_other() -> None:
    restored = counter_notice_transition(CounterNoticeStatus.pending, CounterNoticeEvent.timer_fired)
    with pytest.raises(IllegalTransition):
        counter_notice_transition(restored, CounterNoticeEvent.court_action_reported)
    upheld = counter_notice_transition(CounterNoticeStatus.pending, CounterNoticeEvent.court_action_reported)
    with pytest.raises(IllegalTransition):
        counter_notice_transition(upheld, CounterNoticeEvent.timer_fired)
    incomplete = counter_notice_transition(
        CounterNoticeStatus.received, CounterNoticeEvent.assessed_incomplete
    )
    with pytest.raises(IllegalTransition):
        counter_notice_transition(incomplete, CounterNoticeEvent.timer_fired)


@given(st.sampled_from(ComplaintStatus), st.sampled_from(ComplaintEvent))
def test_complaint_is_decided_once(state: ComplaintStatus, event: ComplaintEvent) -> None:
    if state is ComplaintStatus.open:
        assert complaint_transition(state, event) in (ComplaintStatus.upheld, ComplaintStatus.dismissed)
    else:
        assert (state, event) not in COMPLAINT_TRANSITIONS
        with pytest.raises(IllegalTransition):
            complaint_transition(state, event)


FULL = CounterNoticeFacts(True, True, True, True, True, True, True, True)


def test_a_complete_counter_notice_misses_nothing() -> None:
    assert counter_notice_missing(FULL) == []


@given(st.lists(st.booleans(), min_size=8, max_size=8))
def test_every_missing_element_is_named(flags: list[bool]) -> None:
    facts = CounterNoticeFacts(*flags)
    missing = counter_notice_missing(facts)
    assert ("512(g)(3)(A) signature" in missing) is (not facts.signature)
    assert ("512(g)(3)(B) identification of the material removed" in missing) is (not facts.items)
    assert ("512(g)(3)(C) statement under penalty of perjury" in missing) is (not facts.good_faith_mistake)
    contact = facts.name and facts.address and facts.phone
    assert ("512(g)(3)(D) name, address and telephone number" in missing) is (not contact)
    assert ("512(g)(3)(D) consent to jurisdiction" in missing) is (not facts.consent_to_jurisdiction)
    assert ("512(g)(3)(D) acceptance of service of process" in missing) is (not facts.accept_service)
    assert (missing == []) is all(flags)


def test_complaint_window_is_six_calendar_months() -> None:
    decided = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)
    assert complaint_open_until(decided, months=6) == datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2027, 1, 15, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)), st.integers(6, 24))
def test_the_window_is_never_shorter_than_the_months_in_days(start: datetime, months: int) -> None:
    end = add_months(start, months)
    assert end - start >= timedelta(days=28 * months)
    assert end.month == (start.month - 1 + months) % 12 + 1


def test_the_decider_of_a_complaint_is_not_who_decided() -> None:
    assert not independent_decider("key:2", {"key:2"})
    assert independent_decider("key:3", {"key:2"})


RULE = MisuseRule(threshold=3, window_days=180, min_share=0.5, suspension_days=30)


def _record(
    found: list[datetime], notices: int, warned: datetime | None = None, until: datetime | None = None
) -> MisuseRecord:
    return MisuseRecord(tuple(found), notices, warned, until)


def test_misuse_warns_first_then_suspends_after_another_unfounded_notice() -> None:
    found = [NOW - timedelta(days=3), NOW - timedelta(days=2), NOW]
    assert misuse_step(_record(found[:2], 3), now=NOW, rule=RULE) is None  # below the threshold
    assert misuse_step(_record(found, 10), now=NOW, rule=RULE) is None  # 3 of 10: below the share
    warning = misuse_step(_record(found, 4), now=NOW, rule=RULE)
    assert warning is not None and warning.kind is MeasureKind.warning and warning.until is None
    # the finding that caused the warning does not also suspend
    assert misuse_step(_record(found, 4, warned=NOW), now=NOW, rule=RULE) is None
    later = NOW + timedelta(days=1)
    suspension = misuse_step(_record([*found, later], 5, warned=NOW), now=later, rule=RULE)
    assert suspension is not None and suspension.kind is MeasureKind.suspension
    assert suspension.until == later + timedelta(days=30)
    assert "after a warning" in suspension.reason
    # while suspended nothing more is decided
    during = later + timedelta(days=2)
    assert (
        misuse_step(
            _record([*found, later, during], 6, warned=NOW, until=suspension.until), now=during, rule=RULE
        )
        is None
    )


def test_an_old_warning_outside_the_window_is_given_again() -> None:
    found = [NOW - timedelta(days=2), NOW - timedelta(days=1), NOW]
    step = misuse_step(_record(found, 3, warned=NOW - timedelta(days=400)), now=NOW, rule=RULE)
    assert step is not None and step.kind is MeasureKind.warning


def test_statement_fields_use_the_dsa_database_vocabulary() -> None:
    fields = item_statement(
        ItemRestriction(
            notice_id=7,
            regime="dsa",
            trusted=False,
            automated=False,
            url="http://a.example/p/1.jpg",
            works=("Manga vol. 1",),
            explanation="copy of our page",
            decision_reason="checked against the original",
            notice_received_at=NOW,
            applied_at=NOW + timedelta(hours=2),
            business=True,
        )
    )
    assert fields.decision_visibility == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert fields.decision_ground == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert fields.category == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    assert fields.source_type == "SOURCE_ARTICLE_16"
    assert fields.automated_decision == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert fields.content_type == ["CONTENT_TYPE_IMAGE"]
    assert fields.territorial_scope == EEA and len(EEA) == 30
    zone = zone_statement(
        ZoneRestriction(
            zone_id=1,
            hostname="a.example",
            status="terminated",
            reason="repeat-infringer policy: 5 strikes",
            automated=True,
            repeat_infringer=True,
            whole_account=True,
            zone_created_at=NOW,
            applied_at=NOW,
            business=False,
        )
    )
    assert zone.decision_provision == "DECISION_PROVISION_TOTAL_TERMINATION"
    assert zone.decision_account == "DECISION_ACCOUNT_TERMINATED"
    assert zone.decision_ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert zone.automated_decision == "AUTOMATED_DECISION_FULLY"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://a.example/x.PNG?v=1", "CONTENT_TYPE_IMAGE"),
        ("http://a.example/chapter-1/", "CONTENT_TYPE_OTHER"),
        ("http://a.example/v.mp4", "CONTENT_TYPE_VIDEO"),
        ("http://a.example/index.html", "CONTENT_TYPE_TEXT"),
    ],
)
def test_content_type_from_the_url(url: str, kind: str) -> None:
    assert content_types(url)[0] == [kind]
