"""The desk's view of the zones' certificates: expiry, source and status, alerts first.

An expiring certificate, or one whose renewal keeps failing, soon takes a customer's HTTPS down;
this page is where an agent sees it (the same figures as ``GET /v1/certificates`` and the
``staydown_certificate_*`` metrics). It shows no private key: the desk never reads one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from staydown.certificates import service as certificates
from staydown.desk.web import DeskRoute, Staff, csrf_protect, database_of, now_of, render, settings_of
from staydown.i18n import _

router = APIRouter(route_class=DeskRoute, dependencies=[Depends(csrf_protect)])


@router.get("/certificates", include_in_schema=False)
def certificate_list(request: Request, _who: Staff) -> Response:
    """Every zone's certificate, the soonest to expire first, and failing ACME orders."""
    settings = settings_of(request)
    with database_of(request).reader() as session:
        rows = certificates.overview(session, now=now_of(request), settings=settings)
        failing = certificates.failing_orders(session)
    return render(
        request,
        "certificates.html",
        {
            "certificates": rows,
            "alerting": [cert for cert in rows if cert.alerts],
            "failing": failing,
            "alert_days": settings.cert_expiry_alert_days,
            "now": now_of(request),
            "title": _("Certificates"),
        },
    )
