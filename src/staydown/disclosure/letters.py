"""The words of the letters a disclosure order sends the customer it concerns, in the customer's
language (``locale``; see ``staydown.wording``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from staydown.wording import Words
from staydown.wording import mark as _

# Each event's subject and opening line.
EVENTS = {
    "order.received": (
        _("A disclosure order about your account"),
        _(
            "We have received an order asking us to disclose information about your account. Unless we are "
            "told otherwise, you may send us your view on the disclosure (and whether you consent to it) "
            "before we decide; reply to this message."
        ),
    ),
    "order.complied": (
        _("We have complied with a disclosure order about your account"),
        _("We decided to comply with the order and disclosed the information listed below."),
    ),
    "order.partially_complied": (
        _("We have partly complied with a disclosure order about your account"),
        _("We decided to comply with part of the order and disclosed only the information listed below."),
    ),
    "order.contested": (
        _("We are contesting a disclosure order about your account"),
        _("We decided to contest the order; nothing has been disclosed."),
    ),
    "order.closed": (
        _("A disclosure order about your account has ended"),
        _("The order has ended; the legal hold it placed on your data is lifted."),
    ),
}


def order_letter(
    event: str,
    *,
    provider: str,
    authority: str,
    jurisdiction: str,
    case_number: str,
    legal_basis: str,
    scope: Sequence[str],
    deadline_at: datetime | None,
    released: Sequence[str],
    locale: str = "en",
) -> tuple[str, str]:
    """Subject and body of the letter about ``event`` of an order (``EVENTS``)."""
    _ = Words(locale)
    subject, opening = EVENTS[event]
    lines = [
        _(opening),
        "",
        _("Issued by: %(authority)s (%(jurisdiction)s)", authority=authority, jurisdiction=jurisdiction),
        _("Case number: %(case)s", case=case_number),
        _("Legal basis: %(basis)s", basis=legal_basis),
        _("Information requested: %(scope)s", scope=", ".join(scope)),
    ]
    if deadline_at:
        lines.append(_("Deadline set by the order: %(deadline)s", deadline=_.when(deadline_at)))
    if released:
        lines.append(_("Information disclosed: %(released)s", released=", ".join(released)))
    return f"[{provider}] {_(subject)}", "\n".join(lines) + "\n"
