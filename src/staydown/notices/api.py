"""Routes for notices: intake (idempotent for bulk senders), reading, finding items by URL, agent
decisions, completion of incomplete notices, and a submitter's webhook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from staydown.accounts import service as accounts
from staydown.api.deps import GuardDep, LocaleDep, NowDep, Principal, Reader, SettingsDep, Writer, require
from staydown.api.errors import OUT_OF_RANGE, ApiError
from staydown.db.base import ROW_ID_LIMIT
from staydown.fingerprints import service as fingerprints
from staydown.notices import service
from staydown.notices.flows import NoticeStatus
from staydown.notices.models import Notice, SubmitterWebhook
from staydown.notices.schemas import (
    DecisionIn,
    ItemFound,
    ItemPage,
    ItemRead,
    NoticeCreate,
    NoticePage,
    NoticeRead,
    NoticeSummary,
    NoticeSupplement,
    ObjectionIn,
    RejectedItem,
    WebhookIn,
    WebhookRead,
)
from staydown.types import Role
from staydown.urls import URLError, canonicalize_url

router = APIRouter(prefix="/v1/notices", tags=["notices"])
items_router = APIRouter(prefix="/v1/items", tags=["notices"])
webhook_router = APIRouter(prefix="/v1/submitter/webhook", tags=["notices"])

Submitting = Annotated[Principal, Depends(require(Role.submitter, Role.agent))]
Reading = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.submitter, Role.customer))]
Deciding = Annotated[Principal, Depends(require(Role.agent))]
Objecting = Annotated[Principal, Depends(require(Role.customer, Role.agent))]
Finding = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.submitter))]


def _is_overdue(notice: Notice, now_ts: float) -> bool:
    if notice.decided_at is not None:
        return notice.decided_at > notice.deadline_at
    if notice.status not in (NoticeStatus.accepted, NoticeStatus.received):
        return False
    return now_ts > notice.deadline_at.timestamp()


def render(
    session: Session,
    notice: Notice,
    items: Sequence[Row[Any]],
    *,
    now_ts: float,
    show_submitter: bool = True,
    locale: str = "en",
) -> NoticeRead:
    zone_ids = {item.zone_id for item in items if item.zone_id is not None}
    hostnames = {
        zone_id: zone.hostname for zone_id in zone_ids if (zone := accounts.get_zone(session, zone_id))
    }
    return NoticeRead(
        id=notice.id,
        status=notice.status,
        regime=notice.regime,
        trusted=notice.trusted,
        missing_elements=notice.missing_elements,
        missing_element_explanations=service.explanations(notice, locale),
        advisory_elements=service.advisory_elements(notice),
        sanction=notice.sanction,
        received_at=notice.received_at,
        deadline_at=notice.deadline_at,
        first_actioned_at=notice.first_actioned_at,
        decided_at=notice.decided_at,
        time_to_action_seconds=notice.time_to_action_seconds,
        overdue=_is_overdue(notice, now_ts),
        submitter=(
            {
                "name": notice.submitter_name,
                "email": notice.submitter_email,
                "address": notice.submitter_address,
                "phone": notice.submitter_phone,
                "organization": notice.submitter_organization,
                "on_behalf_of": notice.on_behalf_of,
            }
            if show_submitter
            else None
        ),
        works=notice.works,
        explanation=notice.explanation,
        statements={
            "good_faith": notice.statement_good_faith,
            "accurate": notice.statement_accurate,
            "authorized": notice.statement_authorized,
        },
        signature=notice.signature,
        item_count=notice.item_count,
        items=[
            ItemRead.model_construct(
                id=item.id,
                url=item.url,
                canonical_url=item.canonical_url,
                zone=hostnames.get(item.zone_id) if item.zone_id is not None else None,
                zone_id=item.zone_id,
                status=item.status,
                work=item.work_index,
                duplicate_of=item.duplicate_of_id,
                decided_at=item.decided_at,
                decision_reason=item.decision_reason,
                inquiry_due_at=item.inquiry_due_at,
                caching_trigger=item.caching_trigger,
                external_id=item.external_id,
            )
            for item in items
        ],
        rejected=[RejectedItem(**entry) for entry in notice.rejected_items or []],
        external_id=notice.external_id,
        language=notice.language,
    )


def _visible(session: Session, notice_id: int, who: Principal) -> Notice:
    notice = service.get(session, notice_id)
    if notice is None:
        raise ApiError(404, "not_found", f"notice {notice_id} does not exist")
    if who.role is Role.submitter and notice.submitter_key_id != who.key_id:
        raise ApiError(404, "not_found", f"notice {notice_id} does not exist")
    if who.role is Role.customer and (
        who.customer_id is None or not service.visible_to_customer(session, notice_id, who.customer_id)
    ):
        raise ApiError(404, "not_found", f"notice {notice_id} does not exist")
    return notice


def _json(model: BaseModel, status: int = 200, *, exclude: Any = None) -> Response:
    """Serialise a validated model once (notices can carry 100,000 items)."""
    return Response(model.model_dump_json(exclude=exclude), status_code=status, media_type="application/json")


# The intake answer names each item's outcome; when and why it was decided is in GET /v1/notices/{id}.
_INTAKE_EXCLUDE = {"items": {"__all__": {"decided_at", "decision_reason"}}}


@router.post("", status_code=201, response_model=NoticeRead)
def submit_notice(
    body: NoticeCreate,
    request: Request,
    who: Submitting,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
    locale: LocaleDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="the sender's key for this request: a replay within 24 hours gets the first answer",
            # Checked by the service (400 invalid_idempotency_key); stated here for clients.
            json_schema_extra={"pattern": "^[!-~]{1,255}$"},
        ),
    ] = None,
) -> Response:
    """Submit an infringement notice (DMCA, DSA or Japanese removal request).

    Entries whose URL is not valid are listed under ``rejected`` and the others taken in; a notice
    of which no entry is valid is refused whole (``invalid_items``).
    """
    by = service.Submitter(
        key_id=who.key_id,
        trusted=who.trusted,
        actor=who.actor,
        source_ip=request.client.host if request.client else None,
    )
    if body.language is None:  # the notifier's letters speak the language its request asks for
        body = body.model_copy(update={"language": locale})
    if idempotency_key is None:
        notice = service.submit(session, body, by=by, now=now, settings=settings)
        session.commit()
        view = render(
            session, notice, service.item_views(session, notice.id), now_ts=now.timestamp(), locale=locale
        )
        return _json(view, 201, exclude=_INTAKE_EXCLUDE)
    key = service.check_key(idempotency_key)
    request_sha256 = service.fingerprint(body)
    replay = service.recall(session, who.key_id, key, request_sha256, now=now)
    if replay is None:
        try:
            claim = service.claim(session, who.key_id, key, request_sha256, now=now)
        except IntegrityError:
            # Another request with this key committed first (it held the key until then).
            session.rollback()
            replay = service.recall(session, who.key_id, key, request_sha256, now=now)
            if replay is None:
                raise ApiError(
                    409, "idempotency_conflict", "a request with this Idempotency-Key is in progress; retry"
                ) from None
    if replay is not None:
        session.rollback()
        return Response(
            replay.body,
            status_code=replay.status_code,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    notice = service.submit(session, body, by=by, now=now, settings=settings)
    view = render(
        session, notice, service.item_views(session, notice.id), now_ts=now.timestamp(), locale=locale
    )
    answer = view.model_dump_json(exclude=_INTAKE_EXCLUDE)
    service.settle_claim(claim, notice_id=notice.id, status_code=201, body=answer)
    session.commit()
    return Response(answer, status_code=201, media_type="application/json")


def _zone_filter(session: Session, zone: str) -> int:
    """The zone id a ``zone`` query value names: digits are an id, anything else a hostname (-1: none)."""
    if not zone.isdigit():
        found = accounts.zones_by_hostname(session, [zone.lower()])
        return found[zone.lower()].id if found else -1
    if not zone.isascii():
        # str.isdigit() also holds for superscripts and other scripts' digits, which are no id.
        raise ApiError(
            422,
            "validation_error",
            "the request is not valid: zone",
            [
                {
                    "loc": ["query", "zone"],
                    "msg": "a zone id is written in ASCII digits 0-9",
                    "type": "int_parsing",
                }
            ],
        )
    digits = zone.lstrip("0")
    if len(digits) > 10 or int(digits or "0") >= ROW_ID_LIMIT:
        raise ApiError(
            422,
            "out_of_range",
            OUT_OF_RANGE,
            [{"loc": ["query", "zone"], "msg": "zone id is out of range", "type": "out_of_range"}],
        )
    return int(digits or "0")


@router.get("", response_model=NoticePage)
def list_notices(
    who: Reading,
    session: Reader,
    now: NowDep,
    status: NoticeStatus | None = None,
    zone: str | None = Query(None, description="zone id or hostname"),
    external_id: str | None = Query(None, max_length=200, description="the sender's own reference"),
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> NoticePage:
    """List notices, earliest deadline first, those of a sanctioned notifier after the others (the
    review queue with ``status=accepted``)."""
    zone_id = _zone_filter(session, zone) if zone else None
    rows, total = service.list_page(
        session,
        status=status,
        zone_id=zone_id,
        customer_id=who.customer_id if who.role is Role.customer else None,
        submitter_key_id=who.key_id if who.role is Role.submitter else None,
        external_id=external_id,
        page=page,
        per_page=per_page,
    )
    if who.role is Role.customer and who.customer_id is None:
        rows, total = [], 0
    now_ts = now.timestamp()
    return NoticePage(
        notices=[
            NoticeSummary(
                id=n.id,
                status=n.status,
                regime=n.regime,
                trusted=n.trusted,
                received_at=n.received_at,
                deadline_at=n.deadline_at,
                overdue=_is_overdue(n, now_ts),
                item_count=n.item_count,
                time_to_action_seconds=n.time_to_action_seconds,
                sanctioned=n.sanction is not None,
                external_id=n.external_id,
            )
            for n in rows
        ],
        page=page,
        per_page=per_page,
        total=total,
    )


@router.get("/{notice_id}", response_model=NoticeRead)
def get_notice(notice_id: int, who: Reading, session: Reader, now: NowDep, locale: LocaleDep) -> Response:
    """Read one notice with its items (a customer sees only the items on its own zones)."""
    notice = _visible(session, notice_id, who)
    customer_id = who.customer_id if who.role is Role.customer else None
    items = service.item_views(session, notice_id, customer_id=customer_id)
    view = render(session, notice, items, now_ts=now.timestamp(), locale=locale)
    view.staydown = fingerprints.notice_staydown(session, notice_id, customer_id=customer_id)
    return _json(view)


@router.post("/{notice_id}/decision", response_model=NoticeRead)
def decide_notice(
    notice_id: int, body: DecisionIn, who: Deciding, session: Writer, now: NowDep, settings: SettingsDep
) -> NoticeRead:
    """Action or reject items of a notice, with a reason."""
    notice = service.get(session, notice_id)
    if notice is None:
        raise ApiError(404, "not_found", f"notice {notice_id} does not exist")
    service.decide(
        session,
        notice,
        dict(body.items),
        reason=body.reason,
        actor=who.actor,
        now=now,
        settings=settings,
        election=body.election,
        caching_trigger=body.caching_trigger,
    )
    session.commit()
    return render(session, notice, service.item_views(session, notice_id), now_ts=now.timestamp())


@router.post("/{notice_id}/supplement", response_model=NoticeRead)
def supplement_notice(
    notice_id: int,
    body: NoticeSupplement,
    request: Request,
    who: Submitting,
    session: Writer,
    now: NowDep,
    settings: SettingsDep,
    locale: LocaleDep,
) -> NoticeRead:
    """Supply the elements an incomplete notice lacked."""
    notice = _visible(session, notice_id, who)
    by = service.Submitter(
        key_id=who.key_id,
        trusted=notice.trusted,
        actor=who.actor,
        source_ip=request.client.host if request.client else None,
    )
    service.supplement(session, notice, body, by=by, now=now, settings=settings)
    session.commit()
    return render(
        session, notice, service.item_views(session, notice_id), now_ts=now.timestamp(), locale=locale
    )


@router.post("/{notice_id}/objection", response_model=NoticeRead)
def object_to_inquiry(
    notice_id: int, body: ObjectionIn, who: Objecting, session: Writer, now: NowDep, settings: SettingsDep
) -> NoticeRead:
    """The sender objects, with reasons, to removal after an inquiry: the items return to review."""
    notice = _visible(session, notice_id, who)
    customer_id = who.customer_id if who.role is Role.customer else None
    service.object_to_inquiry(
        session,
        notice,
        body.items,
        reasons=body.reasons,
        customer_id=customer_id,
        actor=who.actor,
        now=now,
        settings=settings,
    )
    session.commit()
    items = service.item_views(session, notice_id, customer_id=customer_id)
    return render(session, notice, items, now_ts=now.timestamp(), show_submitter=customer_id is None)


@items_router.get("", response_model=ItemPage)
def find_items(
    who: Finding,
    session: Reader,
    settings: SettingsDep,
    url: str = Query(max_length=16_384, description="any spelling of the resource's URL"),
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> ItemPage:
    """Find the items naming a URL's resource (a submitter finds only its own)."""
    try:
        canonical = canonicalize_url(url, max_length=settings.max_url_length)
    except URLError as exc:
        raise ApiError(
            422,
            "invalid_url",
            f"the url is not valid: {exc.message}",
            [{"loc": ["query", "url"], "msg": exc.message, "type": exc.code}],
        ) from None
    rows, total = service.find_items(
        session,
        canonical,
        submitter_key_id=who.key_id if who.role is Role.submitter else None,
        page=page,
        per_page=per_page,
    )
    return ItemPage(
        items=[
            ItemFound(
                id=row.id,
                notice_id=row.notice_id,
                url=row.url,
                canonical_url=row.canonical_url,
                zone_id=row.zone_id,
                status=row.status,
                external_id=row.external_id,
                notice_external_id=row.notice_external_id,
                received_at=row.received_at,
            )
            for row in rows
        ],
        page=page,
        per_page=per_page,
        total=total,
    )


def _webhook_view(hook: SubmitterWebhook, *, secret: bool) -> WebhookRead:
    return WebhookRead(
        url=hook.url,
        events=list(service.WEBHOOK_EVENTS),
        created_at=hook.created_at,
        secret=hook.secret if secret else None,
    )


@webhook_router.put("", response_model=WebhookRead)
def register_webhook(
    body: WebhookIn, who: Submitting, session: Writer, now: NowDep, guard: GuardDep
) -> WebhookRead:
    """Register this key's webhook (replacing any) and get the secret its deliveries are signed with."""
    hook = service.register_webhook(session, who.key_id, body.url, now=now, guard=guard)
    session.commit()
    return _webhook_view(hook, secret=True)


@webhook_router.get("", response_model=WebhookRead)
def get_webhook(who: Submitting, session: Reader) -> WebhookRead:
    """This key's webhook (its secret is shown only when registered)."""
    hook = service.get_webhook(session, who.key_id)
    if hook is None:
        raise ApiError(404, "not_found", "this key has no webhook")
    return _webhook_view(hook, secret=False)


@webhook_router.delete("", status_code=204)
def remove_webhook(who: Submitting, session: Writer) -> Response:
    """Stop this key's webhook deliveries."""
    if not service.remove_webhook(session, who.key_id):
        raise ApiError(404, "not_found", "this key has no webhook")
    session.commit()
    return Response(status_code=204)
