"""Database engines and sessions. Nothing is created at import time: the app and the CLI build
an engine from :class:`~etest.config.Settings` and dispose of it when they stop.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on;
PostgreSQL runs through psycopg 3. Transactions belong to the edge (request, job, CLI command).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
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
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


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
