"""A lost database answers 503 with Retry-After, keeps every connection, and recovers by itself.

A PostgreSQL cluster of the test's own (never the shared server) is stopped and started under a
real server with clients running (``tests/support/outage.py``): every request gets an answer on
the connection it was sent on, the answers are 2xx or ``503 service-unavailable`` with
``Retry-After``, ``/ready`` says why it is not ready, ``/health`` stays 200, and after the
start requests succeed again without restarting the server, with no acknowledged answer lost.

The unit tests of :func:`etest.db.database_unavailable` use exceptions captured from a real
stopped, restarted and saturated server, and from a real locked SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from etest.db import (
    POOL_OVERFLOW,
    POOL_SIZE,
    create_engine,
    database_unavailable,
    pool_exhausted,
)
from tests.support.outage import outage_settings, prepare, run_outage
from tests.support.pgcluster import PgCluster, pg_cluster, skip_reason
from tests.support.server import Server

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

CLIENTS = 6


@pytest.fixture(scope="module")
def made_cluster() -> Iterator[tuple[PgCluster, str]]:
    with pg_cluster() as made:
        yield made


@pytest.fixture
def cluster(made_cluster: tuple[PgCluster, str]) -> tuple[PgCluster, str]:
    """The module's cluster, running (a failed test may have left it stopped)."""
    pg, _ = made_cluster
    if not pg.running:
        pg.start()
    return made_cluster


async def _capture(engine: AsyncEngine, sql: str = "SELECT 1") -> BaseException:
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    except Exception as exc:
        return exc
    raise AssertionError(f"{sql!r} did not fail")


async def test_unavailable_tells_outages_from_faults(
    cluster: tuple[PgCluster, str], tmp_path: Path
) -> None:
    pg, url = cluster
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    faults: dict[str, BaseException] = {}
    outages: dict[str, BaseException] = {}
    try:
        # faults of the request, not of the database: never "unavailable"
        faults["statement timeout"] = await _capture(
            engine, "SET LOCAL statement_timeout = 50; SELECT pg_sleep(1)"
        )
        faults["division by zero"] = await _capture(engine, "SELECT 1/0")
        faults["unknown table"] = await _capture(engine, "SELECT * FROM no_such_table")
        faults["constraint"] = await _capture(
            engine, "CREATE TEMP TABLE t (x int PRIMARY KEY); INSERT INTO t VALUES (1), (1)"
        )
        # the pool exhausted
        held = await engine.connect()
        await held.execute(text("SELECT 1"))
        outages["pool exhausted"] = await _capture(engine)
        # lost mid-query: the server shuts down under a running statement
        running = asyncio.create_task(_capture(engine, "SELECT pg_sleep(30)"))
        await held.close()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(pg.stop, "fast")
        outages["shut down mid-query"] = await running
        outages["refused"] = await _capture(engine)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            pg.dsn(), min_size=1, max_size=1, open=False
        )
        await pool.open(wait=False)
        try:
            async with pool.connection(timeout=0.5):
                pass
        except Exception as exc:
            outages["hot pool timeout"] = exc
        finally:
            await pool.close()
        try:
            await psycopg.AsyncConnection.connect(pg.dsn())
        except Exception as exc:
            outages["refused (driver)"] = exc
        # a pooled connection that outlived an immediate stop
        await asyncio.to_thread(pg.start)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await asyncio.to_thread(pg.stop, "immediate")
        outages["stale after crash"] = await _capture(engine)
    finally:
        if not pg.running:
            await asyncio.to_thread(pg.start)
        await engine.dispose()
    # SQLite: the write lock held by another writer beyond the busy timeout
    sqlite_engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}", connect_args={"timeout": 0.05}
    )
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        outages["sqlite locked"] = await _capture(sqlite_engine, "BEGIN IMMEDIATE")
    finally:
        holder.close()
        await sqlite_engine.dispose()

    assert {k: database_unavailable(v) for k, v in faults.items()} == dict.fromkeys(faults)
    reasons = {k: database_unavailable(v) for k, v in outages.items()}
    assert all(reasons.values()), reasons
    assert "pool is exhausted" in str(reasons["pool exhausted"])
    assert "shutting down" in str(reasons["shut down mid-query"])
    assert "Connection refused" in str(reasons["refused"])
    assert "hot path" in str(reasons["hot pool timeout"])
    assert "lost" in str(reasons["stale after crash"])
    assert "locked" in str(reasons["sqlite locked"])
    # in words: one line, no password (the URL has none; the reason must not invent one)
    assert all("\n" not in str(r) for r in reasons.values())


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_outage_answers_503_keeps_connections_and_recovers(
    cluster: tuple[PgCluster, str], tmp_path: Path, mode: str
) -> None:
    pg, url = cluster
    prepared = await prepare(url, tmp_path / "var", CLIENTS)
    server = Server(prepared.settings, tmp_path)
    try:
        await server.astart()
        outage = await run_outage(pg, server, prepared, clients=CLIENTS, mode=mode)
    finally:
        server.kill()
    log = server.log_path.read_text(errors="replace")
    summary = f"{outage}\n--- server log tail:\n{server.log_tail()}"
    print(outage)  # the figures, for -s runs

    # every request got an answer, on the connection it was sent on
    assert outage.sent == outage.answered, summary
    assert outage.connections == [1] * CLIENTS, summary
    # nothing but success and a proper 503 (problem+json, Retry-After), none of it a 500
    assert outage.bad == [], summary
    down = outage.counts["down"]
    assert down.get("503", 0) >= 2 * CLIENTS, summary
    assert set(down) <= {"200", "201", "503"}, summary
    # /ready says why, /health is alive
    (ready,) = outage.ready_down
    assert ready["status"] == 503 and ready["type"] == "/errors/not-ready", summary
    assert "Connection refused" in ready["reason"], summary
    assert outage.health_down == [200], summary
    # back without a restart of the server, every acknowledged answer kept
    assert outage.recover_seconds is not None, summary
    assert outage.ready_after == 200, summary
    assert outage.lost == {}, summary
    # logged as warnings, once per request, never as a stack trace
    assert "database_unavailable" in log, summary
    assert "Traceback" not in log and "unhandled_error" not in log, summary


async def test_pool_exhausted_is_seen_without_waiting(
    cluster: tuple[PgCluster, str], tmp_path: Path
) -> None:
    _, url = cluster
    engine = create_engine(outage_settings(url, tmp_path))
    held = []
    try:
        assert pool_exhausted(engine) is None
        for _ in range(POOL_SIZE + POOL_OVERFLOW):
            conn = await engine.connect()
            await conn.execute(text("SELECT 1"))
            held.append(conn)
        reason = pool_exhausted(engine)
        assert reason is not None and f"{POOL_SIZE + POOL_OVERFLOW} of" in reason
        await held.pop().close()
        assert pool_exhausted(engine) is None
    finally:
        for conn in held:
            await conn.close()
        await engine.dispose()


async def test_take_page_is_a_503_page_while_down(
    cluster: tuple[PgCluster, str], tmp_path: Path
) -> None:
    pg, url = cluster
    prepared = await prepare(url, tmp_path / "var", 1)
    server = Server(prepared.settings, tmp_path)
    try:
        await server.astart()
        await asyncio.to_thread(pg.stop, "fast")
        try:
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as browser:
                resp = await browser.get("/take", params={"token": prepared.tokens[0]})
        finally:
            await asyncio.to_thread(pg.start)
    finally:
        server.kill()
    assert resp.headers["content-type"].startswith("text/html"), resp.text[:300]
    assert resp.status_code == 503, resp.text[:300]
    assert int(resp.headers["retry-after"]) >= 1


def test_cluster_is_not_the_shared_server(cluster: tuple[PgCluster, str]) -> None:
    pg, url = cluster
    assert pg.port != 5432 and f":{pg.port}/" in url
