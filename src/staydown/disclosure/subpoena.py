"""What a subpoena under 17 U.S.C. §512(h) may obtain, and when it is answered: pure rules.

§512(h)(2)(A) and (4): the subpoena is issued on a copy of a notification that satisfies
§512(c)(3)(A); (h)(3): it orders disclosure of "information sufficient to identify the alleged
infringer of the material described in the notification", to the extent it is available; (h)(5):
the provider discloses it expeditiously. So an order resting on §512(h) names the DMCA notice it
rests on, and is answered only when

- that notice is a DMCA notice with every §512(c)(3)(A) element present (none missing);
- the notice names material on a zone of the customer whose identity is asked (the customer is
  the alleged infringer of *that* material, or the operator of the site serving it); and
- the zone's service type is one a §512(h) subpoena reaches.

Service types. Recording Industry Ass'n of America v. Verizon Internet Services (D.C. Cir. 2003),
followed in In re Charter Communications (8th Cir. 2005), held that a §512(h) subpoena reaches only
a provider that stores the material on its own system, not a mere conduit (§512(a)), because only
such a provider can act on a (c)(3)(A) notification. Every service type here stores what it serves:
``hosting`` and ``platform`` zones store it at the customer's request (§512(c)); ``caching`` zones
keep intermediate and temporary copies (§512(b)), and §512(b)(2)(E) makes the provider answer
(c)(3) notifications for them. All three are therefore reached; for a caching zone the person
identified is the customer operating the originating site, which the package says. A service
type added later that only transmits (a conduit) must be left out of ``REACH``.

The disclosure is limited to identifying information (``SUBPOENA_FIELDS``): name, organisation,
postal address, telephone and e-mail. Payment references, sign-up IP logs, verification evidence
and zone lists are more than the statute orders and are withheld, whatever the subpoena asks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from staydown.disclosure.flows import IdentityField
from staydown.types import ServiceType

SUBPOENA_FIELDS = frozenset(
    {
        IdentityField.name,
        IdentityField.organization,
        IdentityField.address,
        IdentityField.phone,
        IdentityField.email,
    }
)

# What a §512(h) subpoena reaches, per service type, and whom the disclosure identifies there.
REACH: dict[ServiceType, str] = {
    ServiceType.hosting: "the customer, who stores the material on the provider's system (17 U.S.C. 512(c))",
    ServiceType.platform: "the customer, who stores and disseminates the material (17 U.S.C. 512(c))",
    ServiceType.caching: (
        "the customer operating the originating site whose material the provider caches "
        "(17 U.S.C. 512(b), (b)(2)(E))"
    ),
}

LEGAL_BASIS = (
    "17 U.S.C. 512(h)(3): information sufficient to identify the alleged infringer of the material "
    "described in the notification, to the extent it is available to the service provider"
)


@dataclass(frozen=True, slots=True)
class SubpoenaFacts:
    """What the answer to a §512(h) subpoena depends on, read from the notice it rests on."""

    regime: str
    rests_on_notification: bool  # the regime's notices are §512(c)(3) notifications a subpoena rests on
    missing_elements: tuple[str, ...]
    customer_items: int  # the notice's items on the customer's zones
    service_types: frozenset[ServiceType]  # of those zones


@dataclass(frozen=True, slots=True)
class Objection:
    code: str
    message: str


def objections(facts: SubpoenaFacts) -> list[Objection]:
    """Why the subpoena cannot be answered as it stands (empty: it can)."""
    found: list[Objection] = []
    if not facts.rests_on_notification:
        found.append(
            Objection(
                "not_dmca", f"the notice is a {facts.regime} notice, not a 17 U.S.C. 512(c)(3) notification"
            )
        )
    if facts.missing_elements:
        found.append(
            Objection(
                "notice_incomplete",
                "the notice lacks elements 17 U.S.C. 512(c)(3)(A) requires (512(h)(4)): "
                + "; ".join(facts.missing_elements),
            )
        )
    if facts.customer_items == 0:
        found.append(
            Objection(
                "customer_not_in_notice",
                "the notice names no material on a zone of this customer, so it does not identify "
                "this customer as the alleged infringer",
            )
        )
    elif not any(t in REACH for t in facts.service_types):
        types = ", ".join(sorted(t.value for t in facts.service_types))
        found.append(
            Objection("service_not_reached", f"a 512(h) subpoena does not reach a service of type {types}")
        )
    return found


def limited_fields(scope: Collection[IdentityField]) -> list[IdentityField]:
    """The fields of ``scope`` a §512(h) answer may release, in scope order."""
    return [field for field in scope if field in SUBPOENA_FIELDS]


def identified(service_types: Collection[ServiceType]) -> str:
    """Whom the disclosure identifies, given the service types of the zones concerned."""
    reached = [REACH[t] for t in sorted(service_types, key=lambda t: t.value) if t in REACH]
    return "; ".join(dict.fromkeys(reached))
