"""Operator actions on outbox rows (``etest outbox ...``). Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from etest.config import Settings
from etest.models import OutboxEvent
from etest.models.base import utcnow
from etest.outbox import repository
from etest.outbox.errors import OutboxRowNotFound, OutboxRowNotRetryable

STATUSES = ("pending", "running", "done", "dead", "cancelled")
#: Rows an operator may send round again: the worker gave up on them, nobody else will.
RETRYABLE = ("dead", "cancelled")


async def list_rows(
    session: AsyncSession, *, status: str | None = None, topic: str | None = None, limit: int = 50
) -> Sequence[OutboxEvent]:
    """The newest rows first, optionally of one status and topic."""
    return await repository.newest(session, status=status, topic=topic, limit=limit)


async def retry(session: AsyncSession, settings: Settings, row_id: uuid.UUID) -> OutboxEvent:
    """Make a dead or cancelled row due now, with a fresh budget of ``outbox_max_tries`` tries
    (its earlier tries stay recorded, and its id is unchanged: receivers de-duplicate on it)."""
    row = await session.get(OutboxEvent, row_id, with_for_update=True)
    if row is None:
        raise OutboxRowNotFound(f"No outbox row {row_id}.")
    if row.status not in RETRYABLE:
        raise OutboxRowNotRetryable(
            f"The row is {row.status}; only {' or '.join(RETRYABLE)} rows can be retried."
        )
    requeue(row, settings)
    await session.flush()
    return row


def requeue(row: OutboxEvent, settings: Settings) -> None:
    """Make ``row`` due now with a fresh budget of ``outbox_max_tries`` tries (the operator's
    retry and the callback redelivery)."""
    row.status = "pending"
    row.available_at = utcnow()
    row.locked_until = row.locked_by = None
    row.finished_at = None
    row.max_tries = row.tries + settings.outbox_max_tries
