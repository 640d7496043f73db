"""A test embedded in a platform's page, in Chromium: the parent page is served on another site
(``http://localhost:<port>``, a tiny aiohttp server) and frames eTest (``http://127.0.0.1``).
The organization lists the parent's origin: the test is taken inside the frame and the parent
receives ``etest:started``, ``etest:answered`` (each position) and ``etest:finished`` with the
attempt id, in order, from eTest's origin only. An organization without the origin is refused
framing (``frame-ancestors 'none'``: the frame's document does not load). The fallback when the
cookie does not come back (third-party cookies blocked) is checked over real HTTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers, create_candidate, create_key, create_org
from tests.support.flows import import_flows
from tests.support.server import free_port
from tests.web.test_browser import DESKTOP, axe

pytestmark = pytest.mark.asyncio

PARENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Platform</title></head>
<body><h1>Our platform</h1>
<iframe id="test" title="English test" style="width:900px;height:700px" src="{src}"></iframe>
<script>
window.events = [];
window.addEventListener("message", function (e) {{
  window.events.push({{origin: e.origin, data: e.data}});
}});
</script></body></html>"""


@pytest.fixture(scope="module")
async def course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    """A course with a two-question CT A2 (single choice, no time limit)."""
    course = await make_course(app, client, su)
    tag = course.tag
    await import_flows(
        client,
        su,
        {
            "format": "etest-flow/1",
            "kind": "CT",
            "code": f"ct-{tag}-a2",
            "version": 1,
            "title": "CT A2",
            "plan": course.plan,
            "level": "A2",
            "engine": {
                "type": "fixed",
                "sections": [
                    {"skill": "reading", "count": 2, "pool": [f"{tag}-a2-r0", f"{tag}-a2-r1"]}
                ],
            },
        },
    )
    return course


@pytest.fixture(scope="module")
async def parent() -> AsyncIterator[str]:
    """The platform: ``/frame?src=<url>`` is a page that frames ``src`` and records messages."""

    async def page(request: web.Request) -> web.Response:
        src = request.query["src"]
        return web.Response(text=PARENT_PAGE.format(src=src), content_type="text/html")

    app = web.Application()
    app.router.add_get("/frame", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "localhost", port)
    await site.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        await runner.cleanup()


async def _token(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, course: Course, origins: list[str]
) -> str:
    org = await create_org(client, su, plan_code=course.plan, settings={"frame_ancestors": origins})
    admin = await create_key(app, "admin", org["uic"])
    candidate = await create_candidate(client, admin, uic=org["uic"])
    resp = await client.post(
        "/api/v1/tokens",
        headers=admin,
        json={"candidate_id": candidate["id"], "type": "CT", "level": "A2"},
    )
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    return code


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield ctx
    await ctx.close()


async def _events(page: Page, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        events: list[dict[str, Any]] = await page.evaluate("() => window.events")
        if len(events) >= count:
            return events
        await asyncio.sleep(0.1)
    return list(await page.evaluate("() => window.events"))


async def test_embedded_test_posts_its_events_to_the_parent(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    course: Course,
    parent: str,
    web_server: str,
    context: BrowserContext,
    artifacts: Any,
) -> None:
    code = await _token(app, client, su, course, [parent, "https://lms.example.org"])
    src = f"{web_server}/take?token={quote(code)}&parent={quote(parent)}"
    page = await context.new_page()
    headers: list[tuple[str, dict[str, str]]] = []
    page.on(
        "response",
        lambda r: headers.append((r.url, r.headers)) if r.url.startswith(web_server) else None,
    )
    await page.goto(f"{parent}/frame?src={quote(src)}")
    frame = page.frame_locator("#test")
    await expect(frame.get_by_role("button", name="Start the test")).to_be_visible()
    events = await _events(page, 1)
    attempt_id = events[0]["data"]["attempt_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", attempt_id)
    # the attempt's pages may be framed by the listed origins only, and say so in the CSP
    start_page = next(h for u, h in headers if u.endswith(f"/take/{attempt_id}") or "?embed=" in u)
    assert (
        f"frame-ancestors {parent} https://lms.example.org" in start_page["content-security-policy"]
    )
    assert "x-frame-options" not in start_page
    await page.screenshot(path=artifacts / "embedded-start.png")
    await axe(page, "embedded-start")
    await frame.get_by_role("button", name="Start the test").click()
    for position in (1, 2):
        await expect(frame.get_by_role("button", name="Save and continue")).to_be_visible()
        await frame.get_by_label("a", exact=True).check()
        await frame.get_by_role("button", name="Save and continue").click()
        await _events(page, 1 + position)
    events = await _events(page, 4)
    assert all(e["origin"] == web_server for e in events)
    assert [e["data"] for e in events] == [
        {"type": "etest:started", "attempt_id": attempt_id},
        {"type": "etest:answered", "attempt_id": attempt_id, "position": 1},
        {"type": "etest:answered", "attempt_id": attempt_id, "position": 2},
        {"type": "etest:finished", "attempt_id": attempt_id, "kind": "CT"},
    ]
    await expect(frame.locator("h1")).to_have_count(1)
    await page.screenshot(path=artifacts / "embedded-finished.png")


async def test_an_organization_without_the_origin_is_not_framed(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    course: Course,
    parent: str,
    web_server: str,
    context: BrowserContext,
) -> None:
    code = await _token(app, client, su, course, ["https://lms.example.org"])
    src = f"{web_server}/take?token={quote(code)}&parent={quote(parent)}"
    page = await context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
    documents: list[dict[str, str]] = []
    page.on(
        "response",
        lambda r: (
            documents.append(r.headers)
            if r.url.startswith(f"{web_server}/take/") and r.request.resource_type == "document"
            else None
        ),
    )
    await page.goto(f"{parent}/frame?src={quote(src)}")
    for _ in range(50):
        if refused and documents:
            break
        await asyncio.sleep(0.1)
    # the page names the organization's origins only: Chromium refuses the parent
    csp = documents[-1]["content-security-policy"] if documents else ""
    assert "frame-ancestors https://lms.example.org" in csp and parent not in csp
    assert refused, "Chromium did not refuse the frame"
    # nothing of the test was shown inside the frame
    child = page.frames[1]
    assert not child.url.startswith(web_server), child.url  # Chromium's blocked-frame page
    assert await page.frame_locator("#test").get_by_text("Start the test").count() == 0
    assert await page.evaluate("() => window.events") == []


async def test_blocked_cookie_offers_a_new_window(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    course: Course,
    web_server: str,
    parent: str,
) -> None:
    """What the frame shows when the browser did not keep the framed cookie: the start's
    hand-off opens the same attempt in a window of its own; without it, nothing is shown."""
    code = await _token(app, client, su, course, [parent])
    async with httpx.AsyncClient(base_url=web_server) as framed:
        started = await framed.get(
            "/take",
            params={"token": code, "parent": parent},
            headers={"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"},
        )
        assert started.status_code == 303
        cookie = started.headers["set-cookie"]
        assert "SameSite=none" in cookie and "Secure" in cookie and "Partitioned" in cookie
        target = started.headers["location"]
        assert "?embed=" in target
    async with httpx.AsyncClient(base_url=web_server) as blocked:  # no cookie came back
        page = await blocked.get(target)
        assert page.status_code == 200 and "Open the test in a new window" in page.text
        assert f"frame-ancestors {parent}" in page.headers["content-security-policy"]
        window = re.search(r'href="(/take/[^"]+/window\?embed=[^"]+)" target="_blank"', page.text)
        assert window, page.text
        opened = await blocked.get(window.group(1).replace("&amp;", "&"))
        assert opened.status_code == 303 and "SameSite=strict" in opened.headers["set-cookie"]
        shown = await blocked.get(opened.headers["location"])
        assert shown.status_code == 200 and "Start the test" in shown.text
        # a forged hand-off opens nothing
        forged = target.split("?embed=")[0] + "/window?embed=9999999999.AAAA"
        assert (await blocked.get(forged)).status_code == 404


async def test_a_refused_framed_start_is_shown_in_the_frame(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    course: Course,
    web_server: str,
    parent: str,
) -> None:
    """A token before its test window, opened in the platform's frame: the sentence saying when
    it opens is a page the frame may show (the organization's list), not a blocked frame."""
    org = await create_org(
        client, su, plan_code=course.plan, settings={"frame_ancestors": [parent]}
    )
    admin = await create_key(app, "admin", org["uic"])
    candidate = await create_candidate(client, admin, uic=org["uic"])
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    resp = await client.post(
        "/api/v1/tokens",
        headers=admin,
        json={
            "candidate_id": candidate["id"],
            "type": "CT",
            "level": "A2",
            "not_before": opens.isoformat(),
            "expires_in_days": 10,
        },
    )
    assert resp.status_code == 201, resp.text
    async with httpx.AsyncClient(base_url=web_server) as framed:
        page = await framed.get(
            "/take",
            params={"token": resp.json()["code"], "parent": parent},
            headers={"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"},
        )
    assert page.status_code == 403 and "This test opens on" in page.text
    assert f"frame-ancestors {parent}" in page.headers["content-security-policy"]
    assert "x-frame-options" not in page.headers
