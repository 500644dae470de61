"""Pure presentation decisions of the desk: the SLA clock, what of a complainant a customer sees,
where the policy thresholds sit on the strike board, and how a form becomes a notice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from staydown.config import RepeatInfringerPolicy
from staydown.i18n import Message, _
from staydown.notices import service as notices
from staydown.notices.elements import ELEMENTS, Element, NoticeFacts, assess
from staydown.notices.flows import NoticeStatus
from staydown.types import Recipient, Regime
from staydown.wording import Words

OPEN_STATUSES = (NoticeStatus.received, NoticeStatus.accepted)


@dataclass(frozen=True, slots=True)
class Sla:
    """Where a notice stands against its action deadline."""

    overdue: bool
    open: bool
    seconds_left: float  # negative once overdue


def sla(*, status: NoticeStatus, deadline_at: datetime, decided_at: datetime | None, now: datetime) -> Sla:
    """The SLA clock: open notices count down to the deadline; decided ones record whether they met it."""
    if decided_at is not None:
        return Sla(decided_at > deadline_at, False, (deadline_at - decided_at).total_seconds())
    is_open = status in OPEN_STATUSES
    left = (deadline_at - now).total_seconds()
    return Sla(is_open and left < 0, is_open, left)


def complainant_for_customer(regime: Regime, submitter: dict[str, str | None]) -> dict[str, str]:
    """The complainant's details a customer may see under ``regime`` (the regime's personal-data
    table, as its letters apply it; empty values left out)."""
    fields = notices.shared_fields(
        regime,
        Recipient.customer,
        party="complainant",
        organisation=bool((submitter.get("organization") or "").strip()),
    )
    return {
        field: value
        for field in ("name", "organization", "on_behalf_of", "email", "address", "phone")
        if field in fields and (value := (submitter.get(field) or "").strip())
    }


@dataclass(frozen=True, slots=True)
class Threshold:
    label: Message
    strikes: int


def thresholds(policy: RepeatInfringerPolicy) -> list[Threshold]:
    """The policy's steps as strike counts, in the order they are reached."""
    steps = [
        Threshold(_("warning"), policy.warning_strikes),
        Threshold(
            _("suspension (%(days)s d)", days=policy.suspension.window_days), policy.suspension.strikes
        ),
        Threshold(
            _("termination (%(days)s d)", days=policy.termination.window_days), policy.termination.strikes
        ),
    ]
    return sorted(steps, key=lambda t: t.strikes)


# --- the notice form ---------------------------------------------------------------------------

MAX_FORM_URLS = 10_000


def form_urls(text: str) -> list[str]:
    """One URL per line; blank lines and surrounding spaces ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()]


class CsvError(ValueError):
    """A bulk-upload file that cannot be read; the message says where and why."""


def csv_urls(data: bytes) -> list[str]:
    """Read the URLs of a bulk-upload CSV: a ``url`` column (header optional) or the first column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError(_("the file is not UTF-8 text")) from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise CsvError(_("the file has no rows"))
    header = [cell.strip().lower() for cell in rows[0]]
    column = 0
    if "url" in header:
        column = header.index("url")
        rows = rows[1:]
    elif not header[0].startswith(("http://", "https://")):
        raise CsvError(_("the first row is neither a URL nor a header with a 'url' column"))
    urls = []
    for number, row in enumerate(rows, start=2 if "url" in header else 1):
        if column >= len(row) or not row[column].strip():
            raise CsvError(_("row %(number)s has no URL", number=number))
        urls.append(row[column].strip())
    if not urls:
        raise CsvError("the file lists no URLs")
    if len(urls) > MAX_FORM_URLS * 10:
        raise CsvError(
            _(
                "the file lists %(count)s URLs; upload at most %(limit)s at a time",
                count=len(urls),
                limit=MAX_FORM_URLS * 10,
            )
        )
    return urls


def notice_document(form: dict[str, str], urls: list[str]) -> dict[str, Any]:
    """Build the API's notice body from the desk form, so both enter through the same schema."""
    works_text = form.get("works", "").strip()
    references = form_urls(form.get("reference_urls", ""))
    return {
        "regime": form.get("regime", notices.DEFAULT_REGIME.value),
        "submitter": {
            field: form.get(field, "").strip() or None
            for field in ("name", "email", "address", "phone", "organization", "on_behalf_of")
        },
        "works": [{"description": works_text, "reference_urls": references}] if works_text else [],
        "items": [{"url": url, "work": 0 if works_text else None} for url in urls],
        "explanation": form.get("explanation", "").strip() or None,
        "statements": {
            "good_faith": form.get("good_faith") == "on",
            "accurate": form.get("accurate") == "on",
            "authorized": form.get("authorized") == "on",
        },
        "signature": form.get("signature", "").strip() or None,
    }


def missing_before_submit(form: dict[str, str], urls: list[str], locale: str = "en") -> list[dict[str, str]]:
    """Name the legal elements the form still lacks, with what to supply (in ``locale``), using the
    intake's own rules."""
    try:
        regime = Regime(form.get("regime", notices.DEFAULT_REGIME.value))
    except ValueError:
        regime = notices.DEFAULT_REGIME
    facts = NoticeFacts(
        signature=bool(form.get("signature", "").strip()),
        works_identified=bool(form.get("works", "").strip()),
        urls=bool(urls),
        name=bool(form.get("name", "").strip()),
        email=bool(form.get("email", "").strip()),
        address=bool(form.get("address", "").strip()),
        phone=bool(form.get("phone", "").strip()),
        explanation=bool(form.get("explanation", "").strip()),
        good_faith=form.get("good_faith") == "on",
        accurate=form.get("accurate") == "on",
        authorized=form.get("authorized") == "on",
    )
    assessment = assess(regime, facts)
    return explained(assessment.missing, locale)


def elements_of(regime: Regime, locale: str = "en") -> list[dict[str, str]]:
    """Every element ``regime`` requires, for the form's plain-words guide (in ``locale``)."""
    return explained(ELEMENTS[regime].values(), locale)


def explained(elements: Iterable[Element], locale: str) -> list[dict[str, str]]:
    """Each element's name and what it asks for, in the reader's language (the letters catalog)."""
    words = Words(locale)
    return [{"name": words(e.name), "explanation": words(e.explanation)} for e in elements]


# --- disclosure orders -------------------------------------------------------------------------

# The offsets offered beside a date-time field: whole hours from UTC-12 to UTC+14 and the
# half- and quarter-hour zones courts sit in (India, Iran, Nepal, South Australia, ...).
UTC_OFFSETS = tuple(
    sorted(
        {f"{'+' if h >= 0 else '-'}{abs(h):02d}:00" for h in range(-12, 15)}
        | {"-09:30", "-03:30", "+03:30", "+04:30", "+05:30", "+05:45", "+06:30", "+09:30", "+10:30"},
        key=lambda o: (1 if o[0] == "+" else -1) * (int(o[1:3]) * 60 + int(o[4:6])),
    )
)


def aware_time(local: str, offset: str) -> datetime | None:
    """A form's ``datetime-local`` value in the chosen UTC offset; None when the field is empty.

    Raise ``ValueError`` naming what is wrong, so the form can say it.
    """
    local = local.strip()
    if not local:
        return None
    if offset not in UTC_OFFSETS:
        raise ValueError(f"{offset!r} is not a UTC offset (e.g. +09:00)")
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        raise ValueError(f"{local!r} is not a date and time (e.g. 2026-12-01T17:00)") from None
    if naive.tzinfo is not None:
        raise ValueError(f"{local!r} carries its own offset; choose it in the offset field")
    return datetime.fromisoformat(f"{naive.isoformat(timespec='seconds')}{offset}")


def text_blocks(text: str) -> list[tuple[str, Any]]:
    """The published policy's text (headings ``#``/``##``, numbered and bulleted lists, paragraphs)
    as blocks a template renders as HTML: ("h1"|"h2"|"p", text) or ("ol"|"ul", [items])."""
    blocks: list[tuple[str, Any]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("## "):
            blocks.append(("h2", stripped[3:]))
        elif stripped.startswith("# "):
            blocks.append(("h1", stripped[2:]))
        elif stripped.startswith(("- ", "* ")) or _numbered(stripped):
            kind = "ul" if stripped.startswith(("- ", "* ")) else "ol"
            item = stripped[2:] if kind == "ul" else stripped.split(". ", 1)[1]
            if blocks and blocks[-1][0] == kind:
                blocks[-1][1].append(item)
            else:
                blocks.append((kind, [item]))
        else:
            blocks.append(("p", stripped))
    return blocks


def _numbered(line: str) -> bool:
    number, dot, rest = line.partition(". ")
    return bool(dot) and number.isdigit() and bool(rest)
