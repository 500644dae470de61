"""The typed values the parsers exchange: what was read from a message, and what it amounts to.

A format module reads a :class:`MailView` (the message already decoded, bounded and flattened) and
returns a :class:`Parsed`: a notice draft, or the status the message gets and why. Nothing here
touches the database; the service turns a draft into a notice through the notices domain.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from staydown.types import Regime


class InboundFormat(enum.StrEnum):
    """How a message stated its notice."""

    acns = "acns"
    xarf = "xarf"
    csv = "csv"
    text = "text"
    unknown = "unknown"


class Outcome(enum.StrEnum):
    """What a message amounts to once read (the service adds ``duplicate``)."""

    notice = "notice"  # it becomes a notice, complete or not
    triage = "triage"  # a person must read it
    not_applicable = "not_applicable"  # nothing this service can act on (a P2P address, a bounce)
    refused = "refused"  # unreadable or over a limit; the reason says which


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class MailView:
    """A message as the parsers see it: decoded headers, text parts, attachments, and what was wrong."""

    from_name: str
    from_address: str
    reply_to: str
    subject: str
    message_id: str
    auto_submitted: bool  # an auto-reply or a bounce (RFC 3834): never answered
    texts: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    problems: tuple[str, ...] = ()  # charsets guessed, parts skipped, defects
    refusal: str | None = None  # set when the message cannot be read at all (too deep, too many parts)

    @property
    def body(self) -> str:
        return "\n\n".join(self.texts)


@dataclass(frozen=True, slots=True)
class Draft:
    """The elements of a notice as a message states them; absent ones are ``None`` or ``False``."""

    regime: Regime
    urls: tuple[str, ...]
    work_of_url: tuple[int | None, ...]
    works: tuple[str, ...] = ()
    name: str | None = None
    email: str | None = None
    address: str | None = None
    phone: str | None = None
    organization: str | None = None
    on_behalf_of: str | None = None
    explanation: str | None = None
    good_faith: bool = False
    accurate: bool = False
    authorized: bool = False
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a message amounts to: a notice draft, or an outcome with its reason."""

    format: InboundFormat
    outcome: Outcome
    reason: str | None = None
    draft: Draft | None = None
    external_id: str | None = None  # the sender's own id: ACNS Case ID, X-ARF report id
    skipped_urls: tuple[str, ...] = ()  # named, not valid URLs
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one message may hold; anything beyond is refused with the bound named."""

    max_depth: int = 4  # nested multiparts, attached messages and archives
    max_parts: int = 200
    max_urls: int = 100_000
    max_url_length: int = 8192
    max_xml_bytes: int = 2 * 1024 * 1024
    max_archive_members: int = 1000  # files in all the archives of one message
    max_archive_bytes: int = 32 * 1024 * 1024  # what those files expand to, together
    max_compression_ratio: int = 100  # expanded ÷ compressed size of one file (above 1 MiB)
