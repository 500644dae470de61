"""Routes for the repeat-infringer policy: the published text, strikes and agent steps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from staydown.accounts import service as accounts
from staydown.api.deps import NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import ApiError
from staydown.config import Settings
from staydown.policy import service
from staydown.policy.flows import policy_text
from staydown.policy.models import StepKind, StrikeStatus
from staydown.types import Role

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


@router.get("/v1/policy/repeat-infringer", response_class=PlainTextResponse)
def published_policy(settings: SettingsDep) -> str:
    """The repeat-infringer policy as published to customers (public)."""
    return policy_text(settings.policy, provider=settings.provider_name)


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
def legal(settings: SettingsDep) -> str:
    """The page a 451 names as the blocking entity: why content is blocked and how to contest it."""
    provider = settings.provider_name
    return "\n".join(
        [
            f"# {provider}: blocked content",
            "",
            f"{provider} blocks content on its network when it receives a valid notice that the content "
            "infringes a right (17 U.S.C. 512; Regulation (EU) 2022/2065 Art. 16; Japan's Information "
            "Distribution Platform Act), and keeps copies of it from returning.",
            "",
            "If you published the content and believe the block is a mistake:",
            "- file a counter-notice (DMCA notices): the material is restored 10 to 14 business days after "
            "it unless the complainant starts a court action;",
            "- file a complaint within six months of being told of the decision (an internal complaint under "
            "Regulation (EU) 2022/2065 Art. 20 for online platforms; our own review otherwise);",
            "- or go to an out-of-court dispute settlement body (online platforms, Art. 21) or to court.",
            "",
            "The 451 response names the notice. Customers file both through the abuse desk or the API "
            "(POST /v1/counter-notices).",
            "",
            *designated_agent(settings),
            policy_text(settings.policy, provider=provider),
        ]
    )


def designated_agent(settings: Settings) -> list[str]:
    """The agent designated to receive DMCA notices, as 17 U.S.C. 512(c)(2) asks it to be published."""
    fields = [
        ("Name", settings.dmca_agent_name),
        ("Address", settings.dmca_agent_address),
        ("Telephone", settings.dmca_agent_phone),
        ("E-mail", settings.dmca_agent_email),
        ("Copyright Office directory entry", settings.dmca_agent_registration),
    ]
    given = [f"- {label}: {value}" for label, value in fields if value]
    head = "## Designated agent for notices of claimed infringement (17 U.S.C. 512(c)(2))"
    return [head, "", *(given or ["- not configured"]), ""]
