"""The words of every notification a notice causes: to the submitter, the customer and the host.

Each letter is written in its recipient's language (``locale``): the texts are message ids of the
``letters`` catalog (see ``staydown.wording``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from staydown.i18n import format_datetime
from staydown.notices.elements import Element
from staydown.notices.models import Notice
from staydown.notices.regimes import rules_of
from staydown.wording import Words
from staydown.wording import mark as _


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
    "name": _("Name"),
    "organization": _("Organisation"),
    "on_behalf_of": _("On behalf of"),
    "email": _("E-mail"),
    "phone": _("Telephone"),
    "address": _("Address"),
}

# What a notice's or an item's status is called in a letter.
STATUS_LABELS = {
    "received": _("received"),
    "incomplete": _("incomplete"),
    "accepted": _("accepted"),
    "actioned": _("actioned"),
    "rejected": _("rejected"),
    "closed": _("closed"),
    "pending_review": _("pending review"),
    "not_on_network": _("not on our network"),
    "counter_noticed": _("counter-noticed"),
    "restored": _("restored"),
    "inquiry": _("sender asked (inquiry)"),
}


def labelled(_: Words, label: str, value: object) -> str:
    """``label: value`` with the colon of the reader's language."""
    return _("%(label)s: %(value)s", label=label, value=value)


def status_label(_: Words, status: str) -> str:
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def _complainant_lines(_: Words, shown: dict[str, str]) -> list[str]:
    return ["  " + labelled(_, _(_LABELS[field]), value) for field, value in shown.items()]


def _rejected_lines(_: Words, rejected: Sequence[dict[str, Any]]) -> list[str]:
    if not rejected:
        return []
    shown = [
        "  "
        + _(
            "entry %(index)s (%(url)s): %(message)s",
            index=r["index"],
            url=r["url"][:120],
            message=r["message"],
        )
        for r in rejected[:20]
    ]
    more = ["  " + _("... and %(count)s more", count=len(rejected) - 20)] if len(rejected) > 20 else []
    return [
        _("%(count)s URL(s) could not be taken in and are not part of the notice:", count=len(rejected)),
        *shown,
        *more,
    ]


def _tag(provider: str) -> str:
    return f"[{provider}] " if provider else ""


def receipt(notice: Notice, *, provider: str, locale: str = "en") -> Letter:
    """Confirm receipt without undue delay (DSA Art. 16(4))."""
    _ = Words(locale)
    body = [
        _(
            "%(provider)s received your %(regime)s notice #%(id)s at %(received)s with %(count)s URL(s).",
            provider=provider,
            regime=rules_of(notice.regime).label,
            id=notice.id,
            received=_.when(notice.received_at),
            count=_.number(notice.item_count),
        ),
        _("We act on valid notices by %(deadline)s.", deadline=_.when(notice.deadline_at)),
        _("Current status: %(status)s.", status=status_label(_, notice.status.value)),
        *(
            [
                _("Measure in force against you: %(sanction)s", sanction=notice.sanction),
                _("While it lasts, your notices are reviewed after those of other notifiers."),
            ]
            if notice.sanction
            else []
        ),
        *_rejected_lines(_, notice.rejected_items or []),
    ]
    return Letter(
        _tag(provider) + _("Notice #%(id)s received", id=notice.id),
        "\n".join(body),
        {"event": "notice.received", "notice_id": notice.id, "status": notice.status.value},
    )


def element_lines(_: Words, elements: Sequence[Element]) -> list[str]:
    """``- name: explanation`` of each element, in the reader's language."""
    return ["- " + labelled(_, _(element.name), _(element.explanation)) for element in elements]


def incomplete(
    notice: Notice, missing: Sequence[Element], *, provider: str, rejected: bool, locale: str = "en"
) -> Letter:
    """Tell the submitter which elements are missing (17 U.S.C. 512(c)(3)(B)(ii))."""
    _ = Words(locale)
    if rejected:
        head = _(
            "Notice #%(id)s cannot be acted on: it lacks elements without which the material cannot be "
            "identified or you cannot be reached.",
            id=notice.id,
        )
        subject = _("Notice #%(id)s rejected", id=notice.id)
    else:
        head = _(
            "Notice #%(id)s is incomplete. Please supply the following so that we can act on it:",
            id=notice.id,
        )
        subject = _("Notice #%(id)s is incomplete", id=notice.id)
    lines = [head, "", *element_lines(_, missing)]
    return Letter(
        _tag(provider) + subject,
        "\n".join(lines),
        {
            "event": "notice.rejected" if rejected else "notice.incomplete",
            "notice_id": notice.id,
            "missing_elements": [element.name for element in missing],
        },
    )


def decision(
    notice: Notice,
    counts: dict[str, int],
    *,
    provider: str,
    redress: str,
    automated: bool,
    locale: str = "en",
) -> Letter:
    """Tell the notifier the decision and the redress open to them (DSA Art. 16(5), 16(6))."""
    _ = Words(locale)
    lines = [
        _(
            "Decision on notice #%(id)s: %(status)s.",
            id=notice.id,
            status=status_label(_, notice.status.value),
        ),
        *(
            "  " + labelled(_, status_label(_, status), _.number(count))
            for status, count in sorted(counts.items())
        ),
        "",
        _("Automated means were used: yes (trusted notifier, no manual review)")
        if automated
        else _("Automated means were used: no"),
        "",
        _(redress),
    ]
    return Letter(
        _tag(provider) + _("Decision on notice #%(id)s", id=notice.id),
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
    locale: str = "en",
) -> Letter:
    """Forward the notice to the customer or the origin's host, with what of the complainant the
    regime lets that recipient have (``complainant_fields``) and the remedies the zone's service
    type offers."""
    _ = Words(locale)
    shown = complainant(notice, complainant_fields)
    values = {
        "provider": provider,
        "id": notice.id,
        "regime": rules_of(notice.regime).label,
        "hostname": hostname,
    }
    if to_host:
        head = _(
            "%(provider)s received notice #%(id)s (%(regime)s) about content served for %(hostname)s. You "
            "receive it as the hosting provider of the origin of this zone. The following URL(s) are now "
            "blocked on our network:",
            **values,
        )
    else:
        head = _(
            "%(provider)s received notice #%(id)s (%(regime)s) about content served for %(hostname)s. You "
            "receive it as the customer of this zone. The following URL(s) are now blocked on our network:",
            **values,
        )
    undescribed = _("(not described)")
    lines = [
        head,
        *(f"  {url}" for url in urls),
        "",
        _("Works said to be infringed:"),
        *(f"  - {work.get('description') or undescribed}" for work in notice.works),
        "",
        _("Complainant:"),
        *_complainant_lines(_, shown),
        "",
        _("Explanation given: %(explanation)s", explanation=notice.explanation or _("(none)")),
        "",
        _(redress),
    ]
    return Letter(
        _tag(provider) + _("Notice #%(id)s for %(hostname)s", id=notice.id, hostname=hostname),
        "\n".join(lines),
        {
            "event": "notice.forwarded",
            "notice_id": notice.id,
            "hostname": hostname,
            "urls": list(urls),
            "complainant": shown,
        },
    )


def overdue(notice: Notice, pending: int, *, provider: str, locale: str = "en") -> Letter:
    _ = Words(locale)
    return Letter(
        _tag(provider) + _("Notice #%(id)s is past its deadline", id=notice.id),
        _(
            "Notice #%(id)s was due by %(deadline)s and %(pending)s item(s) still wait for review.",
            id=notice.id,
            deadline=_.when(notice.deadline_at),
            pending=_.number(pending),
        ),
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
        f"{format_datetime(due_at, 'ja')} までに、同意しない旨の申出「理由を付して」がない場合は、"
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


def objection(
    notice: Notice, item_ids: Sequence[int], reasons: str, *, provider: str, locale: str = "en"
) -> Letter:
    """Tell the abuse desk the sender objected to removal: the items wait for an agent again."""
    _ = Words(locale)
    return Letter(
        _tag(provider) + _("Sender objected to removal under notice #%(id)s", id=notice.id),
        _(
            "The sender objected to the removal of %(count)s item(s) of notice #%(id)s with these reasons:",
            count=_.number(len(item_ids)),
            id=notice.id,
        )
        + f"\n\n{reasons}\n\n"
        + _("The items wait for review again."),
        {"event": "notice.inquiry_objected", "notice_id": notice.id, "item_ids": list(item_ids)[:1000]},
    )


def expired(notice: Notice, days: float, *, provider: str, locale: str = "en") -> Letter:
    """Tell the notifier its incomplete notice was closed because it was not completed in time."""
    _ = Words(locale)
    lines = [
        _(
            "Notice #%(id)s was not completed within %(days)s days and is now closed. It lacked:",
            id=notice.id,
            days=format(days, "g"),
        ),
        *(f"- {_(name)}" for name in notice.missing_elements),
        "",
        _("You may send a new, complete notice at any time."),
    ]
    return Letter(
        _tag(provider) + _("Notice #%(id)s closed: not completed", id=notice.id),
        "\n".join(lines),
        {"event": "notice.expired", "notice_id": notice.id, "missing_elements": notice.missing_elements},
    )
