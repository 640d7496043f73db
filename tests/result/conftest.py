"""One small world of real, finished attempts for the results tests (built once per module: each
attempt runs through the candidate API), and a counter of the SQL statements a request runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers, create_candidate, create_key, create_org


def all_right(_: int, t: str, k: dict[str, Any]) -> Any:
    return right(t, k)


def all_wrong(_: int, t: str, k: dict[str, Any]) -> Any:
    return wrong(t, k)


@dataclass
class World:
    """P (the course's organization) with children A and B, and A1 below A.

    Finished, in this order: ``pt_a`` (candidate ``a``, all right, placed A2), ``pt_a1``
    (``a1``, all wrong, A1) — then ``mid`` — ``ct_a`` (``a``, CT A1 passed), ``ct_a1`` (``a1``,
    CT A1 failed), ``ct_b`` (``b``, CT A1 passed), ``pt_b`` (``b``, placed A1). ``running`` is a
    PT of candidate ``p`` that has served one item and is not finished."""

    course: Course
    uic: dict[str, str]
    key: dict[str, Headers]
    candidate: dict[str, dict[str, Any]]
    attempt: dict[str, str]
    outcome: dict[str, dict[str, Any]]
    before: datetime
    mid: datetime
    after: datetime


async def _run(
    app: FastAPI,
    client: httpx.AsyncClient,
    course: Course,
    world: World,
    name: str,
    candidate: str,
    kind: str,
    policy: Any,
) -> None:
    level = "A1" if kind == "CT" else None
    taker = Taker(
        app, client, await course.token(client, kind, level, candidate=world.candidate[candidate])
    )
    started = await taker.start()
    assert started.status_code == 201, started.text
    state = await taker.run(policy)
    world.attempt[name] = taker.attempt_id
    world.outcome[name] = state["outcome"]


@pytest.fixture(scope="module")
async def world(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> World:
    course = await make_course(app, client, su)
    uic = {"P": course.uic}
    for name, parent in (("A", "P"), ("B", "P"), ("A1", "A")):
        uic[name] = (
            await create_org(client, su, parent=uic[parent], name=name, plan_code=course.plan)
        )["uic"]
    key = {
        "P": course.admin,
        "A": await create_key(app, "admin", uic["A"]),
        "B": await create_key(app, "admin", uic["B"]),
        "A1": await create_key(app, "admin", uic["A1"]),
        "viewer_A": await create_key(app, "viewer", uic["A"]),
    }
    candidate = {"p": course.candidate}
    for name, org in (("a", "A"), ("a1", "A1"), ("b", "B")):
        candidate[name] = await create_candidate(
            client, course.admin, uic=uic[org], first_name=f"First-{name}", last_name=f"Last-{name}"
        )
    w = World(
        course, uic, key, candidate, {}, {}, datetime.now(UTC), datetime.now(UTC), datetime.now(UTC)
    )
    await _run(app, client, course, w, "pt_a", "a", "PT", all_right)
    await _run(app, client, course, w, "pt_a1", "a1", "PT", all_wrong)
    w.mid = datetime.now(UTC)
    await _run(app, client, course, w, "ct_a", "a", "CT", all_right)
    await _run(app, client, course, w, "ct_a1", "a1", "CT", all_wrong)
    await _run(app, client, course, w, "ct_b", "b", "CT", all_right)
    await _run(
        app,
        client,
        course,
        w,
        "pt_b",
        "b",
        "PT",
        lambda n, t, k: right(t, k) if n < 4 else wrong(t, k),
    )
    w.after = datetime.now(UTC)
    running = Taker(app, client, await course.token(client, "PT"))
    assert (await running.start()).status_code == 201
    await running.item()
    w.attempt["running"] = running.attempt_id
    return w


@contextmanager
def queries(app: FastAPI) -> Iterator[list[str]]:
    """The SELECT statements run while the block runs, except the API key lookup (the
    credential, not the work of the endpoint under test)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "api_keys" not in statement:
            seen.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
