from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.apikey import create_api_key, revoke_api_key
from etest.cli import cli_actor
from etest.db import transaction
from etest.errors import NotFound, Unprocessable
from etest.models import ApiKey, AuditEntry
from tests.conftest import Tree


async def test_key_lifecycle(app: FastAPI, client: httpx.AsyncClient, tree: Tree) -> None:
    async with transaction(app.state.sessionmaker) as session:
        key = await create_api_key(
            session,
            app.state.settings,
            cli_actor(),
            role="viewer",
            uic=tree.uic["A"],
            name="dashboard",
        )
    prefix = key.split("_")[1]
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/organizations", headers=headers)).status_code == 200
    async with transaction(app.state.sessionmaker) as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert row is not None and row.last_used_at is not None
        assert key not in (row.digest, row.prefix, row.name)
        audit = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "apikey.create", AuditEntry.target_id == prefix
            )
        )
        assert audit is not None
        await revoke_api_key(session, cli_actor(), prefix)
    resp = await client.get("/api/v1/organizations", headers=headers)
    assert resp.status_code == 401
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert (
        await client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {tampered}"})
    ).status_code == 401


async def test_key_creation_errors(app: FastAPI) -> None:
    async with transaction(app.state.sessionmaker) as session:
        with pytest.raises(Unprocessable):
            await create_api_key(session, app.state.settings, cli_actor(), role="god", uic=None)
        with pytest.raises(Unprocessable):
            await create_api_key(session, app.state.settings, cli_actor(), role="admin", uic=None)
        with pytest.raises(NotFound):
            await create_api_key(
                session,
                app.state.settings,
                cli_actor(),
                role="admin",
                uic=f"NOPE{uuid.uuid4().hex}",
            )


async def test_missing_or_wrong_scheme(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        resp = await client.get("/api/v1/candidates", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json()["type"] == "/errors/unauthorized"
