"""Routes for customers, identity verification, zones, domain-control validation and keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from staydown.accounts import service
from staydown.accounts.flows import IllegalZoneTransition, ZoneEvent
from staydown.accounts.models import Customer, Zone
from staydown.accounts.schemas import (
    CustomerCreate,
    CustomerRead,
    EvidenceCreate,
    EvidenceRead,
    KeyCreate,
    KeyCreated,
    KeyRead,
    VerificationDecisionCreate,
    VerificationDecisionRead,
    ZoneCreate,
    ZoneRateLimit,
    ZoneRead,
    ZoneServiceType,
    ZoneStatusChange,
    ZoneUpdate,
    ZoneValidate,
)
from staydown.api.deps import (
    DatabaseDep,
    GuardDep,
    NowDep,
    Principal,
    Reader,
    SettingsDep,
    Writer,
    require,
)
from staydown.api.errors import ApiError
from staydown.types import Role

router = APIRouter(tags=["accounts"])

Staff = Annotated[Principal, Depends(require(Role.agent))]
StaffOrCustomer = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.customer))]
Admin = Annotated[Principal, Depends(require())]


def _customer_for(session: Session, customer_id: int, who: Principal) -> Customer:
    customer = service.get_customer(session, customer_id)
    if customer is None or (who.role is Role.customer and who.customer_id != customer_id):
        raise ApiError(404, "not_found", f"customer {customer_id} does not exist")
    return customer


def _zone_for(session: Session, zone_id: int, who: Principal) -> Zone:
    zone = service.get_zone(session, zone_id)
    if zone is None or (who.role is Role.customer and who.customer_id != zone.customer_id):
        raise ApiError(404, "not_found", f"zone {zone_id} does not exist")
    return zone


def _read(customer: Customer) -> CustomerRead:
    # The ORM's ``zones`` are Zone rows; the API names them by id.
    fields = {name: getattr(customer, name) for name in CustomerRead.model_fields if name != "zones"}
    return CustomerRead.model_validate({**fields, "zones": [zone.id for zone in customer.zones]})


@router.post("/v1/customers", status_code=201, response_model=CustomerRead)
def create_customer(
    body: CustomerCreate, request: Request, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> CustomerRead:
    """Register a customer; it starts at verification level ``none``."""
    customer = service.create_customer(
        session,
        body,
        now=now,
        signup_ip=request.client.host if request.client else None,
        actor=who.actor,
        disposable_domains=settings.disposable_email_domains,
        default_locale=settings.default_locale,
    )
    session.commit()
    return _read(customer)


@router.get("/v1/customers/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: int, who: StaffOrCustomer, session: Reader) -> CustomerRead:
    return _read(_customer_for(session, customer_id, who))


@router.post("/v1/customers/{customer_id}/verification", status_code=201, response_model=EvidenceRead)
def submit_evidence(
    customer_id: int, body: EvidenceCreate, who: StaffOrCustomer, session: Writer, now: NowDep
) -> EvidenceRead:
    """Submit identity evidence for review."""
    customer = _customer_for(session, customer_id, who)
    evidence = service.submit_evidence(session, customer, body, now=now, key_id=who.key_id, actor=who.actor)
    session.commit()
    return EvidenceRead.model_validate(evidence, from_attributes=True)


@router.get("/v1/customers/{customer_id}/verification", response_model=list[EvidenceRead])
def list_evidence(customer_id: int, who: StaffOrCustomer, session: Reader) -> list[EvidenceRead]:
    _customer_for(session, customer_id, who)
    return [
        EvidenceRead.model_validate(e, from_attributes=True)
        for e in service.list_evidence(session, customer_id)
    ]


@router.post("/v1/customers/{customer_id}/verification/decision", response_model=VerificationDecisionRead)
def decide_verification(
    customer_id: int,
    body: VerificationDecisionCreate,
    who: Staff,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
) -> VerificationDecisionRead:
    """Set a customer's verification level, with the reason; eligible zones go live."""
    customer = _customer_for(session, customer_id, who)
    decision = service.decide_verification(
        session,
        customer,
        level=body.level,
        reason=body.reason,
        now=now,
        key_id=who.key_id,
        actor=who.actor,
        min_level=settings.min_verification_level,
        disposable_domains=settings.disposable_email_domains,
    )
    session.commit()
    return VerificationDecisionRead.model_validate(decision, from_attributes=True)


@router.post("/v1/zones", status_code=201, response_model=ZoneRead)
def create_zone(
    body: ZoneCreate,
    who: StaffOrCustomer,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> ZoneRead:
    """Add a zone; it stays ``pending`` until domain control is proven and the customer is verified.

    An origin the origin-address policy refuses is answered ``422 origin_not_allowed``."""
    if who.role is Role.legal:
        raise ApiError(403, "forbidden", "legal keys cannot create zones")
    _customer_for(session, body.customer_id, who)
    zone = service.create_zone(session, body, now=now, actor=who.actor, guard=guard)
    session.commit()
    return service.zone_read(zone, min_level=settings.min_verification_level)


@router.get("/v1/zones/{zone_id}", response_model=ZoneRead)
def get_zone(zone_id: int, who: StaffOrCustomer, session: Reader, settings: SettingsDep) -> ZoneRead:
    return service.zone_read(_zone_for(session, zone_id, who), min_level=settings.min_verification_level)


@router.patch("/v1/zones/{zone_id}", response_model=ZoneRead)
def update_zone(
    zone_id: int,
    body: ZoneUpdate,
    who: StaffOrCustomer,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> ZoneRead:
    """Point the zone at another origin (one the origin-address policy refuses is answered
    ``422 origin_not_allowed``), or set its HTTPS redirect and HSTS max-age."""
    if who.role is Role.legal:
        raise ApiError(403, "forbidden", "legal keys cannot change zones")
    zone = _zone_for(session, zone_id, who)
    if body.origin is not None:
        service.update_origin(session, zone, body.origin, now=now, actor=who.actor, guard=guard)
    if {"https_redirect", "hsts_max_age"} & body.model_fields_set:
        service.set_https(
            session,
            zone,
            https_redirect=(body.https_redirect if body.https_redirect is not None else zone.https_redirect),
            hsts_max_age=body.hsts_max_age if "hsts_max_age" in body.model_fields_set else zone.hsts_max_age,
            now=now,
            actor=who.actor,
        )
    session.commit()
    return service.zone_read(zone, min_level=settings.min_verification_level)


@router.post("/v1/zones/{zone_id}/validate", response_model=ZoneRead)
async def validate_zone(
    zone_id: int,
    body: ZoneValidate,
    who: StaffOrCustomer,
    database: DatabaseDep,
    now: NowDep,
    settings: SettingsDep,
    guard: GuardDep,
) -> ZoneRead:
    """Check the domain-control challenge; the zone goes live if nothing else blocks it."""
    with database.reader() as session:
        zone = _zone_for(session, zone_id, who)
    result = await run_in_threadpool(
        service.check_domain_control,
        zone,
        method=body.method,
        timeout=settings.dcv_timeout_seconds,
        nameservers=settings.dns_nameservers,
        guard=guard,
    )

    def record() -> ZoneRead:
        with database.writer() as session:
            zone = _zone_for(session, zone_id, who)
            validation = service.record_validation(
                session, zone, result, now=now, actor=who.actor, min_level=settings.min_verification_level
            )
            session.commit()
            return service.zone_read(zone, min_level=settings.min_verification_level, validation=validation)

    return await run_in_threadpool(record)


def _zone_change(event: ZoneEvent) -> Callable[..., ZoneRead]:
    def change(
        zone_id: int, body: ZoneStatusChange, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
    ) -> ZoneRead:
        zone = _zone_for(session, zone_id, who)
        try:
            service.change_zone_status(session, zone, event, now=now, actor=who.actor, reason=body.reason)
        except IllegalZoneTransition as exc:
            raise ApiError(409, "illegal_transition", str(exc)) from exc
        session.commit()
        return service.zone_read(zone, min_level=settings.min_verification_level)

    change.__name__ = f"zone_{event.value}"
    return change


for _event in (ZoneEvent.suspend, ZoneEvent.reinstate, ZoneEvent.terminate):
    router.add_api_route(
        f"/v1/zones/{{zone_id}}/{_event.value}",
        _zone_change(_event),
        methods=["POST"],
        response_model=ZoneRead,
        summary=f"{_event.value.capitalize()} a zone (agent), with a reason",
    )


@router.post("/v1/zones/{zone_id}/rate-limit", response_model=ZoneRead)
def set_rate_limit(
    zone_id: int, body: ZoneRateLimit, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> ZoneRead:
    """Set the zone's per-client request rate at the edge (agent); null returns it to the default."""
    zone = _zone_for(session, zone_id, who)
    service.set_rate_limit(
        session, zone, per_second=body.per_second, burst=body.burst, now=now, actor=who.actor
    )
    session.commit()
    return service.zone_read(zone, min_level=settings.min_verification_level)


@router.post("/v1/zones/{zone_id}/service-type", response_model=ZoneRead)
def set_service_type(
    zone_id: int, body: ZoneServiceType, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> ZoneRead:
    """Set what the zone's service is in law (agent): caching, hosting or platform, with a reason."""
    zone = _zone_for(session, zone_id, who)
    service.set_service_type(session, zone, body.service_type, reason=body.reason, now=now, actor=who.actor)
    session.commit()
    return service.zone_read(zone, min_level=settings.min_verification_level)


@router.post("/v1/keys", status_code=201, response_model=KeyCreated)
def create_key(body: KeyCreate, who: Admin, session: Writer, now: NowDep) -> KeyCreated:
    """Create an API key (admin); the secret is returned once."""
    key, secret = service.create_key(
        session,
        role=body.role,
        now=now,
        name=body.name,
        trusted=body.trusted,
        customer_id=body.customer_id,
        actor=who.actor,
    )
    session.commit()
    return KeyCreated(id=key.id, role=key.role, trusted=key.trusted, customer_id=key.customer_id, key=secret)


@router.get("/v1/keys", response_model=list[KeyRead])
def list_keys(_who: Admin, session: Reader) -> list[KeyRead]:
    """Every API key, revoked ones included (admin); secrets are never shown again."""
    return [KeyRead.model_validate(key) for key in service.list_keys(session)]


@router.delete("/v1/keys/{key_id}", status_code=204, response_class=Response)
def revoke_key(request: Request, key_id: int, who: Admin, session: Writer, now: NowDep) -> Response:
    """Revoke an API key (admin): its next request is refused. A key cannot revoke itself."""
    key = service.get_key(session, key_id)
    if key is None:
        raise ApiError(404, "not_found", f"key {key_id} does not exist")
    service.revoke_key(session, key, now=now, actor=who.actor, by_key_id=who.key_id)
    session.commit()
    for forget in request.app.state.key_caches:  # caches of keys this process keeps (see create_app)
        forget()
    return Response(status_code=204)
