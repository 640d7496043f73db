"""A throwaway database per test session: a SQLite file, or a fresh PostgreSQL database created
on the server named by ``ETEST_TEST_DATABASE_URL`` and dropped at the end."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


@contextlib.contextmanager
def throwaway_database(tmp_dir: Path) -> Iterator[str]:
    base = os.environ.get("ETEST_TEST_DATABASE_URL", "")
    if not base or base.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_dir / 'etest-test.db'}"
        return
    url = make_url(base)
    name = f"etest_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
