"""The words of the answers a sender of a message gets: a receipt naming its own reference (ACNS
Case ID, X-ARF report id or Message-ID) and, when no notice came of it, why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staydown.inbound.models import InboundMessage, InboundStatus


@dataclass(frozen=True, slots=True)
class Answer:
    subject: str
    body: str
    payload: dict[str, Any]


def reference(message: InboundMessage) -> str:
    """How the sender knows the message: its own case or report id, else its Message-ID."""
    if message.external_id:
        label = "ACNS Case ID" if message.format and message.format.value == "acns" else "report id"
        return f"{label} {message.external_id}"
    if message.message_id:
        return f"your message {message.message_id}"
    return f"your message received {message.received_at.isoformat()}"


_EXPLAINED = {
    InboundStatus.notice: "It was recorded as notice #{notice_id} (status: {notice_status}).",
    InboundStatus.triage: "It could not be read automatically and has been passed to a person: {reason}.",
    InboundStatus.not_applicable: "No action can be taken on it: {reason}.",
    InboundStatus.duplicate: "It repeats a message already received: {reason}.",
    InboundStatus.refused: "It could not be accepted: {reason}.",
}


def receipt(message: InboundMessage, *, provider: str, notice_status: str | None = None) -> Answer:
    """Confirm receipt of a message (DSA Art. 16(4)) and say what became of it."""
    ref = reference(message)
    lines = [
        f"{provider} received {ref} (our reference: inbound message #{message.id}) at "
        f"{message.received_at.isoformat()}.",
        _EXPLAINED[message.status].format(
            notice_id=message.notice_id,
            notice_status=notice_status,
            reason=(message.reason or "").rstrip("."),
        ),
    ]
    skipped = message.extracted.get("skipped_urls") or []
    if skipped:
        lines += ["", f"{len(skipped)} URL(s) could not be read and were left out:"]
        lines += [f"- {url}" for url in skipped[:20]]
    subject = message.subject or "your message"
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
    """An agent's answer to a message that became no notice."""
    subject = message.subject or "your message"
    return Answer(
        f"[{provider}] Re: {subject[:200]} [{reference(message)}]",
        text,
        {"event": "inbound.answered", "inbound_id": message.id, "in_reply_to": message.message_id},
    )
