"""X-ARF v4: abuse reports as a JSON document (a ``.json`` attachment or the whole body), of which
this service reads the ``copyright`` category.

The fields used: ``xarf_version`` (4.x), ``report_id``, ``category``, ``type``, ``reporter``
(``org``, ``contact``, ``domain``), ``source_identifier``, and the infringing location in
``url``, ``infringing_url`` or the list ``infringing_urls``; ``work_title`` or ``title`` and
``rights_holder`` name the work and its owner. A copyright report of a peer-to-peer address (no
URL) is ``not_applicable``; other categories (spam, phishing, …) are for another desk: ``triage``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from staydown.inbound.parsers import wording
from staydown.inbound.parsers.base import Draft, InboundFormat, Limits, MailView, Outcome, Parsed

FORMAT = InboundFormat.xarf
_MAX_JSON = 4 * 1024 * 1024


def _document(view: MailView) -> dict[str, Any] | None:
    candidates = [
        a.data
        for a in view.attachments
        if a.content_type == "application/json" or a.filename.lower().endswith(".json")
    ]
    candidates += [t.encode() for t in view.texts if t.lstrip().startswith("{")]
    for data in candidates:
        if len(data) > _MAX_JSON:
            continue
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            continue
        if isinstance(document, dict) and str(document.get("xarf_version", "")).startswith("4"):
            return document
    return None


def detect(view: MailView) -> bool:
    """Whether the message carries an X-ARF v4 report."""
    return _document(view) is not None


def _str(value: object) -> str | None:
    return str(value).strip()[:2000] or None if isinstance(value, str | int | float) else None


def parse(view: MailView, limits: Limits) -> Parsed:
    """Read the X-ARF report into a notice draft, or say why it is not one."""
    document = _document(view)
    assert document is not None
    report_id = _str(document.get("report_id"))
    category = (_str(document.get("category")) or "").lower()
    if category != "copyright":
        return Parsed(
            FORMAT,
            Outcome.triage,
            f"an X-ARF report of category {category or '(none)'!r}: this intake takes copyright reports",
            external_id=report_id,
        )
    named: dict[str, None] = {}  # distinct, in order, in one pass however many there are
    for key in ("url", "infringing_url", "infringing_urls", "urls"):
        value = document.get(key)
        for url in value if isinstance(value, list) else [value]:
            if isinstance(url, str):
                named[url] = None
    urls = list(named)
    found = wording.find_urls("\n".join(urls), limits)
    if not found.valid and not urls:
        source = _str(document.get("source_identifier")) or "an address"
        return Parsed(
            FORMAT,
            Outcome.not_applicable,
            f"the report names {source} and no URL: an address on a peer-to-peer network is not content "
            "this service hosts or caches",
            external_id=report_id,
        )
    if found.over_limit:
        return Parsed(FORMAT, Outcome.refused, f"the report names more than {limits.max_urls} URLs")
    reporter = document.get("reporter") if isinstance(document.get("reporter"), dict) else {}
    assert isinstance(reporter, dict)
    work = _str(document.get("work_title")) or _str(document.get("title"))
    holder = _str(document.get("rights_holder"))
    letter = view.body
    said = wording.statements(letter)
    description = _str(document.get("description")) or _str(document.get("evidence_source"))
    draft = Draft(
        regime=wording.regime_of(letter),
        urls=found.valid,
        work_of_url=tuple(0 if work else None for _ in found.valid),
        works=(work,) if work else (),
        name=_str(reporter.get("contact")) or _str(reporter.get("org")) or view.from_name or None,
        email=_str(reporter.get("contact")) if "@" in (_str(reporter.get("contact")) or "") else None,
        organization=_str(reporter.get("org")),
        on_behalf_of=holder,
        explanation=(letter.strip()[:20_000] or description),
        good_faith=said.good_faith,
        accurate=said.accurate,
        authorized=said.authorized,
        signature=wording.signature_of(letter),
    )
    if draft.email is None:
        draft = replace(draft, email=view.reply_to or view.from_address or None)
    return Parsed(
        FORMAT, Outcome.notice, None, draft=draft, external_id=report_id, skipped_urls=found.skipped
    )
