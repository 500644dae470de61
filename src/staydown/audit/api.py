"""Routes to verify the audit chain and read an entity's trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from staydown.api.deps import Principal, Reader, require
from staydown.audit import service
from staydown.audit.schemas import AuditEntryRead, AuditVerification
from staydown.types import Role

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require(Role.agent, Role.legal))]


@router.get("/verify", response_model=AuditVerification)
def verify(_who: Auditor, session: Reader) -> AuditVerification:
    """Recompute the hash chain and name the first entry that does not hold."""
    return service.verify(session)


@router.get("/{entity_type}/{entity_id}", response_model=list[AuditEntryRead])
def trail(entity_type: str, entity_id: str, _who: Auditor, session: Reader) -> list[AuditEntryRead]:
    """Every audit entry about one entity, oldest first."""
    return [
        AuditEntryRead.model_validate(entry, from_attributes=True)
        for entry in service.list_for_entity(session, entity_type, entity_id)
    ]
