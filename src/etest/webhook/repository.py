"""Queries over the callback delivery log: ``webhook.deliver`` outbox rows of the actor's
subtree (a foreign id is a 404) and their tries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import Organization, OutboxEvent, OutboxTry
from etest.organization.repository import in_organization
from etest.webhook.tasks import TOPIC


def visible(actor: Actor) -> Select[OutboxEvent, str]:
    stmt = select(OutboxEvent, Organization.uic).where(OutboxEvent.topic == TOPIC)
    result: Select[OutboxEvent, str] = scoped(stmt, actor, OutboxEvent.organization_id)
    return result


def event_type_is(value: str) -> Any:
    return OutboxEvent.payload["type"].as_string() == value


def filtered(
    actor: Actor,
    *,
    status: str | None = None,
    event_type: str | None = None,
    within: Organization | None = None,
    include_descendants: bool = True,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> Select[OutboxEvent, str]:
    """The actor's deliveries matching every filter given, for ``paginate``: ``within`` a
    visible organization (its subtree, or it alone without ``include_descendants``), queued in
    ``[created_from, created_to)``."""
    stmt = visible(actor)
    if status is not None:
        stmt = stmt.where(OutboxEvent.status == status)
    if event_type is not None:
        stmt = stmt.where(event_type_is(event_type))
    if within is not None:
        stmt = stmt.where(
            in_organization(
                within, OutboxEvent.organization_id, include_descendants=include_descendants
            )
        )
    if created_from is not None:
        stmt = stmt.where(OutboxEvent.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(OutboxEvent.created_at < created_to)
    return stmt


async def get(
    session: AsyncSession, actor: Actor, delivery_id: uuid.UUID, *, for_update: bool = False
) -> tuple[OutboxEvent, str]:
    stmt = visible(actor).where(OutboxEvent.id == delivery_id)
    if for_update:
        stmt = stmt.with_for_update(of=OutboxEvent)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("No such webhook delivery.")
    return row[0], row[1]


async def tries_of(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[OutboxTry]]:
    """The tries of several deliveries in one query, by delivery, oldest first."""
    out: dict[uuid.UUID, list[OutboxTry]] = {i: [] for i in ids}
    if ids:
        rows = await session.scalars(
            select(OutboxTry)
            .where(OutboxTry.event_id.in_(ids))
            .order_by(OutboxTry.number, OutboxTry.started_at)
        )
        for row in rows:
            out[row.event_id].append(row)
    return out
