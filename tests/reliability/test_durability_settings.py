"""The database settings that the durability promise rests on (docs/reliability.md), as the
server's own engine sees them: SQLite in WAL mode with a busy timeout and foreign keys;
PostgreSQL committing synchronously with fsync on."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from etest.config import Settings


async def test_database_settings_behind_the_acknowledgement(
    app: FastAPI, settings: Settings
) -> None:
    async with app.state.engine.connect() as conn:
        if settings.is_sqlite:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert int((await conn.execute(text("PRAGMA busy_timeout"))).scalar()) >= 5000
            # NORMAL (1) in WAL: a commit survives the process being killed, not a power cut
            assert int((await conn.execute(text("PRAGMA synchronous"))).scalar()) in (1, 2)
            assert int((await conn.execute(text("PRAGMA foreign_keys"))).scalar()) == 1
        else:
            assert (await conn.execute(text("SHOW synchronous_commit"))).scalar() == "on"
            assert (await conn.execute(text("SHOW fsync"))).scalar() == "on"
