"""Outbox fixtures: the worker's real context on the session database, and helpers that enqueue
rows of the test topics (``tests/outbox/tasks.py``) and read them back."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.db import transaction
from etest.models import OutboxEvent, OutboxTry
from etest.outbox.jobs import JobContext, enqueue
from etest.tasks import job_context
from tests.conftest import unique
from tests.outbox import tasks  # noqa: F401  (registers the test topics)


@pytest.fixture
def ctx(app: FastAPI) -> JobContext:
    return job_context(app.state.settings, app.state.sessionmaker)


def tuned(ctx: JobContext, **settings: Any) -> JobContext:
    """The context with some settings changed (back-off, lease ...)."""
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=settings))


async def put(
    ctx: JobContext,
    topic: str,
    payload: dict[str, Any] | None = None,
    *,
    n: int = 1,
    max_tries: int | None = None,
) -> list[uuid.UUID]:
    """``n`` new rows of ``topic``, each under a fresh key."""
    async with transaction(ctx.sessionmaker) as session:
        return [
            await enqueue(session, topic, dict(payload or {}), key=unique("k"), max_tries=max_tries)
            for _ in range(n)
        ]


async def row(ctx: JobContext, row_id: uuid.UUID) -> OutboxEvent:
    async with ctx.sessionmaker() as session:
        found = await session.get(OutboxEvent, row_id)
        assert found is not None
        return found


async def tries(ctx: JobContext, row_id: uuid.UUID) -> list[OutboxTry]:
    async with ctx.sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxTry)
                    .where(OutboxTry.event_id == row_id)
                    .order_by(OutboxTry.number, OutboxTry.started_at)
                )
            ).all()
        )


async def wait_status(
    ctx: JobContext, ids: list[uuid.UUID], status: str, within: float = 30.0
) -> None:
    """Wait (bounded by ``within`` s) until every row of ``ids`` has ``status``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with ctx.sessionmaker() as session:
            found = (
                await session.scalars(select(OutboxEvent.status).where(OutboxEvent.id.in_(ids)))
            ).all()
        if len(found) == len(ids) and all(s == status for s in found):
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"rows not {status} after {within} s: {sorted(found)}")
        await asyncio.sleep(0.02)
