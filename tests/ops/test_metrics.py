"""``GET /metrics``: latency by route template, accepted answers, the database's figures read at
scrape time, the token, and several processes sharing ``PROMETHEUS_MULTIPROC_DIR`` (real uvicorn
processes on loopback)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from structlog.testing import capture_logs

from etest.app import create_app
from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent
from etest.models.base import utcnow
from etest.ops import metrics
from etest.outbox.jobs import enqueue
from tests.attempt.conftest import Taker, make_course, right
from tests.conftest import Headers, unique
from tests.support.server import Server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

LATENCY = "etest_http_request_duration_seconds"


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def named(found: Samples, name: str) -> list[tuple[frozenset[tuple[str, str]], float]]:
    return [(labels, v) for (n, labels), v in found.items() if n == name]


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return samples(resp.text)


async def test_latency_by_route_template_not_raw_path(client: httpx.AsyncClient) -> None:
    attempt = uuid.uuid4()
    count = f"{LATENCY}_count"
    template = {"route": "/api/v1/attempts/{attempt_id}", "method": "GET", "status": "4xx"}
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "4xx"}
    before = await scrape(client)

    assert (await client.get(f"/api/v1/attempts/{attempt}")).status_code in (401, 404)
    assert (await client.get(f"/no/such/page/{attempt}")).status_code == 404
    assert (await client.request("BREW", "/health")).status_code == 405

    resp = await client.get("/metrics")
    after = samples(resp.text)
    assert value(after, count, **template) == value(before, count, **template) + 1
    assert value(after, count, **unmatched) == value(before, count, **unmatched) + 1
    assert value(after, count, route="/health", method="OTHER", status="4xx") >= 1
    assert str(attempt) not in resp.text  # no label per id: bounded cardinality
    assert "BREW" not in resp.text


async def test_not_in_the_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_answers_are_counted(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, plan_content: None
) -> None:
    course = await make_course(app, client, su)
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    assert (await taker.start()).status_code == 201
    before = value(await scrape(client), "etest_answers_accepted_total")

    await taker.run(lambda _, t, k: right(t, k))  # the A1 CT of the course: four items

    after = value(await scrape(client), "etest_answers_accepted_total")
    assert after - before == 4
    # a refused answer (no secret: 404, the attempt is not shown) is not an accepted one
    resp = await client.post(
        f"/api/v1/attempts/{taker.attempt_id}/responses", json={"position": 1, "answer": "x"}
    )
    assert resp.status_code == 404
    assert value(await scrape(client), "etest_answers_accepted_total") == after


async def test_database_figures_at_scrape_time(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Rows of a topic of this test's own: three due (the oldest due an hour ago), one later,
    two dead; and the open attempts and the pool, whatever they are."""
    topic = f"test.{unique('m').lower()}"
    now = utcnow()
    async with transaction(app.state.sessionmaker) as session:
        for ago in (3600, 60, 1):
            await enqueue(
                session, topic, {}, key=unique(), available_at=now - timedelta(seconds=ago)
            )
        await enqueue(session, topic, {}, key=unique(), available_at=now + timedelta(hours=1))
        dead = [await enqueue(session, topic, {}, key=unique()) for _ in range(2)]
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(dead)).values(status="dead")
        )

    found = await scrape(client)

    assert value(found, "etest_metrics_database_up") == 1
    assert value(found, "etest_outbox_pending", topic=topic) == 4
    assert value(found, "etest_outbox_dead", topic=topic) == 2
    assert 3600 <= value(found, "etest_outbox_oldest_due_seconds", topic=topic) < 3600 + 600
    assert ("etest_attempts_in_progress", frozenset()) in found
    assert value(found, "etest_db_pool_size") >= 1
    assert ("etest_db_pool_checked_out", frozenset()) in found


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr("scrape-me")}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_token_required_when_set(guarded: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-me"}):
        resp = await guarded.get("/metrics", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"] == "/errors/unauthorized"
    await scrape(guarded, Authorization="Bearer scrape-me")


async def test_disabled(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/metrics")).status_code == 404


async def test_several_processes_one_directory(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers sharing ``PROMETHEUS_MULTIPROC_DIR``: requests served by one are counted in
    the other's ``/metrics``, and the database figures appear once, not once per process."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    one, two = Server(settings, tmp_path), Server(settings, tmp_path)
    try:
        await one.astart()
        await two.astart()
        async with httpx.AsyncClient(base_url=one.base, timeout=30) as c:
            for _ in range(7):
                assert (await c.get("/health")).status_code == 200
        async with httpx.AsyncClient(base_url=two.base, timeout=30) as c:
            resp = await c.get("/metrics")
    finally:
        one.stop()
        two.stop()
    assert resp.status_code == 200, resp.text
    found = samples(resp.text)
    health = {"route": "/health", "method": "GET", "status": "2xx"}
    # 7 by hand, and the readiness polls of both servers went to /ready, not /health
    assert value(found, f"{LATENCY}_count", **health) == 7
    assert len(list(shared.iterdir())) >= 2  # each process wrote its own files
    assert len(named(found, "etest_attempts_in_progress")) == 1
    assert len(named(found, "etest_metrics_database_up")) == 1


async def test_a_locked_database_does_not_hang_the_scrape(tmp_path: Path) -> None:
    """A SQLite file locked by another connection (its reads wait up to a minute): the read is
    given up on, the next scrape does not start another while it hangs, and the one after the
    lock is gone reads again (here: a file without tables, so it fails at once)."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 60})
    maker = async_sessionmaker(engine)
    try:
        with capture_logs() as logs:
            assert await metrics.read_snapshot(maker, within=0.5) is None
            assert await metrics.read_snapshot(maker, within=0.5) is None
        assert [entry["error"] for entry in logs] == ["TimeoutError", "a previous read still runs"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        hanging = metrics._reading
        assert hanging is not None
        await asyncio.wait({hanging}, timeout=60)
        await engine.dispose()
    with capture_logs() as logs:
        assert await metrics.read_snapshot(maker, within=5) is None
    assert [entry["error"] for entry in logs] == ["OperationalError"]  # no such table
    await engine.dispose()


async def test_an_unreachable_database_gives_up_at_once() -> None:
    engine = create_async_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        with capture_logs() as logs:
            snapshot = await metrics.read_snapshot(async_sessionmaker(engine), within=30)
    finally:
        await engine.dispose()
    assert snapshot is None
    assert [entry["error"] for entry in logs] == ["OperationalError"]
    body, _ = metrics.exposition(None, engine.pool)
    assert b"etest_metrics_database_up 0.0" in body
    assert b"etest_outbox_pending" not in body
