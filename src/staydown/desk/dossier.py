"""The desk's dossier page: what the provider knows of a customer, a timeline chart, the
serial-infringer reviews to decide and the links to review."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from staydown.accounts import service as accounts
from staydown.desk import labels
from staydown.desk.service import DeskError
from staydown.desk.web import (
    PREFIX,
    DeskRoute,
    Staff,
    StaffOrLegal,
    csrf_protect,
    database_of,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.i18n import _
from staydown.serial import service as serial
from staydown.serial.chart import timeline_chart
from staydown.serial.models import ReviewDecision

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


@router.get("/customers/{customer_id}/dossier", include_in_schema=False)
def dossier(request: Request, customer_id: int, who: StaffOrLegal) -> Response:
    now = now_of(request)
    with database_of(request).reader() as session:
        customer = accounts.get_customer(session, customer_id)
        if customer is None:
            raise DeskError(404, _("customer %(customer_id)s does not exist", customer_id=customer_id))
        found = serial.build_dossier(session, customer, as_of=now)
    # An image, not inline SVG: the desk's CSP (style-src 'self') would strip the chart's styles.
    svg = timeline_chart(found.timeline, found.events, as_of=now).encode()
    chart = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    chart_text = "; ".join(
        f"{e.at:%Y-%m-%d} {e.kind.split('.', 1)[-1].replace('_', ' ')}" for e in found.events
    )
    return render(
        request,
        "dossier.html",
        {
            "title": _("Dossier of %(name)s", name=found.name),
            "d": found,
            "chart": chart,
            "chart_text": chart_text,
            "can_decide": who.role.value in ("agent", "admin"),
            "decisions": list(ReviewDecision),
        },
    )


@router.post("/serial-reviews/{review_id}/decision", include_in_schema=False)
def decide(
    request: Request,
    review_id: int,
    who: Staff,
    decision: Annotated[ReviewDecision, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Decide a serial-infringer review, as ``POST /v1/serial-reviews/{id}/decision``."""
    if not reason.strip():
        raise DeskError(422, _("give the reasons for the decision"))
    with database_of(request).writer() as session:
        review = serial.get_review(session, review_id)
        if review is None:
            raise DeskError(404, _("review %(review_id)s does not exist", review_id=review_id))
        try:
            serial.decide(
                session,
                review,
                decision,
                reason=reason.strip(),
                now=now_of(request),
                actor=who.actor,
                settings=settings_of(request),
            )
        except serial.SerialError as exc:
            raise DeskError(exc.status, exc.message) from exc
        customer_id = review.customer_id
        session.commit()
    return redirect(
        request,
        f"{PREFIX}/customers/{customer_id}/dossier",
        _("Review decided: %(decision)s.", decision=labels.LABELS[decision.value]),
    )


@router.post("/customer-links/{link_id}/review", include_in_schema=False)
def review_link(
    request: Request,
    link_id: int,
    who: Staff,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Clear or confirm a link to a suspended or terminated customer."""
    if decision not in ("clear", "confirm") or not reason.strip():
        raise DeskError(422, _("choose clear or confirm, and give the reasons"))
    with database_of(request).writer() as session:
        try:
            link = serial.review_link(
                session,
                link_id,
                decision=decision,
                reason=reason.strip(),
                now=now_of(request),
                actor=who.actor,
                settings=settings_of(request),
            )
        except serial.SerialError as exc:
            raise DeskError(exc.status, exc.message) from exc
        customer_id = link.customer_id
        session.commit()
    return redirect(
        request,
        f"{PREFIX}/customers/{customer_id}/dossier",
        _("Link cleared.") if decision == "clear" else _("Link confirmed."),
    )
