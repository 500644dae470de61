"""What each service type owes under the DSA, in one place.

A CDN zone that only caches is a caching service (DSA Art. 5; 17 U.S.C. 512(b)); one that stores
content at the customer's request is hosting (Art. 6, 16-18; 512(c)); hosting that disseminates to
the public is an online platform (Art. 6, 16-24). Letters, statements and exports read from here
what they may promise and what they must send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from staydown.types import ServiceType
from staydown.wording import mark as _


@dataclass(frozen=True, slots=True)
class Duties:
    statements_of_reasons: bool  # Art. 17: providers of hosting services
    internal_complaints: bool  # Art. 20: online platforms
    out_of_court: bool  # Art. 21: online platforms
    dsa_database: bool  # Art. 24(5): online platforms submit their statements
    notifier_suspension: bool  # Art. 23(2): online platforms
    caching_trigger: bool  # 17 U.S.C. 512(b)(2)(E): record what made a cached copy removable
    redress: str


DUTIES: dict[ServiceType, Duties] = {
    ServiceType.caching: Duties(
        statements_of_reasons=False,
        internal_complaints=False,
        out_of_court=False,
        dsa_database=False,
        notifier_suspension=False,
        caching_trigger=True,
        redress=_(
            "You may ask us to review this decision (our own review procedure, POST /v1/complaints), send a "
            "counter-notice under 17 U.S.C. 512(g) for DMCA notices (POST /v1/counter-notices), or go to the "
            "courts."
        ),
    ),
    ServiceType.hosting: Duties(
        statements_of_reasons=True,
        internal_complaints=False,
        out_of_court=False,
        dsa_database=False,
        notifier_suspension=False,
        caching_trigger=False,
        redress=_(
            "You may ask us to review this decision (our own review procedure, POST /v1/complaints), send a "
            "counter-notice under 17 U.S.C. 512(g) for DMCA notices (POST /v1/counter-notices), or go to the "
            "courts (Regulation (EU) 2022/2065 Art. 17(3)(f))."
        ),
    ),
    ServiceType.platform: Duties(
        statements_of_reasons=True,
        internal_complaints=True,
        out_of_court=True,
        dsa_database=True,
        notifier_suspension=True,
        caching_trigger=False,
        redress=_(
            "You may contest this decision: an internal complaint within six months of being told of it "
            "(Regulation (EU) 2022/2065 Art. 20; POST /v1/complaints), a counter-notice under 17 U.S.C. "
            "512(g) for DMCA notices (POST /v1/counter-notices), a certified out-of-court dispute settlement "
            "body (Art. 21), or the courts."
        ),
    ),
}

_RANK = {ServiceType.caching: 0, ServiceType.hosting: 1, ServiceType.platform: 2}


def duties(service_type: ServiceType) -> Duties:
    return DUTIES[service_type]


def widest(types: Iterable[ServiceType]) -> ServiceType:
    """The service type with the most duties among ``types`` (caching when there is none): a letter
    about several zones promises what the widest of them owes."""
    return max(types, key=_RANK.__getitem__, default=ServiceType.caching)
