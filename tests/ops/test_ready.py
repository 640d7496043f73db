"""``/ready`` by the database's schema: at the head (ready), behind this code (503, run the
migrations), missing (503), or ahead of it (ready: a newer release migrated during a rolling
upgrade, and its migrations only add; ``docs/operations.md``, "Upgrades")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from etest import migrate
from etest.app import create_app
from etest.config import Settings


@pytest.fixture
def database(tmp_path: Path) -> tuple[Settings, Path]:
    path = tmp_path / "ready.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    return Settings(database_url=url, var_dir=tmp_path / "var", sweep_interval=0), path


def _set_revision(path: Path, revision: str | None) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM alembic_version")
        if revision is not None:
            conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))


async def _ready(settings: Settings) -> httpx.Response:
    app = create_app(settings.model_copy(update={"worker_mode": "external"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/ready")


async def test_ready_follows_the_schema(database: tuple[Settings, Path]) -> None:
    settings, path = database
    head = migrate.head_revision()
    assert head is not None
    at_head = await _ready(settings)
    assert at_head.status_code == 200 and at_head.json()["revision"] == head

    _set_revision(path, "0006")  # an older revision this code knows: migrate first
    behind = await _ready(settings)
    assert behind.status_code == 503
    assert behind.json()["reason"] == "schema behind"
    assert "etest db upgrade" in behind.json()["detail"]

    _set_revision(path, None)
    missing = await _ready(settings)
    assert missing.status_code == 503 and missing.json()["reason"] == "schema missing"

    _set_revision(path, "9999_from_a_newer_release")
    ahead = await _ready(settings)
    assert ahead.status_code == 200, ahead.text
    assert ahead.json() == {
        "status": "ready",
        "revision": "9999_from_a_newer_release",
        "schema": "ahead",
    }


def test_known_revisions() -> None:
    head = migrate.head_revision()
    assert head is not None and migrate.known_revision(head)
    assert migrate.known_revision("0001")
    assert not migrate.known_revision("9999_from_a_newer_release")
