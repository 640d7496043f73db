"""Writing audit entries; every admin action that changes access calls :func:`record`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.models import AuditEntry


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: str | uuid.UUID,
    organization_id: uuid.UUID | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction (it commits with the action it records)."""
    entry = AuditEntry(
        organization_id=organization_id,
        actor=actor.subject,
        actor_role=actor.role,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        reason=reason,
        details=details or {},
    )
    session.add(entry)
    return entry
