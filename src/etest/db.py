"""Database engines and sessions. Nothing is created at import time: the app and the CLI build
an engine from :class:`~etest.config.Settings` and dispose of it when they stop.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on;
PostgreSQL runs through psycopg 3. Transactions belong to the edge (request, job, CLI command).

A database that is down, going down, unreachable or saturated is not a bug of the request that
met it: :func:`database_unavailable` tells those errors from every other driver error, so that
the edge answers ``503 service-unavailable`` with ``Retry-After`` (``etest.errors``) and
``/ready`` says why, while a genuine fault stays a logged ``500``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from etest.config import Settings


def sync_url(url: str) -> str:
    """The synchronous twin of an async URL (Alembic and scripts run synchronously)."""
    return url.replace("sqlite+aiosqlite", "sqlite", 1)


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file (a fresh checkout has no ./var yet)."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _begin_immediate): the driver's implicit
        # transactions break SAVEPOINT and start too late to take the write lock.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return _on_connect


#: Execution option of read-only sessions (:func:`create_read_sessionmaker`).
READ_ONLY = "etest_read_only"


def _begin_immediate(conn: Any) -> None:
    # Take SQLite's write lock at BEGIN: two deferred transactions that both read and then write
    # fail with SQLITE_BUSY at once (the busy timeout cannot help a lock upgrade); IMMEDIATE ones
    # queue behind the busy timeout instead. Readers in WAL mode are not blocked by it.
    # A read-only session begins deferred: it reads a snapshot and never takes the write lock,
    # so a long report does not hold up candidates' answers.
    conn.exec_driver_sql(
        "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
    )


#: SQLAlchemy's pool on PostgreSQL (per process): ``POOL_SIZE`` kept, ``POOL_OVERFLOW`` more
#: under load. A request that finds them all busy waits at most ``POOL_TIMEOUT`` seconds, then
#: gets ``503 service-unavailable`` (the default, 30 s, held clients long past any proxy's
#: patience). ``CONNECT_TIMEOUT`` bounds a new connection to a host that drops packets instead
#: of refusing them (without it, the kernel's TCP timeout: about two minutes).
#: ``pool_pre_ping`` stays on: it costs one round trip per checkout, which the delivery hot path
#: does not pay (it runs on its own psycopg pool, ``etest.attempt.live``), and it spares every
#: request after a database restart the stale-connection error (``bench/db_outage.py``).
POOL_SIZE = 10
POOL_OVERFLOW = 10
POOL_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        ensure_sqlite_dir(url)
        engine = create_async_engine(
            url, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000}
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas(settings.sqlite_busy_timeout_ms))
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=POOL_TIMEOUT,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for long reads (reports): a snapshot that takes no write lock on SQLite and is
    a ``READ ONLY`` transaction on PostgreSQL (where a replica could serve it later)."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return async_sessionmaker(
        engine.execution_options(**options), expire_on_commit=False, autoflush=False
    )


@asynccontextmanager
async def transaction(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work for CLI commands and jobs: commit on success, roll back on error."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


#: SQLSTATEs of a PostgreSQL server that cannot serve now: class 08 (connection exception), the
#: server shutting down (57P01 admin, 57P02 crash), starting up or recovering (57P03), or full
#: (53300 too many connections). Other operational errors (a statement timeout 57014, a
#: deadlock 40P01, a lock not available 55P03) are about the request, not the database.
_PG_UNAVAILABLE = {
    "57P01": "the database server is shutting down",
    "57P02": "the database server crashed and is restarting",
    "57P03": "the database server is starting up or shutting down",
    "53300": "the database server has too many connections",
}
#: SQLite result codes (primary, the low byte) that mean "not now": the write lock held by
#: another writer beyond the busy timeout (SQLITE_BUSY), or the file cannot be opened.
_SQLITE_UNAVAILABLE = {
    5: "the SQLite database is locked by another writer beyond the busy timeout",
    14: "the SQLite database file cannot be opened",
}
_SECRET = re.compile(r"(password|passwd|pwd)\s*=\s*\S+", re.IGNORECASE)


def _first_line(exc: BaseException) -> str:
    """The driver's own words, first line only, without anything that looks like a secret."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    return _SECRET.sub(r"\1=***", line)[:300]


def database_unavailable(exc: BaseException) -> str | None:
    """Why the database cannot serve right now, in words, when ``exc`` says so; None when
    ``exc`` is any other error (a bug, a constraint, a statement timeout, a deadlock).

    "Unavailable" is: no connection can be made (refused, unreachable, timed out), the
    connection was lost mid-request or invalidated, the server is shutting down or starting up,
    SQLAlchemy's pool or the hot path's psycopg pool is exhausted, the server has too many
    connections, or SQLite's write lock is still held after the busy timeout. The client's
    answer to all of them is the same: come back in a few seconds."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = _unavailable_one(current)
        if reason is not None:
            return reason
        current = getattr(current, "orig", None) or current.__cause__
    return None


def _unavailable_one(exc: BaseException) -> str | None:
    if isinstance(exc, sa_exc.TimeoutError):
        return f"the connection pool is exhausted ({_first_line(exc).split(' (Background')[0]})"
    if isinstance(exc, PoolTimeout):
        return f"the hot path's connection pool is exhausted or cannot connect ({_first_line(exc)})"
    if isinstance(exc, sa_exc.DisconnectionError):
        return f"the database connection was lost ({_first_line(exc)})"
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:  # SQLAlchemy saw a disconnect; the driver may say more
            orig = exc.orig
            has_state = getattr(orig, "sqlstate", None) is not None
            specific = _unavailable_one(orig) if orig is not None and has_state else None
            return specific or f"the database connection was lost ({_first_line(exc.orig or exc)})"
        return None  # its .orig decides
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        if state is None:  # failed on the client side: no server answer at all
            return f"the database is unreachable ({_first_line(exc)})"
        if state in _PG_UNAVAILABLE:
            return f"{_PG_UNAVAILABLE[state]} ({_first_line(exc)})"
        if state.startswith("08"):
            return f"the database connection failed ({_first_line(exc)})"
        return None
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _SQLITE_UNAVAILABLE:
            return f"{_SQLITE_UNAVAILABLE[code & 0xFF]} ({_first_line(exc)})"
        return None
    return None


def pool_exhausted(engine: AsyncEngine) -> str | None:
    """Why SQLAlchemy's pool cannot lend a connection now (every one checked out), else None:
    ``/ready`` answers at once instead of queueing ``POOL_TIMEOUT`` seconds behind the load."""
    pool = engine.pool
    checkedout = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    if checkedout is None or size is None or engine.dialect.name != "postgresql":
        return None
    busy, limit = int(checkedout()), int(size()) + POOL_OVERFLOW
    if busy >= limit:
        return f"the connection pool is exhausted ({busy} of {limit} connections in use)"
    return None
