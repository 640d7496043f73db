"""Signing in and out of the console; sessions, CSRF and the 404 page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from tests.conftest import Headers, create_org
from tests.console.conftest import PASSWORD, ConsoleClient, make_staff

pytestmark = pytest.mark.asyncio


async def test_console_asks_to_sign_in_and_returns_where_asked(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"], name="Ana Admin")
    page = await console.get("/console/candidates?q=x")
    assert "/console/sign-in" in str(page.url)
    assert "next=" in str(page.url)
    refused = await console.http.post(
        "/console/sign-in", data={"email": staff.email, "password": "wrong password!"}
    )
    assert refused.status_code == 401
    assert "The email or the password is not right." in refused.text
    unknown = await console.http.post(
        "/console/sign-in", data={"email": "nobody@example.test", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    assert unknown.text.replace("nobody@example.test", staff.email) == refused.text
    ok = await console.http.post(
        "/console/sign-in",
        data={"email": staff.email.upper(), "password": PASSWORD, "next": "/console"},
    )
    assert ok.status_code == 200
    assert "Ana Admin" in ok.text
    assert "etest_console" in console.http.cookies


async def test_next_never_leaves_the_console(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "viewer", org["uic"])
    resp = await console.http.post(
        "/console/sign-in",
        data={"email": staff.email, "password": PASSWORD, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/console"


async def test_forms_need_the_csrf_token_and_sign_out_ends_the_session(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"])
    await console.sign_in(staff)
    forged = await console.http.post("/console/sign-out", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert "expired or came from another site" in forged.text
    still = await console.get("/console")
    assert still.status_code == 200 and "/sign-in" not in str(still.url)
    out = await console.post("/console/sign-out")
    assert "You have signed out." in out.text
    again = await console.get("/console")
    assert "/console/sign-in" in str(again.url)


async def test_unknown_console_page_is_the_console_404(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    await console.sign_in(await make_staff(app, "support", org["uic"]))
    resp = await console.get("/console/no/such/page")
    assert resp.status_code == 404
    assert "<h1>Page not found</h1>" in resp.text
    root = await console.get("/")
    assert str(root.url).endswith("/console")


async def test_sign_in_in_a_browser_by_keyboard_on_a_phone(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"], name="Phone Admin")
    tab = await open_tab("sign-in-", phone=True)
    await tab.goto("/console")
    await tab.check("page")
    for _ in range(3):  # the skip link, the brand's link home, the email field
        await tab.page.keyboard.press("Tab")
    await tab.page.keyboard.type(staff.email)
    await tab.page.keyboard.press("Tab")
    await tab.page.keyboard.type(staff.password)
    async with tab.page.expect_navigation():
        await tab.page.keyboard.press("Enter")
    assert tab.page.url.endswith("/console"), tab.page.url
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Home")
    await tab.check("home")
    tab.assert_clean()
