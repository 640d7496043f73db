"""``/docs`` works offline: Swagger UI comes from the ``swagger-ui-bundle`` package, never a CDN,
and the page runs under a Content-Security-Policy that allows scripts from the service only.

Before: FastAPI's default page loaded Swagger UI from cdn.jsdelivr.net, so it was blank on a
machine without internet access, and it sent no CSP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import ARTIFACTS, artifacts, browser, web_server  # noqa: F401

pytestmark = pytest.mark.asyncio


async def test_the_docs_page_names_no_other_host_and_sends_a_csp(web_server: str) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=web_server) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        # every script and stylesheet is a path on this service
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for path in sources:
            assert (await client.get(path)).status_code == 200, path
        assert "<script>" not in page.text  # no inline script: the CSP would block it


async def test_swagger_ui_renders_the_api_with_every_other_host_unreachable(
    web_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    refused: list[str] = []
    violations: list[str] = []

    async def offline(route: Any) -> None:
        # the machine is offline for this page: anything not on the service fails
        if route.request.url.startswith(web_server):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    await page.route("**/*", offline)
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        await page.goto(f"{web_server}/docs")
        # Swagger UI has read /openapi.json and drawn the operations
        await page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/api/v1/attempts" in p for p in paths), paths[:10]
        await page.screenshot(path=str(artifacts / "docs-offline.png"))
    finally:
        await context.close()
    assert refused == []
    assert violations == []
