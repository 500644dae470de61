"""API shapes for notices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from staydown.notices.flows import ItemStatus, NoticeStatus
from staydown.types import Email, Regime
from staydown.urls import URLError, canonicalize_url

_TEXT = 20_000
_URL = 16_384
# A sender's own reference: printable, no surrounding space, short enough to index.
ExternalId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")]


def _reference_url(value: str) -> str:
    """A reference is kept only as an absolute http(s) URL; nothing ever fetches it."""
    try:
        canonicalize_url(value, max_length=_URL)
    except URLError as exc:
        raise ValueError(f"not an absolute http(s) URL ({exc.code}): {exc.message}") from None
    return value


ReferenceUrl = Annotated[str, Field(max_length=_URL), AfterValidator(_reference_url)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class SubmitterIn(_In):
    name: str | None = Field(None, max_length=300)
    email: Email = None
    address: str | None = Field(None, max_length=2000)
    phone: str | None = Field(None, max_length=64)
    organization: str | None = Field(None, max_length=300)
    on_behalf_of: str | None = Field(None, max_length=300)


class WorkIn(_In):
    description: str | None = Field(None, max_length=_TEXT)
    reference_urls: list[ReferenceUrl] = Field(default_factory=list, max_length=1000)


class ItemIn(_In):
    url: str = Field(max_length=_URL)
    work: int | None = Field(None, ge=0)
    external_id: ExternalId | None = None


class StatementsIn(_In):
    """Statements made under penalty of perjury: JSON ``true`` or ``false``, nothing that looks like one."""

    good_faith: StrictBool = False
    accurate: StrictBool = False
    authorized: StrictBool = False


class NoticeCreate(_In):
    regime: Regime
    submitter: SubmitterIn = Field(default_factory=SubmitterIn)
    works: list[WorkIn] = Field(default_factory=list, max_length=10_000)
    items: list[ItemIn] = Field(default_factory=list)
    explanation: str | None = Field(None, max_length=_TEXT)
    statements: StatementsIn = Field(default_factory=StatementsIn)
    signature: str | None = Field(None, max_length=300)
    external_id: ExternalId | None = None
    language: Literal["en", "ja"] | None = Field(
        None,
        description="the language of the letters to the notifier; by default the request's Accept-Language, "
        "else the configured default",
    )


class NoticeSupplement(_In):
    """Elements an incomplete notice's submitter sends to complete it (fields given replace the old)."""

    submitter: SubmitterIn | None = None
    works: list[WorkIn] | None = Field(None, max_length=10_000)
    explanation: str | None = Field(None, max_length=_TEXT)
    statements: StatementsIn | None = None
    signature: str | None = Field(None, max_length=300)


class ItemRead(BaseModel):
    id: int
    url: str
    canonical_url: str
    zone: str | None
    zone_id: int | None
    status: ItemStatus
    work: int | None = None
    duplicate_of: int | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    inquiry_due_at: datetime | None = None
    caching_trigger: str | None = None
    external_id: str | None = None


class RejectedItem(BaseModel):
    """An entry of the submission that did not become an item, and why (the others were taken in)."""

    index: int
    url: str
    external_id: str | None = None
    code: str
    message: str


class NoticeRead(BaseModel):
    id: int
    status: NoticeStatus
    regime: Regime
    trusted: bool
    missing_elements: list[str]
    missing_element_explanations: dict[str, str] = {}
    advisory_elements: list[str] = []  # asked for by forms, not by the statute: never blocking
    sanction: str | None = None
    received_at: datetime
    deadline_at: datetime
    first_actioned_at: datetime | None
    decided_at: datetime | None
    time_to_action_seconds: float | None
    overdue: bool
    submitter: dict[str, Any] | None
    works: list[Any]
    explanation: str | None
    statements: dict[str, bool]
    signature: str | None
    item_count: int
    items: list[ItemRead]
    rejected: list[RejectedItem] = []
    external_id: str | None = None
    language: str | None = None  # of the letters to the notifier
    staydown: dict[str, Any] | None = None  # banked content, captures and the copies found since


class NoticeSummary(BaseModel):
    id: int
    status: NoticeStatus
    regime: Regime
    trusted: bool
    received_at: datetime
    deadline_at: datetime
    overdue: bool
    item_count: int
    time_to_action_seconds: float | None
    sanctioned: bool = Field(
        False, description="The notifier was under a misuse sanction: reviewed after others."
    )
    external_id: str | None = None


class NoticePage(BaseModel):
    notices: list[NoticeSummary]
    page: int
    per_page: int
    total: int


class DecisionIn(_In):
    """An agent's decision: ``inquire`` (Japanese notices) asks the sender before removal."""

    items: dict[int, Literal["action", "reject", "inquire"]] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=_TEXT)
    election: StrictBool = False  # election-related content: the sender has 2 days, not 7
    # 17 U.S.C. 512(b)(2)(E): what makes a cached copy removable.
    caching_trigger: Literal["origin_removed", "court_ordered"] | None = None


class ObjectionIn(_In):
    """The sender's objection to removal after an inquiry, with its reasons."""

    items: list[int] = Field(min_length=1, max_length=1000)
    reasons: str = Field(min_length=1, max_length=_TEXT)


class ItemFound(BaseModel):
    """An item found by its URL, with the notice that names it."""

    id: int
    notice_id: int
    url: str
    canonical_url: str
    zone_id: int | None
    status: ItemStatus
    external_id: str | None = None
    notice_external_id: str | None = None
    received_at: datetime


class ItemPage(BaseModel):
    items: list[ItemFound]
    page: int
    per_page: int
    total: int


class WebhookIn(_In):
    """Where a submitter's key wants its notices' events delivered (an http or https URL)."""

    url: str = Field(min_length=1, max_length=2048)


class WebhookRead(BaseModel):
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = None  # shown once, when the webhook is registered or its secret renewed
