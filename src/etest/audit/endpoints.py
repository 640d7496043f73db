from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from etest.audit import repository
from etest.audit.schemas import AuditEntryOut
from etest.deps import ActorDep, SessionDep
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import TEXT_QUERY, Page, UtcDatetime
from etest.models import AuditEntry

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryOut])
async def list_audit_entries(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    action: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=64)] = None,
    from_: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    to: UtcDatetime | None = None,
) -> Page[AuditEntryOut]:
    """Audit entries of the actor's subtree, newest first (admins and superadmins only)."""
    repository.require_reader(actor)
    stmt = repository.entries(actor, action=action, from_=from_, to=to)
    total, rows = await paginate(
        session, stmt, pagination, AuditEntry.created_at.desc(), AuditEntry.id
    )
    items = [AuditEntryOut.model_validate(e).model_copy(update={"uic": uic}) for e, uic in rows]
    return Page(items=items, total=total, page=pagination.page, per_page=pagination.per_page)
