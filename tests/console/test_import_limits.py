"""The console's imports count against the same per-actor limit as the API's (``imports-actor``):
past it, the upload answers the console's 429 page with ``Retry-After`` and starts no task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from etest.app import create_app
from etest.config import Settings
from tests.console.conftest import ConsoleClient, make_staff

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def limited(settings: Settings) -> AsyncIterator[tuple[FastAPI, ConsoleClient]]:
    changes = {"rate_limit_enabled": True, "rate_limits": {"imports-actor": "2/hour"}}
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", follow_redirects=True
        ) as c:
            yield application, ConsoleClient(c)


async def test_console_content_uploads_are_counted_per_staff_member(settings: Settings) -> None:
    async with limited(settings) as (application, console):
        staff = await make_staff(application, "content_manager", None)
        await console.sign_in(staff)

        async def upload() -> httpx.Response:
            await console.get("/console/content")
            return await console.post(
                "/console/content",
                data={"skill": "reading"},
                files={"file": ("broken.json", b"{}", "application/json")},
            )

        started = [await upload() for _ in range(2)]
        assert [r.status_code for r in started] == [200, 200]
        assert all("/console/content/tasks/" in str(r.url) for r in started)
        refused = await upload()
        assert refused.status_code == 429, refused.text[:300]
        assert 0 < int(refused.headers["retry-after"]) <= 3600
        assert "Too many tries" in refused.text
        assert "/console/content/tasks/" not in str(refused.url)
