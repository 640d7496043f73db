"""Whether the database is free of other transactions right now: the probe of the tests that
prove slow work (the certificate PDF) runs after its transaction has ended.

On SQLite a writing transaction holds the write lock from its ``BEGIN IMMEDIATE`` (see
``etest.db``): the probe tries to take that lock on a connection of its own, without waiting.
On PostgreSQL it asks ``pg_stat_activity`` for another session idle inside a transaction."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

_IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
)


async def database_is_free(app: FastAPI) -> bool:
    settings = app.state.settings
    if settings.is_sqlite:
        conn = sqlite3.connect(
            make_url(settings.database_url).database, timeout=0.2, isolation_level=None
        )
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:  # database is locked
            return False
        finally:
            conn.close()
    async with app.state.engine.connect() as conn:
        return await conn.scalar(_IDLE_IN_TRANSACTION) == 0
