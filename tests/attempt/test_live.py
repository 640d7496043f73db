"""The candidate hot path (etest.attempt.live): the common step runs on it, without an ORM
session; a broken connection falls back to the full rules without losing or doubling an answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, text

from etest.attempt.live import APPLICATION_NAME
from etest.db import transaction
from etest.models import AttemptItem, Response
from tests.attempt.conftest import Course, Taker, key_of, right


@contextmanager
def engine_statements(app: FastAPI) -> Iterator[list[str]]:
    """The first word of every statement run through SQLAlchemy's engine meanwhile."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql.lstrip().split(None, 1)[0].upper())

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)


async def _answer_right(app: FastAPI, taker: Taker, position: int) -> httpx.Response:
    item_type, key = await key_of(app, taker.attempt_id, position)
    return await taker.answer(position, right(item_type, key))


async def test_a_step_of_a_live_attempt_runs_on_the_hot_path(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    assert (await taker.item())["item"]["position"] == 1  # starts the clock: the full rules
    item_type, key = await key_of(app, taker.attempt_id, 1)
    with engine_statements(app) as statements:
        answered = await taker.answer(1, right(item_type, key))
        served = await taker.item()
    assert answered.status_code == 200 and answered.json()["replay"] is False
    assert served["item"]["position"] == 2 and served["item"]["progress"] == {
        "answered": 1,
        "total": 4,
    }
    if app.state.engine.dialect.name == "postgresql":
        assert statements == []  # the psycopg pool in autocommit: nothing through the engine
    else:  # one transaction per request: the attempt with the served item(s), one insert
        assert statements == ["BEGIN", "SELECT", "INSERT"] * 2
    async with transaction(app.state.sessionmaker) as session:
        stored = await session.get(Response, (uuid.UUID(taker.attempt_id), 1))
        served_row = await session.get(AttemptItem, (uuid.UUID(taker.attempt_id), 2))
    assert stored is not None and stored.correct is True
    assert served_row is not None and served_row.served_at.isoformat().replace(
        "+00:00", "Z"
    ) == served["item"]["served_at"].replace("+00:00", "Z")


async def test_a_broken_hot_connection_falls_back_to_the_full_rules(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("the hot path has its own connections on PostgreSQL only")
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    await taker.item()
    assert (await _answer_right(app, taker, 1)).status_code == 200
    assert (await taker.item())["item"]["position"] == 2

    async def kill_hot_connections() -> int:
        async with app.state.engine.connect() as conn:
            killed = (
                await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": APPLICATION_NAME},
                )
            ).scalar_one()
            await conn.commit()
        return int(killed)

    # what a database restart leaves in the pool: connections that fail on first use
    assert await kill_hot_connections() >= 1
    answered = await _answer_right(app, taker, 2)
    assert answered.status_code == 200 and answered.json()["replay"] is False
    pool = app.state.live._pool  # refilled to its minimum size: all of them to be killed again
    await pool.check()
    await pool.wait()
    assert await kill_hot_connections() >= 1
    served = await taker.item()
    assert served["item"]["position"] == 3
    assert (await _answer_right(app, taker, 3)).status_code == 200  # the pool recovered
    async with transaction(app.state.sessionmaker) as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.attempt_id == uuid.UUID(taker.attempt_id))
        )
    assert stored == 3
