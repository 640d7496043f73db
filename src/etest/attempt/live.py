"""Storage of the candidate hot path: the two requests a candidate makes per item (get the item,
post the answer) run a handful of pre-built Core statements, and nothing else.

A :class:`Live` unit is what one such request sees of the database:

* **PostgreSQL**: a connection from a psycopg pool (``psycopg_pool``) in autocommit mode. Each
  statement commits on its own, so an answer's ``INSERT`` is durable when it returns and the
  request spends no round trips on ``BEGIN`` and ``COMMIT``; the statements are SQLAlchemy Core,
  compiled once for psycopg and run on the driver directly (SQLAlchemy's pool, session and result
  layers cost more CPU than the round trips themselves: ``bench/delivery_queries.py``).
  Autocommit changes nothing about what the statements may see: PostgreSQL runs them in READ
  COMMITTED, where each statement of a transaction sees what was committed before it started
  anyway, and every write here is a single ``INSERT … ON CONFLICT DO NOTHING``.
* **SQLite** (and the slow path on any database): SQLAlchemy's connection or the request's ORM
  session, in a ``BEGIN IMMEDIATE`` transaction committed before the response.

Only the common case runs here (serve the next new item, accept the first answer at a served
position); everything else (finishing, timers that ran out, replays, resumes, races) goes to the
full rules in :mod:`etest.attempt.service` on an ORM session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import psycopg
import structlog
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import JSON, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement, Executable

log = structlog.get_logger(__name__)
#: What the hot path's connections are called in ``pg_stat_activity``.
APPLICATION_NAME = "etest-live"
T = TypeVar("T")

# The pool size of the hot path's own psycopg pool (per process). Each request holds a
# connection for a few milliseconds, so a few connections serve hundreds of candidates.
POOL_MIN = 2
POOL_MAX = 10


class Live(Protocol):
    """One hot-path request's access to the database."""

    async def rows(self, stmt: Executable, params: dict[str, Any]) -> Sequence[Any]:
        """All rows of a SELECT (attribute access by column name)."""
        ...

    async def insert_new(self, table: Table, values: dict[str, Any]) -> bool:
        """``INSERT … ON CONFLICT DO NOTHING``: True when this request wrote the row, False when
        a concurrent request (another device) wrote it first."""
        ...


_INSERTS: dict[tuple[str, str], Any] = {}


def _insert(dialect: str, table: Table) -> Any:
    """The table's ``INSERT … ON CONFLICT DO NOTHING RETURNING <last key column>``, built once."""
    stmt = _INSERTS.get((dialect, table.name))
    if stmt is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = _INSERTS[(dialect, table.name)] = (
            insert(table)
            .on_conflict_do_nothing()
            .returning(table.c[table.primary_key.columns.keys()[-1]])
        )
    return stmt


class _SqlaLive:
    """:class:`Live` on SQLAlchemy: an ``AsyncConnection`` or an ``AsyncSession``."""

    def __init__(self, executor: AsyncConnection | AsyncSession, dialect: str) -> None:
        self._executor = executor
        self._dialect = dialect

    async def rows(self, stmt: Executable, params: dict[str, Any]) -> Sequence[Any]:
        return (await self._executor.execute(stmt, params)).all()

    async def insert_new(self, table: Table, values: dict[str, Any]) -> bool:
        result = await self._executor.execute(_insert(self._dialect, table), values)
        return result.first() is not None


def session_live(session: AsyncSession) -> Live:
    """The slow path's :class:`Live`: the request's ORM session (its transaction)."""
    assert session.bind is not None
    return _SqlaLive(session, session.bind.dialect.name)


class _PsycopgLive:
    """:class:`Live` on a psycopg connection in autocommit mode: the Core statements compiled
    once for psycopg (named ``%(name)s`` parameters), JSON values wrapped for the driver."""

    _SQL: dict[tuple[int, tuple[str, ...]], tuple[str, frozenset[str]]] = {}

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    def _compiled(
        cls, stmt: Executable | Table, columns: tuple[str, ...] = ()
    ) -> tuple[str, frozenset[str]]:
        key = (id(stmt), columns)
        found = cls._SQL.get(key)
        if found is None:
            if columns:
                assert isinstance(stmt, Table)
                json = frozenset(c for c in columns if isinstance(stmt.c[c].type, JSON))
                sql = str(
                    _insert("postgresql", stmt).compile(dialect=_PSYCOPG, column_keys=list(columns))
                )
            else:
                assert isinstance(stmt, ClauseElement)
                json, sql = frozenset(), str(stmt.compile(dialect=_PSYCOPG))
            found = cls._SQL[key] = (sql, json)
        return found

    async def rows(self, stmt: Executable, params: dict[str, Any]) -> Sequence[Any]:
        sql, _ = self._compiled(stmt)
        cur = await self._conn.execute(sql, params)
        return await cur.fetchall()  # type: ignore[no-any-return]

    async def insert_new(self, table: Table, values: dict[str, Any]) -> bool:
        sql, json = self._compiled(table, tuple(values))
        params = {k: Json(v) if k in json else v for k, v in values.items()}
        cur = await self._conn.execute(sql, params)
        return await cur.fetchone() is not None


_PSYCOPG = psycopg_dialect()  # type: ignore[no-untyped-call]


class LiveSource:
    """Where hot-path requests get their :class:`Live`: a psycopg pool on PostgreSQL (opened
    and closed with the app), the app's SQLAlchemy engine on SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pool: AsyncConnectionPool[Any] | None = None
        if engine.dialect.name == "postgresql":
            url = make_url(engine.url.render_as_string(hide_password=False))
            conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._pool = AsyncConnectionPool(
                conninfo,
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                open=False,
                kwargs={
                    "autocommit": True,
                    "row_factory": namedtuple_row,
                    "application_name": APPLICATION_NAME,
                },
                configure=_utc,
                name="etest-live",
                # a database outage falls back to the slow path (which answers 503) in 2 s, not
                # in psycopg's default 30 s; a busy pool under honest load waits far less
                timeout=2.0,
            )

    async def open(self) -> None:
        if self._pool is not None:
            await self._pool.open(wait=False)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def run(self, fn: Callable[[Live], Awaitable[T]]) -> T | None:
        """``fn`` on one request's :class:`Live` (SQLite: in a transaction committed on a clean
        return). ``None`` when PostgreSQL's connection fails (a pooled connection left stale by
        a database restart, a deadlock, the pool exhausted): the caller then runs the full rules
        on SQLAlchemy's pre-pinged pool, which find whatever this request committed (an answer
        stored just before the connection broke is acknowledged as a replay). So the hot pool
        spends no round trip on a liveness check per request; the pool drops a broken
        connection when it comes back."""
        if self._pool is None:
            async with self._engine.begin() as conn:
                return await fn(_SqlaLive(conn, self._engine.dialect.name))
        try:
            async with self._pool.connection() as conn:
                return await fn(_PsycopgLive(conn))
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # info: the slow path that follows says what the request met (a 503 is logged once)
            log.info("live_connection_failed", error=str(exc))
            return None


async def _utc(conn: Any) -> None:
    # timestamps come back in UTC like SQLAlchemy's (etest.models.base.UTCDateTime)
    await conn.execute("SET TIME ZONE 'UTC'")
