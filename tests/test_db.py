"""Read-only sessions (reports): on SQLite they take no write lock, so a long report never holds
up candidates' answers; on PostgreSQL they are READ ONLY transactions."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from etest.config import Settings
from etest.db import create_engine, create_sessionmaker, transaction
from etest.models import AuditEntry, Organization


async def _write_without_waiting(settings: Settings) -> None:
    """Commit one row through an engine that does not wait for locks (busy timeout 0)."""
    impatient = create_engine(settings.model_copy(update={"sqlite_busy_timeout_ms": 0}))
    try:
        async with transaction(create_sessionmaker(impatient)) as session:
            await session.execute(
                insert(AuditEntry).values(
                    id=uuid.uuid4(),
                    actor="test",
                    actor_role="superadmin",
                    action="db.lock-check",
                    target_type="test",
                    target_id="x",
                )
            )
    finally:
        await impatient.dispose()


async def test_a_reader_leaves_the_write_lock_free(app: FastAPI, settings: Settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("SQLite's write lock")
    async with app.state.read_sessionmaker() as reader:
        assert await reader.scalar(select(func.count()).select_from(Organization)) is not None
        assert reader.in_transaction()
        await _write_without_waiting(settings)
    # the control: an ordinary session holds the lock from its first statement on
    async with app.state.sessionmaker() as writer:
        await writer.scalar(select(func.count()).select_from(Organization))
        with pytest.raises(OperationalError, match="locked"):
            await _write_without_waiting(settings)
        await writer.rollback()


async def test_a_reader_cannot_write(app: FastAPI, settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's READ ONLY transactions")
    async with app.state.read_sessionmaker() as reader:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await reader.execute(
                insert(AuditEntry).values(
                    id=uuid.uuid4(),
                    actor="test",
                    actor_role="superadmin",
                    action="db.read-only",
                    target_type="test",
                    target_id="x",
                )
            )
