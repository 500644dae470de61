"""The words of the answers a sender of a message gets: a receipt naming its own reference (ACNS
Case ID, X-ARF report id or Message-ID) and, when no notice came of it, why; in the sender's
language (``locale``; see ``staydown.wording``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staydown.inbound.models import InboundMessage, InboundStatus
from staydown.notices.messages import status_label
from staydown.wording import Words
from staydown.wording import mark as _


@dataclass(frozen=True, slots=True)
class Answer:
    subject: str
    body: str
    payload: dict[str, Any]


def reference(message: InboundMessage, locale: str = "en") -> str:
    """How the sender knows the message: its own case or report id, else its Message-ID."""
    _ = Words(locale)
    if message.external_id:
        if message.format and message.format.value == "acns":
            return _("ACNS Case ID %(id)s", id=message.external_id)
        return _("report id %(id)s", id=message.external_id)
    if message.message_id:
        return _("your message %(id)s", id=message.message_id)
    return _("your message received %(at)s", at=_.when(message.received_at))


_EXPLAINED = {
    InboundStatus.notice: _("It was recorded as notice #%(notice_id)s (status: %(notice_status)s)."),
    InboundStatus.triage: _(
        "It could not be read automatically and has been passed to a person: %(reason)s."
    ),
    InboundStatus.not_applicable: _("No action can be taken on it: %(reason)s."),
    InboundStatus.duplicate: _("It repeats a message already received: %(reason)s."),
    InboundStatus.refused: _("It could not be accepted: %(reason)s."),
}


def receipt(
    message: InboundMessage, *, provider: str, notice_status: str | None = None, locale: str = "en"
) -> Answer:
    """Confirm receipt of a message (DSA Art. 16(4)) and say what became of it."""
    _ = Words(locale)
    ref = reference(message, locale)
    lines = [
        _(
            "%(provider)s received %(ref)s (our reference: inbound message #%(id)s) at %(at)s.",
            provider=provider,
            ref=ref,
            id=message.id,
            at=_.when(message.received_at),
        ),
        _(
            _EXPLAINED[message.status],
            notice_id=message.notice_id,
            notice_status=status_label(_, notice_status) if notice_status else "",
            reason=(message.reason or "").rstrip("."),
        ),
    ]
    skipped = message.extracted.get("skipped_urls") or []
    if skipped:
        lines += ["", _("%(count)s URL(s) could not be read and were left out:", count=len(skipped))]
        lines += [f"- {url}" for url in skipped[:20]]
    subject = message.subject or _("your message")
    return Answer(
        f"[{provider}] Re: {subject[:200]} [{ref}]",
        "\n".join(lines),
        {
            "event": f"inbound.{message.status.value}",
            "inbound_id": message.id,
            "status": message.status.value,
            "notice_id": message.notice_id,
            "external_id": message.external_id,
            "in_reply_to": message.message_id,
        },
    )


def answered(message: InboundMessage, text: str, *, provider: str) -> Answer:
    """An agent's answer to a message that became no notice (in the agent's own words)."""
    subject = message.subject or "your message"
    return Answer(
        f"[{provider}] Re: {subject[:200]} [{reference(message)}]",
        text,
        {"event": "inbound.answered", "inbound_id": message.id, "in_reply_to": message.message_id},
    )
