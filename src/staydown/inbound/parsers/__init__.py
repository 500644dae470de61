"""The pure pipeline from a raw message to what it amounts to: ``classify(raw) -> Parsed``.

Each format is one module declaring everything about it (``FORMAT``, ``detect``, ``parse``); the
first whose ``detect`` holds reads the message, in the order below (the most specific first). A
message no format reads, or one that cannot be read at all, still gets an outcome and a reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from staydown.inbound.parsers import acns, archives, csv, message, text, xarf
from staydown.inbound.parsers.base import (
    Attachment,
    Draft,
    InboundFormat,
    Limits,
    MailView,
    Outcome,
    Parsed,
)

__all__ = [
    "FORMATS",
    "Attachment",
    "Draft",
    "InboundFormat",
    "Limits",
    "MailView",
    "Outcome",
    "Parsed",
    "classify",
]


class Format(Protocol):
    FORMAT: InboundFormat

    def detect(self, view: MailView) -> bool: ...

    def parse(self, view: MailView, limits: Limits) -> Parsed: ...


FORMATS: tuple[Format, ...] = (acns, xarf, csv, text)


def classify(raw: bytes, limits: Limits | None = None) -> tuple[MailView, Parsed]:
    """Read ``raw`` and return its view and what it amounts to. Pure; never raises on bad input."""
    limits = limits or Limits()
    view = message.read(raw, limits)
    if view.refusal is not None:
        return view, Parsed(InboundFormat.unknown, Outcome.refused, view.refusal)
    if view.auto_submitted:
        return view, Parsed(
            InboundFormat.unknown,
            Outcome.not_applicable,
            "an automatic reply or delivery report (RFC 3834): recorded, not answered",
        )
    # The archives still attached are those that could not be opened; the problems say why.
    unopened_names = [a.filename for a in view.attachments if archives.is_archive_name(a.filename)]
    unopened = f"archives could not be opened ({', '.join(unopened_names[:5])})" if unopened_names else ""
    for module in FORMATS:
        if module.detect(view):
            parsed = module.parse(view, limits)
            if unopened and parsed.outcome is Outcome.triage:
                parsed = replace(parsed, reason=f"{parsed.reason}; {unopened}")
            return view, parsed
    if unopened_names:
        reason = f"{unopened}; a person will read the message"
    elif view.attachments:
        reason = "the message holds only attachments no format reads; a person will read it"
    else:
        reason = "the message is empty"
    return view, Parsed(InboundFormat.unknown, Outcome.triage, reason)
