"""The queries of ``/metrics``: what the database says about the service at scrape time.

Each is an indexed count or minimum (``attempts`` through the partial index of open attempts,
``outbox`` through ``ix_outbox_due`` and its status index), run on a read-only session; the
caller bounds the whole read with a short timeout (``etest.ops.metrics``), and on PostgreSQL a
``statement_timeout`` makes the server give up too, so a slow database costs a scrape one
missing family, never a hung connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import Attempt, OutboxEvent
from etest.models.attempt import AttemptStatus


@dataclass(frozen=True)
class Snapshot:
    """The database's figures at one scrape."""

    attempts_in_progress: int
    #: Per topic: pending rows (due now or later), and rows running.
    outbox_pending: dict[str, int] = field(default_factory=dict)
    outbox_running: dict[str, int] = field(default_factory=dict)
    #: Per topic: seconds since the oldest pending row became due (0 when none is due).
    outbox_oldest_due_seconds: dict[str, float] = field(default_factory=dict)
    outbox_dead: dict[str, int] = field(default_factory=dict)


async def limit_statement_time(session: AsyncSession, milliseconds: int) -> None:
    """On PostgreSQL, make the server cancel any statement of this transaction that runs longer
    than ``milliseconds`` (SQLite has no such knob; its reads here are local and short)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"SET LOCAL statement_timeout = {int(milliseconds)}"))


async def snapshot(session: AsyncSession, now: datetime) -> Snapshot:
    """Four grouped reads: open attempts, and the outbox by status and topic."""
    in_progress = await session.scalar(
        select(func.count()).select_from(Attempt).where(Attempt.status == AttemptStatus.in_progress)
    )
    by_status = (
        await session.execute(
            select(OutboxEvent.status, OutboxEvent.topic, func.count())
            .where(OutboxEvent.status.in_(("pending", "running", "dead")))
            .group_by(OutboxEvent.status, OutboxEvent.topic)
        )
    ).all()
    oldest = (
        await session.execute(
            select(OutboxEvent.topic, func.min(OutboxEvent.available_at))
            .where(OutboxEvent.status == "pending", OutboxEvent.available_at <= now)
            .group_by(OutboxEvent.topic)
        )
    ).all()
    counts: dict[str, dict[str, int]] = {"pending": {}, "running": {}, "dead": {}}
    for status, topic, count in by_status:
        counts[status][topic] = int(count)
    ages = dict.fromkeys(counts["pending"], 0.0)
    for topic, since in oldest:
        if since is not None:
            ages[topic] = max(0.0, (now - _aware(since, now)).total_seconds())
    return Snapshot(
        attempts_in_progress=int(in_progress or 0),
        outbox_pending=counts["pending"],
        outbox_running=counts["running"],
        outbox_oldest_due_seconds=ages,
        outbox_dead=counts["dead"],
    )


def _aware(value: datetime, like: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored in UTC); compare like with like."""
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value
