"""The token form of ``/take`` refuses a form it did not serve to this browser (login CSRF):
its ``csrf`` field is bound to a SameSite=Strict cookie, so a form on another page, another
origin or another site starts no test, with or without ``Sec-Fetch-*`` headers. Token entry
is rate limited: wrong codes per address, starts per token. Over HTTP in process, and in
Debian's Chromium against a real server with the other page on another loopback port."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser
from sqlalchemy import func, select

from etest.app import create_app
from etest.config import Settings
from etest.db import transaction
from etest.models import Attempt
from tests.web.conftest import WebCourse

pytestmark = pytest.mark.asyncio


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def token_form(client: httpx.AsyncClient) -> str:
    """Open the token form as a browser does; returns its CSRF field."""
    resp = await client.get("/take")
    assert resp.status_code == 200
    return csrf_of(resp.text)


async def issue(web_course: WebCourse) -> tuple[uuid.UUID, str]:
    """A new candidate's PT token: (id, code)."""
    candidate, admin = await web_course.candidate()
    resp = await web_course.client.post(
        "/api/v1/tokens", headers=admin, json={"candidate_id": candidate["id"], "type": "PT"}
    )
    assert resp.status_code == 201, resp.text
    return uuid.UUID(resp.json()["id"]), resp.json()["code"]


async def attempts_of(app: FastAPI, token_id: uuid.UUID) -> int:
    async with transaction(app.state.sessionmaker) as session:
        count = await session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.token_id == token_id)
        )
    return count or 0


def in_process(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_form_is_bound_to_a_strict_cookie(
    web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    first = await page_client.get("/take")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("etest_take_form=")
    for part in ("HttpOnly", "SameSite=strict", "Path=/take"):
        assert part.lower() in cookie.lower(), cookie
    field = csrf_of(first.text)
    # the same browser keeps its binding: no new cookie, the same field, on every form
    again = await page_client.get("/take")
    assert "set-cookie" not in again.headers and csrf_of(again.text) == field
    wrong = await page_client.post("/take", data={"token": "no-such-code", "csrf": field})
    assert wrong.status_code == 404 and csrf_of(wrong.text) == field
    assert "set-cookie" not in wrong.headers
    token_id, code = await issue(web_course)
    started = await page_client.post("/take", data={"token": code, "csrf": field})
    assert started.status_code == 303, started.text[:300]
    assert started.headers["cache-control"] == "no-store"
    assert await attempts_of(web_course.app, token_id) == 1


@pytest.mark.parametrize("case", ["no field", "forged", "another browser's", "no cookie"])
async def test_a_form_not_served_to_this_browser_starts_no_test(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient, case: str
) -> None:
    token_id, code = await issue(web_course)
    mine = await token_form(page_client)
    data = {"token": code}
    if case == "forged":
        data["csrf"] = mine[:-2] + ("AA" if not mine.endswith("AA") else "BB")
    elif case == "another browser's":
        async with in_process(app) as other:
            data["csrf"] = await token_form(other)
    elif case == "no cookie":
        data["csrf"] = mine
        page_client.cookies.clear()
    resp = await page_client.post("/take", data=data)  # no Sec-Fetch-* headers at all
    assert resp.status_code == 403, resp.text[:300]
    assert resp.headers["content-type"].startswith("text/html")
    assert "csrf-refused" in resp.text and 'href="/take"' in resp.text
    assert "etest_take=" not in resp.headers.get("set-cookie", "")
    assert await attempts_of(app, token_id) == 0


async def test_the_attempt_forms_refuse_with_csrf_refused(
    web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    _, code = await issue(web_course)
    started = await page_client.post(
        "/take", data={"token": code, "csrf": await token_form(page_client)}
    )
    path = started.headers["location"]
    refused = await page_client.post(f"{path}/start", data={"csrf": "forged"})
    assert refused.status_code == 403 and "csrf-refused" in refused.text


@asynccontextmanager
async def limited(settings: Settings, limits: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of another app on the session's database, with these rate limits."""
    changes = {"rate_limits": limits, "rate_limit_enabled": True}
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application), in_process(application) as c:
        yield c


async def test_wrong_codes_are_rate_limited_per_address(
    settings: Settings, web_course: WebCourse
) -> None:
    token_id, code = await issue(web_course)
    async with limited(settings, {"token-failures-address": "3/minute"}) as c:
        field = await token_form(c)
        statuses = [
            (await c.post("/take", data={"token": f"wrong-{n}", "csrf": field})).status_code
            for n in range(3)
        ]
        assert statuses == [404, 404, 404]
        blocked = await c.post("/take", data={"token": code, "csrf": field})
        link = await c.get("/take", params={"token": code})
    # past the limit even a right code is not looked at: a guesser learns nothing
    for resp in (blocked, link):
        assert resp.status_code == 429, resp.text[:300]
        assert 0 < int(resp.headers["retry-after"]) <= 60
        assert "Too many tries" in resp.text and 'role="alert"' in resp.text
        assert csrf_of(resp.text)  # the form again, to try later
    assert await attempts_of(web_course.app, token_id) == 0


async def test_starts_are_rate_limited_per_token(settings: Settings, web_course: WebCourse) -> None:
    token_id, code = await issue(web_course)
    _, other = await issue(web_course)
    async with limited(settings, {"attempt-starts-token": "2/hour"}) as c:
        seen = [(await c.get("/take", params={"token": code})).status_code for _ in range(3)]
        assert seen == [303, 303, 429]
        # another token is not held back by this one
        assert (await c.get("/take", params={"token": other})).status_code == 303
    assert await attempts_of(web_course.app, token_id) == 1


# ---------------------------------------------------------------------------- in Chromium


class _OtherOrigin(ThreadingHTTPServer):
    page = b""


class _Handler(BaseHTTPRequestHandler):
    server: _OtherOrigin

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.server.page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_origin() -> Iterator[_OtherOrigin]:
    """A page on another loopback port: another origin (and, named localhost, another site)."""
    server = _OtherOrigin(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_form_on_another_origin_starts_no_test_in_chromium(
    app: FastAPI,
    web_course: WebCourse,
    web_server: str,
    browser: Browser,
    other_origin: _OtherOrigin,
    host: str,
) -> None:
    """127.0.0.1 on another port is the same *site* (Chromium sends ``Sec-Fetch-Site:
    same-site`` and the Strict cookie), so only the CSRF field refuses it; localhost is
    another site as well."""
    token_id, code = await issue(web_course)
    other_origin.page = (
        f'<!doctype html><html lang="en"><title>Prize</title><form method="post" '
        f'action="{web_server}/take"><input name="token" value="{code}">'
        f'<input type="hidden" name="csrf" value="guessed"><button>Claim your prize</button>'
        f"</form></html>"
    ).encode()
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{web_server}/take")  # the browser holds the form cookie
        await page.goto(f"http://{host}:{other_origin.server_address[1]}/")
        async with page.expect_navigation() as navigation:
            await page.get_by_role("button", name="Claim your prize").click()
        response = await navigation.value
        assert response is not None and response.status == 403
        assert page.url == f"{web_server}/take"
        assert not [c for c in await context.cookies() if c["name"] == "etest_take"]
    finally:
        await context.close()
    assert await attempts_of(app, token_id) == 0
