"""Imports are rate limited per staff member or API key (``imports-actor``): the candidate
import and the content import, each import counted, refused or not; another actor is not held
back. (A flood of imports is a flood of parsing and writing.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from etest.app import create_app
from etest.config import Settings
from tests.conftest import Tree, create_key

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def limited(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    changes = {"rate_limit_enabled": True, "rate_limits": {"imports-actor": "2/hour"}}
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _too_many(resp: httpx.Response) -> None:
    assert resp.status_code == 429, resp.text[:300]
    assert resp.json()["type"] == "/errors/too-many-requests"
    assert 0 < int(resp.headers["retry-after"]) <= 3600


async def test_candidate_imports_are_counted_per_actor(
    app: FastAPI, settings: Settings, tree: Tree
) -> None:
    mine = await create_key(app, "admin", tree.uic["A"])
    other = await create_key(app, "admin", tree.uic["A"])

    async def send(c: httpx.AsyncClient, key: dict[str, str]) -> httpx.Response:
        return await c.post(
            "/api/v1/candidates/import",
            headers=key,
            files={"file": ("none.csv", b"email,first_name,last_name\n", "text/csv")},
        )

    async with limited(settings) as c:
        assert [(await send(c, mine)).status_code for _ in range(2)] == [200, 200]
        _too_many(await send(c, mine))
        assert (await send(c, other)).status_code == 200


async def test_content_imports_are_counted_per_actor(app: FastAPI, settings: Settings) -> None:
    mine = await create_key(app, "content_manager", None)
    other = await create_key(app, "content_manager", None)

    async def send(c: httpx.AsyncClient, key: dict[str, str]) -> httpx.Response:
        return await c.post(
            "/api/v1/content/import",
            headers=key,
            files={"file": ("broken.json", b"{}", "application/json")},
        )

    async with limited(settings) as c:
        refused = [(await send(c, mine)).status_code for _ in range(2)]
        assert refused == [422, 422]  # refused imports count too
        _too_many(await send(c, mine))
        assert (await send(c, other)).status_code == 422
