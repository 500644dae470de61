"""Routes for forwards to hosts: who was told of a notice, and the host's answer.

The origin addresses of a forward are shown only to the legal role and to a trusted flagger
reading its own notice; each time they are shown, the disclosure is audited."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends

from staydown.accounts import service as accounts
from staydown.api.deps import NowDep, Principal, Writer, require
from staydown.api.errors import ApiError
from staydown.hosts import service
from staydown.hosts.models import HostForward
from staydown.hosts.schemas import HostAnswerCreate, HostForwardRead
from staydown.notices import service as notices
from staydown.types import Role

router = APIRouter(tags=["hosts"])

Staff = Annotated[Principal, Depends(require(Role.agent))]
Readers = Annotated[Principal, Depends(require(Role.agent, Role.legal, Role.submitter))]


def _service(url: str | None) -> str | None:
    """The RDAP service a lookup asked, without the query (which names the origin address)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _read(forward: HostForward, *, hostname: str, addresses: list[str] | None) -> HostForwardRead:
    """A forward as its reader may see it: without ``addresses`` (None), nothing that names the
    origin's address is shown (the lookup's query, the reasons it failed)."""
    entitled = addresses is not None
    return HostForwardRead(
        id=forward.id,
        notice_id=forward.notice_id,
        zone_id=forward.zone_id,
        hostname=hostname,
        status=forward.status,
        host_name=forward.host_name,
        host_contact=forward.host_contact,
        contact_source=forward.contact_source,
        rdap_source=forward.rdap_source if entitled else _service(forward.rdap_source),
        reasons=list(forward.reasons or []) if entitled else [],
        sent_at=forward.sent_at,
        reminders=forward.reminders,
        answered_at=forward.answered_at,
        origin_addresses=addresses,
    )


@router.get("/v1/notices/{notice_id}/hosts", response_model=list[HostForwardRead])
def notice_hosts(notice_id: int, who: Readers, session: Writer, now: NowDep) -> list[HostForwardRead]:
    """The hosts a notice was forwarded to and their abuse contacts (a submitter: its own notices)."""
    notice = notices.get(session, notice_id)
    if notice is None or (who.role is Role.submitter and notice.submitter_key_id != who.key_id):
        raise ApiError(404, "not_found", f"notice {notice_id} does not exist")
    entitled = who.role is Role.legal or (who.role is Role.submitter and who.trusted)
    found = []
    for forward in service.forwards(session, notice_id=notice_id):
        zone = accounts.get_zone(session, forward.zone_id)
        addresses = None
        if entitled:
            to = "legal" if who.role is Role.legal else "trusted flagger (API)"
            addresses = service.disclose(session, forward, to=to, actor=who.actor, now=now)
        found.append(_read(forward, hostname=zone.hostname if zone else "", addresses=addresses))
    session.commit()  # the disclosures' audit entries
    return found


@router.post("/v1/host-forwards/{forward_id}/answer", response_model=HostForwardRead)
def host_answer(
    forward_id: int, body: HostAnswerCreate, who: Staff, session: Writer, now: NowDep
) -> HostForwardRead:
    """Record the host's answer to a forwarded notice (agent); its reminders stop."""
    try:
        forward = service.record_answer(session, forward_id, answer=body.answer, now=now, actor=who.actor)
    except service.HostError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    zone = accounts.get_zone(session, forward.zone_id)
    session.commit()
    return _read(forward, hostname=zone.hostname if zone else "", addresses=None)
