"""The delivery log's one rule that changes state: redelivery."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.config import Settings
from etest.errors import Forbidden
from etest.models import Organization, OutboxEvent
from etest.models.base import utcnow
from etest.outbox.service import requeue
from etest.webhook import repository
from etest.webhook.errors import CallbackDisabled, DeliveryRunning

#: Who may redeliver: those who may write, and support (design §4: "resend notifications").
REDELIVER_ROLES = frozenset({"superadmin", "admin", "support"})


async def redeliver(
    session: AsyncSession, actor: Actor, settings: Settings, delivery_id: uuid.UUID
) -> tuple[OutboxEvent, str]:
    """Make a delivery due now, whatever its state, except while a worker holds it. The row
    keeps its id and its body, so the receiver gets the same ``webhook-id`` (and may
    de-duplicate); it gets a fresh budget of tries."""
    if actor.role not in REDELIVER_ROLES:
        raise Forbidden(f"The role {actor.role!r} may not redeliver callbacks.")
    row, uic = await repository.get(session, actor, delivery_id, for_update=True)
    now = utcnow()
    if row.status == "running" and row.locked_until is not None and row.locked_until > now:
        raise DeliveryRunning(
            "A worker is delivering this callback right now; try again when it has finished."
        )
    org = await session.get(Organization, row.organization_id)
    if org is not None and org.callback_disabled_at is not None:
        raise CallbackDisabled(
            "The endpoint answered 410 Gone and was disabled; save the "
            "organization's callback_url again to re-enable it."
        )
    requeue(row, settings)
    await session.flush()
    record(
        session,
        actor,
        "webhook.redeliver",
        target_type="webhook_delivery",
        target_id=row.id,
        organization_id=row.organization_id,
    )
    return row, uic
