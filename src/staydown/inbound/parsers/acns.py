"""ACNS 2.x (Automated Copyright Notice System): the XML that large notice senders embed in their
letters, inline between ``----Start ACNS XML`` and ``----End ACNS XML`` or as an attachment, often
inside a PGP clearsigned block (once or, forwarded, twice: ``- - ---Start ACNS XML``).

The schema's structure (``Infringement`` → ``Case``, ``Complainant``, ``Source``, ``Content/Item``)
is required; the known quirks are accepted: a default namespace or none, timestamps such as
``2015-05-06T05-00-00UTC``, dash-escaped lines of a clearsigned message (at any depth), stray
whitespace. The XML is read with ``defusedxml``: a document type with entities or external
references is refused, and nothing is ever fetched.

A source that is a peer-to-peer address (an IP and a port in BitTorrent or another P2P network)
is nothing a CDN or host serves, so such a notice is ``not_applicable`` and the sender is told so.
A web source (its URL, URL_Base or the items' URLs) becomes a DMCA notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from staydown.inbound.parsers import wording
from staydown.inbound.parsers.base import Draft, InboundFormat, Limits, MailView, Outcome, Parsed

FORMAT = InboundFormat.acns


def _marker(line: str) -> str | None:
    """``start`` or ``end`` for an inline ACNS marker line, however often a clearsigning
    dash-escaped it (``----Start ACNS XML``, ``- ----Start ACNS XML``, ``- - ---Start ACNS XML``)."""
    head = line.lstrip("- \t")
    if "--" not in line[: len(line) - len(head)]:
        return None
    lowered = head[:16].lower()
    if lowered.startswith("start acns xml"):
        return "start"
    if lowered.startswith("end acns xml"):
        return "end"
    return None


def _inline(text: str) -> tuple[str, str | None]:
    """The letter before a text's start marker, and the lines between it and the end marker (to
    the text's end if that is lost); the whole text and None without a start marker."""
    if "acns xml" not in text.lower():
        return text, None
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if _marker(line) == "start":
            end = next((n for n in range(start + 1, len(lines)) if _marker(lines[n]) == "end"), len(lines))
            return "\n".join(lines[:start]), "\n".join(lines[start + 1 : end])
    return text, None


def _xml_texts(view: MailView) -> list[str]:
    found = []
    for attachment in view.attachments:
        name = attachment.filename.lower()
        if name.endswith(".xml") or attachment.content_type in ("text/xml", "application/xml"):
            found.append(attachment.data.decode("utf-8", errors="replace"))
    for text in view.texts:
        inline = _inline(text)[1]
        if inline is not None:
            found.append(inline)
    return [f for f in found if "infringement" in f.lower()]


def detect(view: MailView) -> bool:
    """Whether the message carries an ACNS document (inline markers or an XML attachment)."""
    return bool(_xml_texts(view))


def _undash(xml: str) -> str:
    """Undo a clearsigned message's dash-escaping (RFC 4880 7.1) and drop what is not XML."""
    lines = [line[_escaped(line) :] for line in xml.splitlines()]
    text = "\n".join(lines).strip()
    start = text.find("<")
    return text[start:] if start != -1 else text


def _escaped(line: str) -> int:
    """How many characters of dash-escaping (``- ``, once per clearsigning) begin ``line``."""
    cut = 0
    while line.startswith("- ", cut):
        cut += 2
    return cut


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for child in element:
        if isinstance(child.tag, str) and _local(child.tag) == name:
            return child
    return None


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and _local(c.tag) == name]


def _text(element: Element | None, name: str) -> str | None:
    child = _child(element, name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def parse_timestamp(value: str | None) -> datetime | None:
    """An ACNS timestamp, including the quirky spellings senders use (``2015-05-06T05-00-00UTC``)."""
    if not value:
        return None
    text = value.strip().upper().replace(" ", "T", 1)
    for suffix in ("UTC", "GMT", "Z"):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + "+00:00"
            break
    date, sep, time = text.partition("T")
    if sep:
        offset = ""
        for mark in ("+", "-"):
            cut = time.rfind(mark)
            if cut > 0 and time[cut + 1 : cut + 3].isdigit() and ":" in time[cut:]:
                time, offset = time[:cut], time[cut:]
                break
        time = time.replace("-", ":")
        text = f"{date}T{time}{offset}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse(view: MailView, limits: Limits) -> Parsed:
    """Read the message's ACNS document into a notice draft, or say why it cannot be one."""
    xml = _undash(_xml_texts(view)[0])
    if len(xml.encode()) > limits.max_xml_bytes:
        return Parsed(FORMAT, Outcome.refused, f"the ACNS document exceeds {limits.max_xml_bytes} bytes")
    try:
        root = fromstring(xml, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return Parsed(
            FORMAT,
            Outcome.refused,
            "the ACNS XML declares entities or external references, which are never read "
            f"({type(exc).__name__})",
        )
    except (ParseError, ValueError) as exc:
        return Parsed(FORMAT, Outcome.triage, f"the ACNS XML is not well-formed: {str(exc)[:200]}")
    if _local(root.tag) != "infringement":
        root_name = _local(root.tag)
        return Parsed(FORMAT, Outcome.triage, f"the ACNS root element is <{root_name}>, not <Infringement>")
    case = _child(root, "case")
    case_id = _text(case, "id")
    source = _child(root, "source")
    complainant = _child(root, "complainant")
    if case_id is None or source is None or complainant is None:
        parts = (("Case/ID", case_id), ("Source", source), ("Complainant", complainant))
        missing = [name for name, part in parts if part is None]
        return Parsed(FORMAT, Outcome.triage, f"the ACNS document lacks {', '.join(missing)}")
    items = _children(_child(root, "content"), "item")
    urls: list[str] = []
    work_of_url: list[int | None] = []
    works: list[str] = []
    for item in items:
        title = _text(item, "title") or _text(item, "filename")
        url = _text(item, "url")
        if title:
            works.append(title[:2000])
        if url:
            urls.append(url)
            work_of_url.append(len(works) - 1 if title else None)
    for name in ("url", "url_base"):
        url = _text(source, name)
        if url and url not in urls:
            urls.append(url)
            work_of_url.append(0 if works else None)
    source_type = " ".join(
        filter(
            None,
            [
                _text(source, "type"),
                *(
                    " ".join(str(v) for v in sub.attrib.values()) + " " + (sub.text or "")
                    for sub in _children(source, "subtype")
                ),
            ],
        )
    ).lower()
    source_type = " ".join(dict.fromkeys(source_type.split()))
    ip, port = _text(source, "ip_address"), _text(source, "port")
    observed = parse_timestamp(_text(source, "timestamp"))
    web = [u for u in urls if u.lower().startswith(("http://", "https://"))]
    if not web:
        where = f"{ip}:{port}" if ip and port else ip or "an address"
        network = source_type.strip() or "a peer-to-peer network"
        return Parsed(
            FORMAT,
            Outcome.not_applicable,
            f"the notice concerns {where} on {network}"
            + (f" at {observed.isoformat()}" if observed else "")
            + ": a peer-to-peer address is not content this service hosts or caches, so there is nothing "
            "here to remove; send it to the network that assigned the address",
            external_id=case_id[:200],
            details={"source_type": source_type, "ip": ip or "", "port": port or ""},
        )
    found = wording.find_urls("\n".join(web), limits)
    first = {url: n for n, url in reversed(list(enumerate(urls)))}  # each URL's first item, in one pass
    text = _letter_text(view)
    said = wording.statements(text)
    entity = _text(complainant, "entity")
    draft = Draft(
        regime=wording.regime_of_format("acns"),
        urls=found.valid,
        work_of_url=tuple(work_of_url[first[u]] if u in first else None for u in found.valid),
        works=tuple(works),
        name=_text(complainant, "contact") or entity,
        email=(_text(complainant, "email") or view.reply_to or view.from_address or None),
        address=_text(complainant, "address"),
        phone=_text(complainant, "phone"),
        organization=entity,
        on_behalf_of=entity,
        explanation=(text.strip()[:20_000] or None),
        good_faith=said.good_faith,
        accurate=said.accurate,
        authorized=said.authorized,
        signature=wording.signature_of(text) or _text(complainant, "contact") or entity,
    )
    return Parsed(
        FORMAT,
        Outcome.notice,
        None,
        draft=draft,
        external_id=case_id[:200],
        skipped_urls=found.skipped,
        details={"observed_at": observed.isoformat() if observed else ""},
    )


def _letter_text(view: MailView) -> str:
    """The letter around the XML: the statements and the signature are written there."""
    return "\n".join(_inline(text)[0] for text in view.texts)
