"""Notices in the Lumen archive's format, with personal data of private individuals redacted.

Fields follow Lumen's notice fields (LEGAL.md): ``type``, ``title``, ``date_sent``,
``date_received``, ``sender_name``, ``principal_name``, ``recipient_name``, ``works`` (each with
``description``, ``copyrighted_urls`` and ``infringing_urls``), ``action_taken``,
``jurisdictions`` and ``language``; ``sender_address``, ``sender_email`` and ``sender_phone``
carry the sender's contact details where they may be published.

Redaction rule: a notice whose submitter named no organisation comes from a private individual,
so the sender's name, e-mail, phone and address are replaced by ``[REDACTED]`` (a field that was
empty stays empty). A submitter that named an organisation speaks for it: the organisation is the
sender; its contact details are published only where the regime's personal-data table lets Lumen
have them (none does: an organisation's contacts are a person's mailbox and telephone). The
principal (``on_behalf_of``, the rightsholder) is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from staydown.notices import service as notices
from staydown.reports.queries import LumenRow
from staydown.types import Recipient

REDACTED = "[REDACTED]"
ActionTaken = Literal["Yes", "No", "Partial", "Unspecified"]

_ACTIONED = {"actioned", "counter_noticed", "restored"}
_UNDECIDED = {"pending_review"}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


class LumenUrl(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


class LumenWork(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    copyrighted_urls: list[LumenUrl]
    infringing_urls: list[LumenUrl]


class LumenNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    title: str
    date_sent: datetime | None
    date_received: datetime
    sender_name: str | None
    sender_address: str | None
    sender_email: str | None
    sender_phone: str | None
    principal_name: str | None
    recipient_name: str
    works: list[LumenWork]
    action_taken: ActionTaken
    jurisdictions: list[str]
    language: str


class LumenExport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notices: list[LumenNotice]


def is_private_individual(organization: str | None) -> bool:
    """A submitter that named no organisation is a private individual."""
    return not (organization or "").strip()


def _redact(value: str | None) -> str | None:
    return REDACTED if value else value


def action_taken(statuses: Iterable[str]) -> ActionTaken:
    """``Yes`` when every URL on the network was actioned, ``Partial`` for some, ``No`` for none."""
    on_network = [s for s in statuses if s != "not_on_network"]
    if not on_network:
        return "No"
    if any(s in _UNDECIDED for s in on_network):
        return "Unspecified"
    actioned = sum(1 for s in on_network if s in _ACTIONED)
    if actioned == len(on_network):
        return "Yes"
    return "Partial" if actioned else "No"


def _language(row: LumenRow) -> str:
    text = " ".join([row.explanation or "", *(str(w.get("description") or "") for w in row.works)])
    return "ja" if _JAPANESE.search(text) else "en"


def to_lumen(row: LumenRow, *, recipient: str) -> LumenNotice:
    """Turn one notice into a Lumen notice, applying the redaction rule."""
    private = is_private_individual(row.submitter_organization)
    sender = row.submitter_organization if not private else _redact(row.submitter_name)
    rules = notices.regime_rules(row.regime)
    shared = rules.shared(Recipient.lumen, party="complainant", organisation=not private)

    def contact(field: str, value: str | None) -> str | None:
        return value if field in shared else _redact(value)

    works: list[LumenWork] = []
    for index, work in enumerate(row.works or [{}]):
        works.append(
            LumenWork(
                description=str(work.get("description") or ""),
                copyrighted_urls=[LumenUrl(url=u) for u in work.get("reference_urls") or []],
                infringing_urls=[
                    LumenUrl(url=url) for w, url, _s in row.items if (w if w is not None else 0) == index
                ],
            )
        )
    return LumenNotice(
        id=f"staydown-notice-{row.id}",
        type=rules.lumen_type,
        title=f"{rules.label} notice to {recipient}",
        date_sent=None,  # when the sender sent it is not known to us; date_received is
        date_received=row.received_at,
        sender_name=sender,
        sender_address=contact("address", row.submitter_address),
        sender_email=contact("email", row.submitter_email),
        sender_phone=contact("phone", row.submitter_phone),
        principal_name=row.on_behalf_of,
        recipient_name=recipient,
        works=works,
        action_taken=action_taken(s for _w, _u, s in row.items),
        jurisdictions=list(rules.jurisdictions),
        language=_language(row),
    )


def parse(document: str | bytes) -> LumenExport:
    """Read an export back (strictly: unknown fields are an error)."""
    return LumenExport.model_validate_json(document)
