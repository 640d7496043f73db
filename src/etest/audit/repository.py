"""Every audit-log query, filtered by the actor's subtree (a global actor also sees the entries
of no organization), and the one rule of who reads the log."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import Forbidden
from etest.models import AuditEntry, Organization, StaffAccount

#: Who reads the audit log (the API and the console alike).
READERS = frozenset({"admin", "superadmin"})


def may_read(actor: Actor) -> bool:
    return actor.role in READERS and actor.sees_tenants


def require_reader(actor: Actor) -> None:
    if not may_read(actor):
        raise Forbidden("Only admins read the audit log.")


def _visible(actor: Actor) -> Select[AuditEntry, str | None]:
    stmt: Select[AuditEntry, str | None]
    if actor.is_global:
        stmt = select(AuditEntry, Organization.uic).outerjoin(
            Organization, Organization.id == AuditEntry.organization_id
        )
    else:
        stmt = scoped(select(AuditEntry, Organization.uic), actor, AuditEntry.organization_id)
    return stmt


def entries(
    actor: Actor,
    *,
    action: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    actor_contains: str | None = None,
) -> Select[AuditEntry, str | None]:
    """The actor's audit entries with their organization's UIC, optionally of one action, in
    ``[from_, to)`` and by an actor whose subject contains ``actor_contains`` (case-insensitive,
    e.g. part of a staff member's email); the caller orders and pages."""
    stmt = _visible(actor)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if from_:
        stmt = stmt.where(AuditEntry.created_at >= from_)
    if to:
        stmt = stmt.where(AuditEntry.created_at < to)
    if actor_contains:
        stmt = stmt.where(AuditEntry.actor.icontains(actor_contains, autoescape=True))
    return stmt


async def actions(session: AsyncSession, actor: Actor, limit: int = 200) -> list[str]:
    """The actions that occur in the actor's audit entries, in order (for a filter's choices)."""
    sub = _visible(actor).subquery()
    rows = await session.scalars(
        select(sub.c.action).distinct().order_by(sub.c.action).limit(limit)
    )
    return list(rows)


async def staff_names(session: AsyncSession, subjects: Collection[str]) -> dict[str, str]:
    """The names of the staff accounts behind ``staff:<email>`` audit subjects."""
    emails = {s.removeprefix("staff:") for s in subjects if s.startswith("staff:")}
    if not emails:
        return {}
    rows = await session.execute(
        select(StaffAccount.email, StaffAccount.name).where(StaffAccount.email.in_(emails))
    )
    return {f"staff:{email}": name for email, name in rows if name}
