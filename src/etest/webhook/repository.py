"""Queries over the callback delivery log: ``webhook.deliver`` outbox rows of the actor's
subtree (a foreign id is a 404) and their tries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import Organization, OutboxEvent, OutboxTry
from etest.webhook.tasks import TOPIC


def visible(actor: Actor) -> Select[OutboxEvent, str]:
    stmt = select(OutboxEvent, Organization.uic).where(OutboxEvent.topic == TOPIC)
    result: Select[OutboxEvent, str] = scoped(stmt, actor, OutboxEvent.organization_id)
    return result


def event_type_is(value: str) -> Any:
    return OutboxEvent.payload["type"].as_string() == value


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
