"""Backup and restore as ``docs/operations.md`` tells an operator to do them: ``pg_dump`` in
custom format of a database with real content (the demo bank loaded by ``etest demo``, its
media files, and a placement test taken to its end), the media folder copied beside it,
``pg_restore`` into a fresh database, and a real ``etest serve`` process on the copy that
answers the same result, the same media file, the same API key and test token (the digests
keep working because the pepper, ``ETEST_SECRET_KEY``, is part of what is kept).

PostgreSQL only; both databases are the test's own (created and dropped here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from etest import migrate
from etest.app import create_app
from etest.config import Settings
from tests.attempt.conftest import Taker, right
from tests.support.databases import throwaway_database
from tests.support.server import PEPPER, Server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("ETEST_TEST_DATABASE_URL", "").startswith("postgresql"),
        reason="pg_dump and pg_restore: a PostgreSQL deployment's backup",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 300.0  # `etest demo` publishes the demo placement test with its evidence


def libpq(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, as pg_dump and pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def etest(database_url: str, var_dir: Path, *args: str) -> str:
    """Run the ``etest`` CLI as an operator does, on the given database and var folder."""
    env = {
        **os.environ,
        "ETEST_DATABASE_URL": database_url,
        "ETEST_VAR_DIR": str(var_dir),
        "ETEST_SECRET_KEY": PEPPER,
        "ETEST_LOG_LEVEL": "WARNING",
        "ETEST_ENV": "test",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from etest.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"etest {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def run(*command: str) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{command[0]}: {done.stderr}"


def revision(url: str) -> str | None:
    engine = create_engine(url)  # psycopg 3 serves the sync engine too
    try:
        with engine.connect() as conn:
            return migrate.current_revision(conn)
    finally:
        engine.dispose()


async def test_pg_dump_restore_round_trip_with_the_media_folder(
    settings: Settings, tmp_path: Path
) -> None:
    var, restored_var = tmp_path / "var", tmp_path / "restored-var"
    dump = tmp_path / "etest.dump"
    with (
        throwaway_database(tmp_path) as source_url,
        throwaway_database(tmp_path) as restored_url,
    ):
        # content as an operator makes it: migrate, load the demo
        etest(source_url, var, "db", "upgrade")
        etest(source_url, var, "demo")
        admin = {"Authorization": f"Bearer {(var / 'demo_api_key').read_text().strip()}"}
        token = (var / "demo_pt_token").read_text().strip()

        # the demo candidate takes the placement test to its end
        source = settings.model_copy(update={"database_url": source_url, "var_dir": var})
        app = create_app(source)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                taker = Taker(app, c, token)
                assert (await taker.start()).status_code == 201
                state = await taker.run(lambda _, t, k: right(t, k))
                assert state["status"] == "completed", state
                before = await c.get(f"/api/v1/results/{taker.attempt_id}", headers=admin)
                assert before.status_code == 200, before.text
                items = await c.get("/api/v1/items", headers=admin, params={"per_page": 1})
                assert items.status_code == 200, items.text
                media = sorted(p for p in (var / "media").rglob("*") if p.is_file())
                # an item's picture or recording (public: a candidate's photo would be 404)
                for shown in media:
                    if (await c.get(f"/media/{shown.name}")).status_code == 200:
                        break
                else:
                    pytest.fail(f"none of the {len(media)} stored media files is served")

        # back up: the database in custom format, the media folder beside it
        run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={libpq(source_url)}")
        shutil.copytree(var / "media", restored_var / "media")

        # restore into a fresh database and serve it
        run(
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            f"--dbname={libpq(restored_url)}",
            str(dump),
        )
        assert revision(restored_url) == migrate.head_revision()
        server = Server(
            settings.model_copy(update={"database_url": restored_url, "var_dir": restored_var}),
            tmp_path,
        )
        try:
            server.start()
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
                after = await http.get(f"/api/v1/results/{taker.attempt_id}", headers=admin)
                assert after.status_code == 200, after.text
                assert after.json() == before.json()
                again = await http.get("/api/v1/items", headers=admin, params={"per_page": 1})
                assert again.json()["total"] == items.json()["total"] > 0
                resumed = await http.post("/api/v1/attempts", json={"token": token})
                body: dict[str, Any] = resumed.json()
                assert resumed.status_code == 200 and body["resumed"], resumed.text
                assert body["attempt_id"] == taker.attempt_id
                assert body["state"]["status"] == "completed"
                # the item's media file is served from the copied folder, byte for byte
                got = await http.get(f"/media/{shown.name}")
                assert got.status_code == 200, got.text
                assert got.content == shown.read_bytes()
        finally:
            server.kill()
    print(
        f"\nbackup: pg_dump {dump.stat().st_size / 1e6:.1f} MB (custom format), media "
        f"{len(media)} files {sum(p.stat().st_size for p in media) / 1e6:.1f} MB; restored: "
        f"the result, {items.json()['total']} items, the token and a media file served"
    )
