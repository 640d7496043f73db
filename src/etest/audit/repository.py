"""Every audit-log query, filtered by the actor's subtree (a global actor also sees the entries
of no organization)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.models import AuditEntry, Organization


def entries(
    actor: Actor,
    *,
    action: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
) -> Select[AuditEntry, str | None]:
    """The actor's audit entries with their organization's UIC, optionally of one action and
    in ``[from_, to)``; the caller orders and pages."""
    stmt: Select[AuditEntry, str | None]
    if actor.is_global:
        stmt = select(AuditEntry, Organization.uic).outerjoin(
            Organization, Organization.id == AuditEntry.organization_id
        )
    else:
        stmt = scoped(select(AuditEntry, Organization.uic), actor, AuditEntry.organization_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if from_:
        stmt = stmt.where(AuditEntry.created_at >= from_)
    if to:
        stmt = stmt.where(AuditEntry.created_at < to)
    return stmt
