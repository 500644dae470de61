"""The words of every letter due process sends: to the customer, the complainant and the notifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from staydown.due_process.flows import COUNTER_NOTICE_ELEMENTS

if TYPE_CHECKING:
    from staydown.due_process.models import Complaint, CounterNotice, NotifierMeasure
    from staydown.notices.models import Notice

REDRESS = (
    "You may also turn to a certified out-of-court dispute settlement body (Regulation (EU) 2022/2065 "
    "Art. 21) or to the courts."
)


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


def counter_notice_incomplete(counter: CounterNotice, *, provider: str) -> Letter:
    explanations = dict(COUNTER_NOTICE_ELEMENTS.values())
    lines = [
        f"Counter-notice #{counter.id} about notice #{counter.notice_id} lacks elements 17 U.S.C. 512(g)(3) "
        "requires, so it was not forwarded and no restoration is scheduled. Please file it again with:",
        "",
        *(f"- {name}: {explanations.get(name, '')}" for name in counter.missing_elements),
    ]
    return Letter(
        "counter_notice_incomplete",
        f"{_tag(provider)}Counter-notice #{counter.id} is incomplete",
        "\n".join(lines),
        {
            "event": "counter_notice.incomplete",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "missing_elements": list(counter.missing_elements),
        },
    )


def counter_notice_forward(
    counter: CounterNotice, notice: Notice, urls: Sequence[str], *, provider: str
) -> Letter:
    """Forward the counter-notice to the complainant (17 U.S.C. 512(g)(2)(B))."""
    assert counter.restore_at is not None
    lines = [
        f"The customer whose content your notice #{notice.id} had blocked sent the counter-notice below. "
        f"Unless you tell us before {counter.restore_at.isoformat()} that you have filed an action seeking a "
        "court order to restrain the subscriber (POST /v1/notices/"
        f"{notice.id}/court-action), the material will be restored then "
        f"({counter.restore_business_days} business days after receipt, 17 U.S.C. 512(g)(2)(C)).",
        "",
        "Material:",
        *(f"  {url}" for url in urls),
        "",
        f"Name: {counter.name}",
        f"Address: {counter.address}",
        f"Telephone: {counter.phone}",
        f"E-mail: {counter.email or '(none given)'}",
        f"Explanation: {counter.explanation or '(none given)'}",
        "Statement under penalty of perjury of a good-faith belief that the material was removed by mistake "
        "or misidentification: given.",
        "Consent to the jurisdiction of the Federal District Court: given.",
        "Agreement to accept service of process from you or your agent: given.",
        f"Signature: {counter.signature}",
    ]
    return Letter(
        "counter_notice_forward",
        f"{_tag(provider)}Counter-notice to your notice #{notice.id}",
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


def counter_notice_receipt(counter: CounterNotice, *, provider: str) -> Letter:
    assert counter.restore_at is not None
    return Letter(
        "counter_notice_receipt",
        f"{_tag(provider)}Counter-notice #{counter.id} received",
        f"Your counter-notice #{counter.id} about notice #{counter.notice_id} is complete and was forwarded "
        f"to the complainant. The material will be restored at {counter.restore_at.isoformat()} unless the "
        "complainant reports before then that it has filed a court action.",
        {
            "event": "counter_notice.received",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "restore_at": counter.restore_at.isoformat(),
        },
    )


def restored(counter: CounterNotice, urls: Sequence[str], *, provider: str, strike_voided: bool) -> Letter:
    lines = [
        f"No court action was reported against counter-notice #{counter.id}, so the material blocked under "
        f"notice #{counter.notice_id} is served again:",
        *(f"  {url}" for url in urls),
    ]
    if strike_voided:
        lines += ["", "The strike the notice caused under the repeat-infringer policy is void."]
    return Letter(
        "counter_notice_restored",
        f"{_tag(provider)}Material restored after counter-notice #{counter.id}",
        "\n".join(lines),
        {
            "event": "counter_notice.restored",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "urls": list(urls),
            "strike_voided": strike_voided,
        },
    )


def court_action(counter: CounterNotice, case: str, *, provider: str) -> Letter:
    return Letter(
        "counter_notice_court_action",
        f"{_tag(provider)}Court action reported: material stays blocked",
        f"The complainant of notice #{counter.notice_id} reports that it has filed a court action ({case}). "
        f"The material contested by counter-notice #{counter.id} therefore stays blocked "
        "(17 U.S.C. 512(g)(2)(C)).",
        {
            "event": "counter_notice.court_action",
            "counter_notice_id": counter.id,
            "notice_id": counter.notice_id,
            "court_case": case,
        },
    )


def contested(complaint: Complaint) -> str:
    """The contested decision in words."""
    if complaint.subject.value == "policy_step":
        return f"the repeat-infringer policy step #{complaint.policy_step_id} on your account"
    if complaint.subject.value == "notifier_measure":
        return f"the measure #{complaint.measure_id} on your notices"
    return f"the decision on {len(complaint.item_ids)} item(s) of notice #{complaint.notice_id}"


def complaint_receipt(complaint: Complaint, *, provider: str) -> Letter:
    return Letter(
        "complaint_receipt",
        f"{_tag(provider)}Complaint #{complaint.id} received",
        f"We received your complaint #{complaint.id} about {contested(complaint)}. A person who did not "
        "take that decision will review it and send you a reasoned answer.",
        {"event": "complaint.received", "complaint_id": complaint.id, "notice_id": complaint.notice_id},
    )


def complaint_decision(complaint: Complaint, reversed_what: str | None, *, provider: str) -> Letter:
    upheld = complaint.status.value == "upheld"
    outcome = (
        f"Your complaint is well founded; {reversed_what or 'the decision'} was reversed."
        if upheld
        else "Your complaint was reviewed and the decision stands."
    )
    lines = [
        f"Decision on complaint #{complaint.id} about {contested(complaint)}: {outcome}",
        "",
        f"Reasons: {complaint.answer}",
        "",
        REDRESS,
    ]
    return Letter(
        "complaint_decision",
        f"{_tag(provider)}Decision on complaint #{complaint.id}",
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
    complaint: Complaint, reversed_ids: Sequence[int], *, provider: str
) -> Letter:
    return Letter(
        "complaint_reversal",
        f"{_tag(provider)}Decision on your notice #{complaint.notice_id} reversed",
        f"After an internal complaint by the customer, the block of {len(reversed_ids)} item(s) of your "
        f"notice #{complaint.notice_id} was lifted. Reasons: {complaint.answer}\n\n{REDRESS}",
        {
            "event": "complaint.reversal",
            "complaint_id": complaint.id,
            "notice_id": complaint.notice_id,
            "items_reversed": list(reversed_ids[:1000]),
        },
    )


def notifier_measure(measure: NotifierMeasure, *, provider: str) -> Letter:
    if measure.kind.value == "warning":
        head = (
            "Warning: several of your notices were found manifestly unfounded. If you send another one, we "
            "will suspend the processing of your notices for a period (Regulation (EU) 2022/2065 Art. 23(2))."
        )
    else:
        until = measure.until.isoformat() if measure.until else "further notice"
        head = (
            f"The processing of your notices is suspended until {until} "
            "(Regulation (EU) 2022/2065 Art. 23(2))."
        )
    return Letter(
        f"notifier_{measure.kind.value}",
        f"{_tag(provider)}Notices: {measure.kind.value}",
        f"{head}\n\nReason: {measure.reason}\n\n"
        f"You may contest this measure by replying to this message. {REDRESS}",
        {
            "event": f"notifier.{measure.kind.value}",
            "measure_id": measure.id,
            "until": measure.until.isoformat() if measure.until else None,
        },
    )
