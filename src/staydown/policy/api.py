"""Routes for the repeat-infringer policy: the published text, strikes and agent steps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from staydown.accounts import service as accounts
from staydown.api.deps import LocaleDep, NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.config import Settings
from staydown.notices.elements import ELEMENTS
from staydown.policy import service
from staydown.policy.flows import AGENT_LABELS, legal_text, policy_text
from staydown.policy.models import StepKind, StrikeStatus
from staydown.types import Regime, Role
from staydown.wording import Words

router = APIRouter(tags=["policy"])

Staff = Annotated[Principal, Depends(require(Role.agent))]
StaffOrCustomer = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.customer))]


class StrikeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    notice_id: int | None
    match_id: int | None
    zone_id: int | None
    weight: int = Field(description="How many strikes this one counts for (the notice's size).")
    urls: int | None = Field(description="URLs of the notice actioned on the customer's zones.")
    created_at: datetime
    status: StrikeStatus
    voided_at: datetime | None
    void_reason: str | None


class StepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: StepKind
    at: datetime
    strikes_counted: int
    reason: str
    automatic: bool


class StrikeLedger(BaseModel):
    customer_id: int
    standing: str
    active_strikes: int = Field(description="Active strikes, each counted by its weight.")
    strikes: list[StrikeRead]
    steps: list[StepRead]


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000)


class ElementRead(BaseModel):
    code: str
    name: str
    title: str
    explanation: str
    statutory: bool


@router.get("/v1/policy/repeat-infringer", response_class=PlainTextResponse)
def published_policy(settings: SettingsDep, locale: LocaleDep) -> PlainTextResponse:
    """The repeat-infringer policy as published to customers (public), in the language of the
    request's Accept-Language (English or Japanese; else the configured default)."""
    text = policy_text(settings.policy, provider=settings.provider_name, locale=locale)
    return PlainTextResponse(text, headers=_spoken(locale))


@router.get("/v1/regimes/{regime}/elements", response_model=list[ElementRead])
def legal_elements(regime: Regime, locale: LocaleDep) -> JSONResponse:
    """What a notice under ``regime`` must contain, each element with what it means, in the
    language of the request's Accept-Language (public). ``name`` is the element's legal name as
    notices list it in ``missing_elements``; ``title`` is that name in the reader's language."""
    words = Words(locale)
    elements = [
        ElementRead(
            code=element.code,
            name=element.name,
            title=words(element.name),
            explanation=words(element.explanation),
            statutory=element.statutory,
        )
        for element in ELEMENTS[regime].values()
    ]
    body = [element.model_dump() for element in elements]
    return JSONResponse(body, headers=_spoken(locale))


@router.get("/v1/customers/{customer_id}/strikes", response_model=StrikeLedger)
def strikes(customer_id: int, who: StaffOrCustomer, session: Reader) -> StrikeLedger:
    customer = accounts.get_customer(session, customer_id)
    if customer is None or (who.role is Role.customer and who.customer_id != customer_id):
        raise ApiError(404, "not_found", f"customer {customer_id} does not exist")
    rows = service.list_strikes(session, customer_id)
    return StrikeLedger(
        customer_id=customer_id,
        standing=customer.standing.value,
        active_strikes=sum(s.weight for s in rows if s.status is StrikeStatus.active),
        strikes=[StrikeRead.model_validate(s) for s in rows],
        steps=[StepRead.model_validate(s) for s in service.list_steps(session, customer_id)],
    )


@router.post("/v1/customers/{customer_id}/terminate", response_model=StepRead)
def terminate(
    customer_id: int, body: StepRequest, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> StepRead:
    """Terminate a customer and every zone of it (agent confirmation)."""
    customer = accounts.get_customer(session, customer_id)
    if customer is None:
        raise ApiError(404, "not_found", f"customer {customer_id} does not exist")
    step = service.confirm_termination(
        session,
        customer,
        now=now,
        actor=who.actor,
        reason=body.reason,
        policy=settings.policy,
        provider=settings.provider_name,
    )
    session.commit()
    return StepRead.model_validate(step)


@router.post("/v1/customers/{customer_id}/reinstate", response_model=StepRead)
def reinstate(
    customer_id: int, body: StepRequest, who: Staff, session: Writer, now: NowDep, settings: SettingsDep
) -> StepRead:
    """Lift a customer's suspension; its zones go live again."""
    customer = accounts.get_customer(session, customer_id)
    if customer is None:
        raise ApiError(404, "not_found", f"customer {customer_id} does not exist")
    step = service.reinstate(
        session,
        customer,
        now=now,
        actor=who.actor,
        reason=body.reason,
        policy=settings.policy,
        provider=settings.provider_name,
    )
    session.commit()
    return StepRead.model_validate(step)


@router.get("/legal", response_class=PlainTextResponse, include_in_schema=False)
def legal(settings: SettingsDep, locale: LocaleDep) -> PlainTextResponse:
    """The page a 451 names as the blocking entity: why content is blocked and how to contest it
    (in the language of the request's Accept-Language)."""
    text = legal_text(
        settings.policy, provider=settings.provider_name, agent=designated_agent(settings), locale=locale
    )
    return PlainTextResponse(text, headers=_spoken(locale))


def designated_agent(settings: Settings) -> list[tuple[str, str | None]]:
    """The agent designated to receive DMCA notices, as 17 U.S.C. 512(c)(2) asks it to be published."""
    values = (
        settings.dmca_agent_name,
        settings.dmca_agent_address,
        settings.dmca_agent_phone,
        settings.dmca_agent_email,
        settings.dmca_agent_registration,
    )
    return list(zip(AGENT_LABELS, values, strict=True))


def _spoken(locale: str) -> dict[str, str]:
    """The headers of an answer whose words follow the request's Accept-Language."""
    return {"Content-Language": locale, "Vary": "Accept-Language"}
