"""Contesting a decision from the desk: a customer's counter-notice (17 U.S.C. 512(g)(3)) and the
internal complaint (DSA Art. 20) of a customer or a notifier.

Both go through ``due_process``'s service, as ``POST /v1/counter-notices`` and
``POST /v1/complaints`` do: the same checks, forwarding, timers and audit entries.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.engine import Row

from staydown.accounts import service as accounts
from staydown.desk import labels, queries
from staydown.desk.agent import visible_notice
from staydown.desk.service import DeskError, DeskPrincipal
from staydown.desk.web import (
    PREFIX,
    AnyDesk,
    CustomerRole,
    DeskRoute,
    csrf_protect,
    database_of,
    form_ids,
    now_of,
    redirect,
    render,
    settings_of,
)
from staydown.due_process import service as due_process
from staydown.due_process.flows import Complainant
from staydown.due_process.schemas import ComplaintCreate, CounterNoticeCreate
from staydown.i18n import _
from staydown.notices import service as notices
from staydown.notices.flows import ItemStatus
from staydown.types import Role

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])

MAX_LISTED = 500
# What each party may complain about: a customer about restrictions, a notifier about refusals.
_CONTESTABLE = {
    Complainant.customer: (ItemStatus.actioned, ItemStatus.counter_noticed),
    Complainant.notifier: (ItemStatus.rejected,),
}


def _complainant(who: DeskPrincipal) -> Complainant:
    if who.role is Role.customer:
        return Complainant.customer
    if who.role is Role.submitter:
        return Complainant.notifier
    raise DeskError(403, _("complaints are lodged by the customer or the notifier concerned"))


def _items(
    request: Request, who: DeskPrincipal, notice_id: int, statuses: tuple[ItemStatus, ...]
) -> list[Row[Any]]:
    customer_id = who.customer_id if who.role is Role.customer else None
    with database_of(request).reader() as session:
        notice = visible_notice(session, notice_id, who)
        rows = [
            row
            for status in statuses
            for row in queries.item_page(
                session, notice.id, customer_id=customer_id, status=status, offset=0, limit=MAX_LISTED
            )
        ]
        request.state.notice = notice
    return rows


@router.get("/notices/{notice_id}/counter-notice", include_in_schema=False)
def counter_notice_form(request: Request, notice_id: int, who: CustomerRole) -> Response:
    items = _items(request, who, notice_id, (ItemStatus.actioned,))
    notice = request.state.notice
    if not notices.regime_rules(notice.regime).counter_notice:
        raise DeskError(
            422,
            _(
                "counter-notices do not answer %(regime)s notices; "
                "contest this notice with an internal complaint",
                regime=notices.regime_rules(notice.regime).label,
            ),
        )
    with database_of(request).reader() as session:
        customer = accounts.get_customer(session, who.customer_id or 0)
    return render(
        request,
        "counter_notice.html",
        {
            "notice": notice,
            "items": items,
            "customer": customer,
            "title": _("Counter-notice to notice %(notice_id)s", notice_id=notice_id),
        },
    )


@router.post("/notices/{notice_id}/counter-notice", include_in_schema=False)
def file_counter_notice(
    request: Request,
    notice_id: int,
    who: CustomerRole,
    item: Annotated[list[str] | None, Form()] = None,
    name: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
    good_faith_mistake: Annotated[str, Form()] = "",
    consent_to_jurisdiction: Annotated[str, Form()] = "",
    accept_service: Annotated[str, Form()] = "",
    signature: Annotated[str, Form()] = "",
) -> Response:
    ids = form_ids(item or [])
    if not ids:
        raise DeskError(422, _("tick the blocked items this counter-notice is about"))
    try:
        data = CounterNoticeCreate(
            notice_id=notice_id,
            items=ids,
            name=name or None,
            address=address or None,
            phone=phone or None,
            email=email or None,
            explanation=explanation or None,
            statements={
                "good_faith_mistake": good_faith_mistake == "on",
                "consent_to_jurisdiction": consent_to_jurisdiction == "on",
                "accept_service": accept_service == "on",
            },
            signature=signature or None,
        )
    except ValidationError as exc:
        raise DeskError(422, "; ".join(e["msg"] for e in exc.errors())) from None
    with database_of(request).writer() as session:
        counter = due_process.file_counter_notice(
            session,
            data,
            customer_id=who.customer_id,
            key_id=who.key_id,
            actor=who.actor,
            now=now_of(request),
            settings=settings_of(request),
            channel="desk",
        )
        session.commit()
        read = due_process.counter_notice_read(session, counter)
    if read.missing_elements:
        message = _(
            "Counter-notice %(id)s received, but it lacks: %(missing)s",
            id=read.id,
            missing="; ".join(read.missing_elements),
        )
    elif read.restore_at is not None:
        message = _(
            "Counter-notice %(id)s received and forwarded to the complainant; the material is restored "
            "on %(day)s unless they report a court action.",
            id=read.id,
            day=read.restore_at.date(),
        )
    else:
        message = _(
            "Counter-notice %(id)s received (%(status)s).",
            id=read.id,
            status=labels.LABELS[read.status.value],
        )
    return redirect(request, f"{PREFIX}/notices/{notice_id}", message)


@router.get("/notices/{notice_id}/complaint", include_in_schema=False)
def complaint_form(request: Request, notice_id: int, who: AnyDesk) -> Response:
    complainant = _complainant(who)
    items = _items(request, who, notice_id, _CONTESTABLE[complainant])
    return render(
        request,
        "complaint.html",
        {
            "notice": request.state.notice,
            "items": items,
            "complainant": complainant.value,
            "title": _("Complaint about notice %(notice_id)s", notice_id=notice_id),
        },
    )


@router.post("/notices/{notice_id}/complaint", include_in_schema=False)
def file_complaint(
    request: Request,
    notice_id: int,
    who: AnyDesk,
    item: Annotated[list[str] | None, Form()] = None,
    explanation: Annotated[str, Form()] = "",
) -> Response:
    complainant = _complainant(who)
    ids = form_ids(item or [])
    if not ids or not explanation.strip():
        raise DeskError(422, _("tick the items you complain about and say why the decision is wrong"))
    data = ComplaintCreate(notice_id=notice_id, items=ids, explanation=explanation.strip())
    with database_of(request).writer() as session:
        complaint = due_process.file_complaint(
            session,
            data,
            complainant=complainant,
            customer_id=who.customer_id,
            key_id=who.key_id,
            actor=who.actor,
            now=now_of(request),
            settings=settings_of(request),
        )
        session.commit()
        complaint_id = complaint.id
    return redirect(
        request,
        f"{PREFIX}/notices/{notice_id}",
        _("Complaint %(id)s lodged; a different agent will decide it.", id=complaint_id),
    )
