"""The words of every notification a notice causes: to the submitter, the customer and the host."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from staydown.notices.elements import Element
from staydown.notices.models import Notice
from staydown.notices.regimes import rules_of


@dataclass(frozen=True, slots=True)
class Letter:
    subject: str
    body: str
    payload: dict[str, Any]


def complainant(notice: Notice, fields: Collection[str]) -> dict[str, str]:
    """The complainant's details among ``fields`` (what the recipient may be given), empty ones left out."""
    values = {
        "name": notice.submitter_name,
        "organization": notice.submitter_organization,
        "on_behalf_of": notice.on_behalf_of,
        "email": notice.submitter_email,
        "phone": notice.submitter_phone,
        "address": notice.submitter_address,
    }
    return {field: value for field, value in values.items() if field in fields and value}


_LABELS = {
    "name": "Name",
    "organization": "Organisation",
    "on_behalf_of": "On behalf of",
    "email": "E-mail",
    "phone": "Telephone",
    "address": "Address",
}


def _complainant_lines(shown: dict[str, str]) -> list[str]:
    return [f"  {_LABELS[field]}: {value}" for field, value in shown.items()]


def _rejected_lines(rejected: Sequence[dict[str, Any]]) -> list[str]:
    if not rejected:
        return []
    shown = [f"  entry {r['index']} ({r['url'][:120]}): {r['message']}" for r in rejected[:20]]
    more = [f"  ... and {len(rejected) - 20} more"] if len(rejected) > 20 else []
    return [f"{len(rejected)} URL(s) could not be taken in and are not part of the notice:", *shown, *more]


def receipt(notice: Notice, *, provider: str) -> Letter:
    """Confirm receipt without undue delay (DSA Art. 16(4))."""
    body = [
        f"{provider} received your {rules_of(notice.regime).label} notice #{notice.id} at "
        f"{notice.received_at.isoformat()} with {notice.item_count} URL(s).",
        f"We act on valid notices by {notice.deadline_at.isoformat()}.",
        f"Current status: {notice.status.value}.",
        *(
            [
                f"Measure in force against you: {notice.sanction}",
                "While it lasts, your notices are reviewed after those of other notifiers.",
            ]
            if notice.sanction
            else []
        ),
        *_rejected_lines(notice.rejected_items or []),
    ]
    return Letter(
        f"[{provider}] Notice #{notice.id} received",
        "\n".join(body),
        {"event": "notice.received", "notice_id": notice.id, "status": notice.status.value},
    )


def incomplete(notice: Notice, missing: Sequence[Element], *, provider: str, rejected: bool) -> Letter:
    """Tell the submitter which elements are missing (17 U.S.C. 512(c)(3)(B)(ii))."""
    if rejected:
        head = (
            f"Notice #{notice.id} cannot be acted on: it lacks elements without which the material cannot be "
            "identified or you cannot be reached."
        )
    else:
        head = f"Notice #{notice.id} is incomplete. Please supply the following so that we can act on it:"
    lines = [head, ""]
    lines += [f"- {element.name}: {element.explanation}" for element in missing]
    return Letter(
        f"[{provider}] Notice #{notice.id} {'rejected' if rejected else 'is incomplete'}",
        "\n".join(lines),
        {
            "event": "notice.rejected" if rejected else "notice.incomplete",
            "notice_id": notice.id,
            "missing_elements": [element.name for element in missing],
        },
    )


def decision(
    notice: Notice, counts: dict[str, int], *, provider: str, redress: str, automated: bool
) -> Letter:
    """Tell the notifier the decision and the redress open to them (DSA Art. 16(5), 16(6))."""
    lines = [
        f"Decision on notice #{notice.id}: {notice.status.value}.",
        *(f"  {status}: {count}" for status, count in sorted(counts.items())),
        "",
        "Automated means were used: " + ("yes (trusted notifier, no manual review)" if automated else "no"),
        "",
        redress,
    ]
    return Letter(
        f"[{provider}] Decision on notice #{notice.id}",
        "\n".join(lines),
        {"event": "notice.decided", "notice_id": notice.id, "status": notice.status.value, "items": counts},
    )


def forward(
    notice: Notice,
    urls: Sequence[str],
    *,
    provider: str,
    hostname: str,
    to_host: bool,
    complainant_fields: Collection[str],
    redress: str,
) -> Letter:
    """Forward the notice to the customer or the origin's host, with what of the complainant the
    regime lets that recipient have (``complainant_fields``) and the remedies the zone's service
    type offers."""
    who = "the hosting provider of the origin of" if to_host else "the customer of"
    shown = complainant(notice, complainant_fields)
    lines = [
        f"{provider} received notice #{notice.id} ({rules_of(notice.regime).label}) about content served for "
        f"{hostname}. You receive it as {who} this zone. "
        "The following URL(s) are now blocked on our network:",
        *(f"  {url}" for url in urls),
        "",
        "Works said to be infringed:",
        *(f"  - {work.get('description') or '(not described)'}" for work in notice.works),
        "",
        "Complainant:",
        *_complainant_lines(shown),
        "",
        f"Explanation given: {notice.explanation or '(none)'}",
        "",
        redress,
    ]
    return Letter(
        f"[{provider}] Notice #{notice.id} for {hostname}",
        "\n".join(lines),
        {
            "event": "notice.forwarded",
            "notice_id": notice.id,
            "hostname": hostname,
            "urls": list(urls),
            "complainant": shown,
        },
    )


def overdue(notice: Notice, pending: int, *, provider: str) -> Letter:
    return Letter(
        f"[{provider}] Notice #{notice.id} is past its deadline",
        f"Notice #{notice.id} was due by {notice.deadline_at.isoformat()} and {pending} item(s) still wait "
        "for review.",
        {"event": "notice.overdue", "notice_id": notice.id, "pending": pending},
    )


def inquiry(notice: Notice, urls: Sequence[str], *, due_at: datetime, hostname: str, provider: str) -> Letter:
    """Ask the sender whether it agrees to removal (Information Distribution Platform Act Art. 3(2)(ii)).

    Written in Japanese, as the sender is asked under Japanese law; it shows the information
    concerned, the right said to be infringed and the reasons given, and when the time to object ends.
    """
    works = [work.get("description") or "(記載なし)" for work in notice.works]
    lines = [
        f"{hostname} の契約者様",
        "",
        f"{provider} は、貴殿が発信された下記の情報について、権利を侵害されたとする方から送信防止措置"
        f"「削除」の申出「申出番号 #{notice.id}」を受けました。",
        "情報流通プラットフォーム対処法第3条第2項第2号に基づき、送信防止措置を講じることに同意されるか"
        "どうかを照会いたします。",
        "",
        "【侵害情報】",
        *(f"  {url}" for url in urls),
        "",
        "【侵害されたとする権利】",
        *(f"  {work}" for work in works),
        "",
        "【権利が侵害されたとする理由】",
        f"  {notice.explanation or '(記載なし)'}",
        "",
        f"{due_at.isoformat()} までに、同意しない旨の申出「理由を付して」がない場合は、"
        "送信防止措置を講じます。",
        f"同意されない場合は、POST /v1/notices/{notice.id}/objection により、理由を付してお申し出ください。",
    ]
    return Letter(
        f"[{provider}] 送信防止措置に関する照会「申出番号 #{notice.id}」",
        "\n".join(lines),
        {
            "event": "notice.inquiry",
            "notice_id": notice.id,
            "hostname": hostname,
            "urls": list(urls),
            "due_at": due_at.isoformat(),
            "language": "ja",
        },
    )


def objection(notice: Notice, item_ids: Sequence[int], reasons: str, *, provider: str) -> Letter:
    """Tell the abuse desk the sender objected to removal: the items wait for an agent again."""
    return Letter(
        f"[{provider}] Sender objected to removal under notice #{notice.id}",
        f"The sender objected to the removal of {len(item_ids)} item(s) of notice #{notice.id} with these "
        f"reasons:\n\n{reasons}\n\nThe items wait for review again.",
        {"event": "notice.inquiry_objected", "notice_id": notice.id, "item_ids": list(item_ids)[:1000]},
    )


def expired(notice: Notice, days: float, *, provider: str) -> Letter:
    """Tell the notifier its incomplete notice was closed because it was not completed in time."""
    lines = [
        f"Notice #{notice.id} was not completed within {days:g} days and is now closed. It lacked:",
        *(f"- {name}" for name in notice.missing_elements),
        "",
        "You may send a new, complete notice at any time.",
    ]
    return Letter(
        f"[{provider}] Notice #{notice.id} closed: not completed",
        "\n".join(lines),
        {"event": "notice.expired", "notice_id": notice.id, "missing_elements": notice.missing_elements},
    )
