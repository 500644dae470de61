"""A CSV attachment of URLs, with the letter in the message's text: the way rightsholders send
long lists. The URL column is the one headed ``url`` (or ``infringing_url``, ``location``, ``URL``),
else every cell that is an http(s) URL; a ``title`` or ``work`` column names each row's work. The
statements, the complainant and the signature are read from the letter as for a plain one.
"""

from __future__ import annotations

import csv
import io

from staydown.inbound.parsers import wording
from staydown.inbound.parsers.base import Draft, InboundFormat, Limits, MailView, Outcome, Parsed
from staydown.inbound.parsers.message import decode_text

FORMAT = InboundFormat.csv
_TYPES = ("text/csv", "text/tab-separated-values")
_URL_HEADS = ("url", "urls", "infringing_url", "infringing url", "location", "link", "侵害url", "url(侵害)")
_WORK_HEADS = ("title", "work", "work_title", "作品名", "著作物")


def _tables(view: MailView) -> list[str]:
    tables = []
    for attachment in view.attachments:
        name = attachment.filename.lower()
        if name.endswith((".csv", ".tsv")) or attachment.content_type in _TYPES:
            tables.append(decode_text(attachment.data, None, []))
    return tables


def detect(view: MailView) -> bool:
    """Whether the message carries a CSV attachment."""
    return bool(_tables(view))


def _rows(table: str) -> list[list[str]]:
    sample = table[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    return list(csv.reader(io.StringIO(table), delimiter=delimiter))


def parse(view: MailView, limits: Limits) -> Parsed:
    """Read the URLs of the CSV attachments and the letter around them into a notice draft."""
    urls: list[str] = []
    work_names: list[str | None] = []
    for table in _tables(view):
        try:
            rows = _rows(table)
        except csv.Error as exc:
            return Parsed(FORMAT, Outcome.triage, f"the CSV attachment cannot be read: {exc}")
        if not rows:
            continue
        head = [wording.normalise(cell) for cell in rows[0]]
        url_column = next((i for i, h in enumerate(head) if h in _URL_HEADS), None)
        work_column = next((i for i, h in enumerate(head) if h in _WORK_HEADS), None)
        body = rows[1:] if url_column is not None else rows
        for row in body:
            cells = [row[url_column]] if url_column is not None and url_column < len(row) else row
            work = row[work_column].strip() if work_column is not None and work_column < len(row) else None
            for cell in cells:
                value = cell.strip()
                if value.lower().startswith(("http://", "https://", "hxxp://", "hxxps://")):
                    urls.append(value)
                    work_names.append(work or None)
            if len(urls) > limits.max_urls:
                return Parsed(FORMAT, Outcome.refused, f"the CSV names more than {limits.max_urls} URLs")
    found = wording.find_urls("\n".join(urls), limits)
    if not found.valid:
        return Parsed(
            FORMAT,
            Outcome.triage,
            "the CSV attachment names no valid http(s) URL",
            skipped_urls=found.skipped,
        )
    works: list[str] = []
    index_of: dict[str, int] = {}
    for name in work_names:
        if name and name not in index_of and len(works) < 10_000:
            index_of[name] = len(works)
            works.append(name[:2000])
    work_by_url = dict(zip(urls, work_names, strict=True))
    letter = view.body
    named = wording.works_of(letter)
    if not works and named:
        works = list(named)
    said = wording.statements(letter)
    who = wording.contact(view, letter)
    draft = Draft(
        regime=wording.regime_of(letter),
        urls=found.valid,
        work_of_url=tuple(
            index_of.get(work_by_url.get(url) or "", 0 if works else None) if works else None
            for url in found.valid
        ),
        works=tuple(works),
        name=who["name"],
        email=who["email"],
        address=who["address"],
        phone=who["phone"],
        organization=who["organization"],
        on_behalf_of=who["on_behalf_of"],
        explanation=letter.strip()[:20_000] or None,
        good_faith=said.good_faith,
        accurate=said.accurate,
        authorized=said.authorized,
        signature=wording.signature_of(letter),
    )
    return Parsed(FORMAT, Outcome.notice, None, draft=draft, skipped_urls=found.skipped)
