"""Every outbox query: the operator's listing and the worker's claim and settle statements.

The worker's statements lock what they read (``FOR UPDATE``, ``SKIP LOCKED`` for the claim) on
PostgreSQL; on SQLite the transaction is ``BEGIN IMMEDIATE``, which serializes them instead."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import OutboxEvent, OutboxTry


async def newest(
    session: AsyncSession, *, status: str | None = None, topic: str | None = None, limit: int = 50
) -> Sequence[OutboxEvent]:
    """The newest rows first, optionally of one status and topic."""
    query = select(OutboxEvent).order_by(OutboxEvent.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxEvent.status == status)
    if topic is not None:
        query = query.where(OutboxEvent.topic == topic)
    return (await session.scalars(query)).all()


async def lock_due(session: AsyncSession, now: datetime, limit: int) -> list[OutboxEvent]:
    """Up to ``limit`` rows due at ``now`` (pending and available, or running with an expired
    lease), oldest first, locked and skipping rows another worker holds."""
    due = or_(
        and_(OutboxEvent.status == "pending", OutboxEvent.available_at <= now),
        and_(OutboxEvent.status == "running", OutboxEvent.locked_until < now),
    )
    query = (
        select(OutboxEvent)
        .where(due)
        .order_by(OutboxEvent.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )  # SQLite: no FOR UPDATE, BEGIN IMMEDIATE
    return list((await session.scalars(query)).all())


async def close_open_tries(
    session: AsyncSession, event_ids: Collection[uuid.UUID], now: datetime, error: str
) -> None:
    """Finish the unfinished tries of these rows with ``error``."""
    await session.execute(
        update(OutboxTry)
        .where(OutboxTry.event_id.in_(event_ids), OutboxTry.finished_at.is_(None))
        .values(finished_at=now, error=error)
    )


async def lock_row(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent | None:
    """The row, locked, or None."""
    return await session.scalar(
        select(OutboxEvent).where(OutboxEvent.id == event_id).with_for_update()
    )


async def try_of(
    session: AsyncSession, event_id: uuid.UUID, number: int, worker_id: str
) -> OutboxTry | None:
    """The latest try ``number`` of the row by ``worker_id``, or None."""
    return await session.scalar(
        select(OutboxTry)
        .where(
            OutboxTry.event_id == event_id,
            OutboxTry.number == number,
            OutboxTry.worker == worker_id,
        )
        .order_by(OutboxTry.started_at.desc())
        .limit(1)
    )
