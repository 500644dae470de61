"""The disclosure package as a PDF for the court or authority (reportlab).

The PDF shows the same data as the JSON package, with its SHA-256, so the two can be checked
against each other. It is built with reportlab's invariant mode: the same package gives the same
bytes. Text outside Latin-1 (a Japanese name or address) is set in a CID font that every PDF
reader has, so nothing has to be embedded.
"""

from __future__ import annotations

import io
import json
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from staydown.disclosure.schemas import DisclosurePackage

_CJK_FONT = "HeiseiKakuGo-W5"
pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=1)
    return str(value)


def _paragraph(value: Any, style: ParagraphStyle) -> Paragraph:
    text = _text(value)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        style = ParagraphStyle(f"{style.name}-cjk", parent=style, fontName=_CJK_FONT)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows: list[tuple[str, Any]], styles: Any) -> Table:
    body = styles["BodyText"]
    label = ParagraphStyle("label", parent=body, fontName="Helvetica-Bold")
    table = Table(
        [[_paragraph(key, label), _paragraph(value, body)] for key, value in rows],
        colWidths=[45 * mm, 125 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
    )
    return table


def render_pdf(package: DisclosurePackage) -> bytes:
    """Render the package as PDF bytes."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    order = package.order
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Disclosure package — order {order['id']} ({order['case_number']})",
        author=package.provider,
        invariant=True,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    flow: list[Any] = [
        Paragraph(f"Disclosure package — {escape(package.provider)}", styles["Title"]),
        _paragraph(
            "Confidential. Produced in answer to the order below; it holds only the information the "
            "decision released.",
            ParagraphStyle("note", parent=styles["BodyText"], fontName="Helvetica-Oblique"),
        ),
        Spacer(1, 6 * mm),
        Paragraph("Order", styles["Heading2"]),
        _table([(key.replace("_", " "), value) for key, value in order.items()], styles),
        Spacer(1, 4 * mm),
        Paragraph("Decision", styles["Heading2"]),
        _table([(key.replace("_", " "), value) for key, value in package.decision.items()], styles),
        Spacer(1, 4 * mm),
        Paragraph(f"Identity data of customer {package.customer_id}", styles["Heading2"]),
        _table([(key.replace("_", " "), value) for key, value in package.identity.items()], styles),
        Spacer(1, 4 * mm),
    ]
    if package.notice is not None:
        notice = {**package.notice, "material": "\n".join(package.notice["material"][:50])}
        flow += [
            Paragraph(f"Notice {package.notice['id']} the subpoena rests on", styles["Heading2"]),
            _table([(key.replace("_", " "), value) for key, value in notice.items()], styles),
            Spacer(1, 4 * mm),
        ]
    flow += [
        _table(
            [
                ("withheld", ", ".join(package.withheld) or "nothing"),
                ("generated at", package.generated_at.isoformat()),
                ("package SHA-256", package.sha256),
            ],
            styles,
        ),
    ]
    document.build(flow)
    return buffer.getvalue()
