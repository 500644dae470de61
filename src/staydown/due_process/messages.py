"""The words of every letter due process sends: to the customer, the complainant and the notifier,
each in its recipient's language (``locale``; see ``staydown.wording``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from staydown.due_process.flows import COUNTER_NOTICE_ELEMENTS
from staydown.notices.messages import labelled
from staydown.wording import Words
from staydown.wording import mark as _

if TYPE_CHECKING:
    from staydown.due_process.models import Complaint, CounterNotice, NotifierMeasure
    from staydown.notices.models import Notice

REDRESS = _(
    "You may also turn to a certified out-of-court dispute settlement body (Regulation (EU) 2022/2065 "
    "Art. 21) or to the courts."
)


@dataclass(frozen=True, slots=True)
class Reversal:
    """What a well-founded complaint reversed, said in any language: ``str()`` is the English text
    (the record), ``words()`` the reader's."""

    message: str
    params: dict[str, object]

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message

    def words(self, locale: str) -> str:
        return Words(locale)(self.message, **self.params)


ITEMS_RESTORED = _("the decision on %(count)s item(s), now restored,")
ITEMS_BLOCKED = _("the decision on %(count)s item(s), now blocked,")
SUSPENSION_LIFTED = _("the suspension, lifted,")
TERMINATION_SET_ASIDE = _("the termination, set aside (your zones may be registered again),")
WARNING_WITHDRAWN = _("the warning, withdrawn,")
STAYDOWN_LIFTED = _("the stay-down block")
MEASURES_REVERSED = {
    "warning": _("the warning"),
    "suspension": _("the suspension"),
    "trust_revoked": _("the trust revoked"),
    "trust_restored": _("the trust restored"),
    "reversed": _("the reversed"),
}


@dataclass(frozen=True, slots=True)
class Letter:
    kind: str
    subject: str
    body: str
    payload: dict[str, Any]

    def to_complainant(self) -> Letter:
        """The same news, addressed to the person who sent the notice."""
        return replace(self, kind=f"{self.kind}_complainant")


def _tag(provider: str) -> str:
    return f"[{provider}] " if provider else ""


def counter_notice_incomplete(counter: CounterNotice, *, provider: str, locale: str = "en") -> Letter:
    _ = Words(locale)
    explanations = dict(COUNTER_NOTICE_ELEMENTS.values())
    lines = [
        _(
            "Counter-notice #%(id)s about notice #%(notice)s lacks elements 17 U.S.C. 512(g)(3) requires, so "
            "it was not forwarded and no restoration is scheduled. Please file it again with:",
            id=counter.id,
            notice=counter.notice_id,
        ),
        "",
        *(
            "- " + labelled(_, _(name), _(explanations[name]) if name in explanations else "")
            for name in counter.missing_elements
        ),
    ]
    return Letter(
        "counter_notice_incomplete",
        _tag(provider) + _("Counter-notice #%(id)s is incomplete", id=counter.id),
        "\n".join(lines),
        {
            "event": "counter_notice.incomplete",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "missing_elements": list(counter.missing_elements),
        },
    )


def counter_notice_forward(
    counter: CounterNotice, notice: Notice, urls: Sequence[str], *, provider: str, locale: str = "en"
) -> Letter:
    """Forward the counter-notice to the complainant (17 U.S.C. 512(g)(2)(B))."""
    assert counter.restore_at is not None
    _ = Words(locale)
    given, none = _("given"), _("(none given)")
    lines = [
        _(
            "The customer whose content your notice #%(id)s had blocked sent the counter-notice below. "
            "Unless you tell us before %(restore)s that you have filed an action seeking a court order to "
            "restrain the subscriber (POST /v1/notices/%(id)s/court-action), the material will be restored "
            "then (%(days)s business days after receipt, 17 U.S.C. 512(g)(2)(C)).",
            id=notice.id,
            restore=_.when(counter.restore_at),
            days=counter.restore_business_days,
        ),
        "",
        _("Material:"),
        *(f"  {url}" for url in urls),
        "",
        _("Name: %(value)s", value=counter.name),
        _("Address: %(value)s", value=counter.address),
        _("Telephone: %(value)s", value=counter.phone),
        _("E-mail: %(value)s", value=counter.email or none),
        _("Explanation: %(value)s", value=counter.explanation or none),
        _(
            "Statement under penalty of perjury of a good-faith belief that the material was removed by "
            "mistake or misidentification: %(value)s.",
            value=given,
        ),
        _("Consent to the jurisdiction of the Federal District Court: %(value)s.", value=given),
        _("Agreement to accept service of process from you or your agent: %(value)s.", value=given),
        _("Signature: %(value)s", value=counter.signature),
    ]
    return Letter(
        "counter_notice_forward",
        _tag(provider) + _("Counter-notice to your notice #%(id)s", id=notice.id),
        "\n".join(lines),
        {
            "event": "counter_notice.forwarded",
            "counter_notice_id": counter.id,
            "notice_id": notice.id,
            "restore_at": counter.restore_at.isoformat(),
            "urls": list(urls),
            "subscriber": {
                "name": counter.name,
                "address": counter.address,
                "phone": counter.phone,
                "email": counter.email,
            },
        },
    )


def counter_notice_receipt(counter: CounterNotice, *, provider: str, locale: str = "en") -> Letter:
    assert counter.restore_at is not None
    _ = Words(locale)
    return Letter(
        "counter_notice_receipt",
        _tag(provider) + _("Counter-notice #%(id)s received", id=counter.id),
        _(
            "Your counter-notice #%(id)s about notice #%(notice)s is complete and was forwarded to the "
            "complainant. The material will be restored at %(restore)s unless the complainant reports before "
            "then that it has filed a court action.",
            id=counter.id,
            notice=counter.notice_id,
            restore=_.when(counter.restore_at),
        ),
        {
            "event": "counter_notice.received",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "restore_at": counter.restore_at.isoformat(),
        },
    )


def restored(
    counter: CounterNotice, urls: Sequence[str], *, provider: str, strike_voided: bool, locale: str = "en"
) -> Letter:
    _ = Words(locale)
    lines = [
        _(
            "No court action was reported against counter-notice #%(id)s, so the material blocked under "
            "notice #%(notice)s is served again:",
            id=counter.id,
            notice=counter.notice_id,
        ),
        *(f"  {url}" for url in urls),
    ]
    if strike_voided:
        lines += ["", _("The strike the notice caused under the repeat-infringer policy is void.")]
    return Letter(
        "counter_notice_restored",
        _tag(provider) + _("Material restored after counter-notice #%(id)s", id=counter.id),
        "\n".join(lines),
        {
            "event": "counter_notice.restored",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "urls": list(urls),
            "strike_voided": strike_voided,
        },
    )


def court_action(counter: CounterNotice, case: str, *, provider: str, locale: str = "en") -> Letter:
    _ = Words(locale)
    return Letter(
        "counter_notice_court_action",
        _tag(provider) + _("Court action reported: material stays blocked"),
        _(
            "The complainant of notice #%(notice)s reports that it has filed a court action (%(case)s). The "
            "material contested by counter-notice #%(id)s therefore stays blocked (17 U.S.C. 512(g)(2)(C)).",
            notice=counter.notice_id,
            case=case,
            id=counter.id,
        ),
        {
            "event": "counter_notice.court_action",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "court_case": case,
        },
    )


def contested(complaint: Complaint, locale: str = "en") -> str:
    """The contested decision in words."""
    _ = Words(locale)
    if complaint.subject.value == "policy_step":
        return _("the repeat-infringer policy step #%(id)s on your account", id=complaint.policy_step_id)
    if complaint.subject.value == "notifier_measure":
        return _("the measure #%(id)s on your notices", id=complaint.measure_id)
    return _(
        "the decision on %(count)s item(s) of notice #%(id)s",
        count=_.number(len(complaint.item_ids)),
        id=complaint.notice_id,
    )


def complaint_receipt(complaint: Complaint, *, provider: str, locale: str = "en") -> Letter:
    _ = Words(locale)
    return Letter(
        "complaint_receipt",
        _tag(provider) + _("Complaint #%(id)s received", id=complaint.id),
        _(
            "We received your complaint #%(id)s about %(what)s. A person who did not take that decision will "
            "review it and send you a reasoned answer.",
            id=complaint.id,
            what=contested(complaint, locale),
        ),
        {"event": "complaint.received", "complaint_id": complaint.id, "notice_id": complaint.notice_id},
    )


def complaint_decision(
    complaint: Complaint, reversal: Reversal | None, *, provider: str, locale: str = "en"
) -> Letter:
    _ = Words(locale)
    upheld = complaint.status.value == "upheld"
    reversed_what = str(reversal) if reversal is not None else None
    outcome = (
        _(
            "Your complaint is well founded; %(what)s was reversed.",
            what=reversal.words(locale) if reversal is not None else _("the decision"),
        )
        if upheld
        else _("Your complaint was reviewed and the decision stands.")
    )
    lines = [
        _(
            "Decision on complaint #%(id)s about %(what)s: %(outcome)s",
            id=complaint.id,
            what=contested(complaint, locale),
            outcome=outcome,
        ),
        "",
        _("Reasons: %(reasons)s", reasons=complaint.answer),
        "",
        _(REDRESS),
    ]
    return Letter(
        "complaint_decision",
        _tag(provider) + _("Decision on complaint #%(id)s", id=complaint.id),
        "\n".join(lines),
        {
            "event": f"complaint.{complaint.status.value}",
            "complaint_id": complaint.id,
            "notice_id": complaint.notice_id,
            "reversed": reversed_what,
            "answer": complaint.answer,
        },
    )


def complaint_reversal_to_notifier(
    complaint: Complaint, reversed_ids: Sequence[int], *, provider: str, locale: str = "en"
) -> Letter:
    _ = Words(locale)
    return Letter(
        "complaint_reversal",
        _tag(provider) + _("Decision on your notice #%(id)s reversed", id=complaint.notice_id),
        _(
            "After an internal complaint by the customer, the block of %(count)s item(s) of your notice "
            "#%(id)s was lifted. Reasons: %(reasons)s",
            count=_.number(len(reversed_ids)),
            id=complaint.notice_id,
            reasons=complaint.answer,
        )
        + "\n\n"
        + _(REDRESS),
        {
            "event": "complaint.reversal",
            "complaint_id": complaint.id,
            "notice_id": complaint.notice_id,
            "items_reversed": list(reversed_ids[:1000]),
        },
    )


def notifier_measure(measure: NotifierMeasure, *, provider: str, locale: str = "en") -> Letter:
    _ = Words(locale)
    if measure.kind.value == "warning":
        head = _(
            "Warning: several of your notices were found manifestly unfounded. If you send another one, we "
            "will suspend the processing of your notices for a period (Regulation (EU) 2022/2065 Art. 23(2))."
        )
        subject = _("Notices: warning")
    else:
        until = _.when(measure.until) if measure.until else _("further notice")
        head = _(
            "The processing of your notices is suspended until %(until)s "
            "(Regulation (EU) 2022/2065 Art. 23(2)).",
            until=until,
        )
        subject = _("Notices: suspension")
    return Letter(
        f"notifier_{measure.kind.value}",
        _tag(provider) + subject,
        f"{head}\n\n"
        + _("Reason: %(reason)s", reason=measure.reason)
        + "\n\n"
        + _("You may contest this measure by replying to this message.")
        + " "
        + _(REDRESS),
        {
            "event": f"notifier.{measure.kind.value}",
            "measure_id": measure.id,
            "until": measure.until.isoformat() if measure.until else None,
        },
    )
