"""Fixtures of the console tests: staff accounts made through the service, a signed-in
in-process client (forms without JavaScript), and a signed-in Chromium page against the real
``uvicorn`` server of the page tests (``tests/web/conftest.py``: ``web_server``, ``browser``).

Every console test creates its own organizations and accounts (unique emails), like the API
tests; nothing is shared but the server and the browser."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest.cli import cli_actor
from etest.db import transaction
from etest.staff.service import create_account
from tests.web.conftest import ARTIFACTS, artifacts, browser, web_course, web_server  # noqa: F401
from tests.web.test_browser import Tab

PASSWORD = "correct horse battery"
CONSOLE_ARTIFACTS = ARTIFACTS.parent / "console"


@dataclass(frozen=True)
class Staff:
    email: str
    password: str
    role: str
    uic: str | None


async def make_staff(
    app: FastAPI, role: str, uic: str | None, *, name: str = "", password: str = PASSWORD
) -> Staff:
    """A staff account with a password, straight from the service (as ``etest staff create``)."""
    email = f"staff-{uuid.uuid4().hex[:10]}@example.test"
    async with transaction(app.state.sessionmaker) as session:
        await create_account(
            session,
            cli_actor(),
            email=email,
            name=name or f"{role.title()} {email[6:12]}",
            role=role,
            uic=uic,
            password=password,
        )
    return Staff(email, password, role, uic)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class ConsoleClient:
    """A browser without JavaScript, in process: follows redirects, keeps cookies, and sends
    the CSRF token of the last page it saw with every form."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        resp = await self.http.get(path, **kwargs)
        found = re.search(r'name="csrf" value="([^"]+)"', resp.text)
        if found:
            self.csrf = found.group(1)
        return resp

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        body = {"csrf": self.csrf, **(data or {})}
        resp = await self.http.post(path, data=body, **kwargs)
        found = re.search(r'name="csrf" value="([^"]+)"', resp.text)
        if found:
            self.csrf = found.group(1)
        return resp

    async def sign_in(self, staff: Staff) -> httpx.Response:
        await self.get("/console/sign-in")
        resp = await self.http.post(
            "/console/sign-in", data={"email": staff.email, "password": staff.password}
        )
        assert resp.status_code == 200, resp.text[:500]
        await self.get("/console")
        return resp


@pytest.fixture
async def console(app: FastAPI) -> AsyncIterator[ConsoleClient]:
    """An in-process console client with its own cookie jar (one browser, as it were)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as c:
        yield ConsoleClient(c)


@pytest.fixture(scope="session")
def console_artifacts() -> Path:
    CONSOLE_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CONSOLE_ARTIFACTS


# ---------------------------------------------------------------------------- the browser

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


class ConsoleTab(Tab):
    """A Chromium tab on the console: every check is a screenshot in
    test-artifacts/console/ and an axe-core run (no serious or critical findings), plus
    ``Tab``'s own (one h1, no sideways scrolling, no console errors)."""

    async def sign_in(self, staff: Staff) -> None:
        await self.goto("/console/sign-in")
        await self.page.get_by_label("Email").fill(staff.email)
        await self.page.get_by_label("Password").fill(staff.password)
        await self.submit("Sign in")
        assert self.page.url.endswith("/console"), self.page.url


@pytest.fixture
async def open_tab(
    browser: Any,  # noqa: F811 - the fixture imported above
    web_server: str,  # noqa: F811
    console_artifacts: Path,
) -> AsyncIterator[Callable[..., Awaitable[ConsoleTab]]]:
    """``await open_tab("prefix-", phone=False, javascript=True)``: a new browser context
    (its own cookies) and a tab on the real server; closed after the test."""
    contexts: list[Any] = []

    async def open_(prefix: str, *, phone: bool = False, javascript: bool = True) -> ConsoleTab:
        ctx = await browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            locale="en-GB",
            java_script_enabled=javascript,
            accept_downloads=True,
        )
        contexts.append(ctx)
        page = await ctx.new_page()
        return ConsoleTab(page, web_server, console_artifacts, prefix, javascript=javascript)

    yield open_
    for ctx in contexts:
        await ctx.close()
