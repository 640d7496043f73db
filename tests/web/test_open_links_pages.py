"""``/join/<slug>`` against a real ``uvicorn`` process: twenty candidates register at once on a
link capped at fifteen (exactly fifteen tokens; the others read that the link is full), and one
candidate registers in Chromium with the keyboard alone (axe-core, screenshots)."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from etest.db import transaction
from etest.models import TestToken
from etest.models.token import OpenLink
from tests.conftest import Headers, unique
from tests.web.conftest import WebCourse
from tests.web.test_browser import DESKTOP, axe

pytestmark = pytest.mark.asyncio


async def _link(client: httpx.AsyncClient, admin: Headers, **body: object) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/open-links",
        headers=admin,
        json={"title": "Open day placement", "type": "PT", **body},
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, str] = resp.json()
    return data


class Device:
    """One candidate's browser: its own connection and cookies."""

    def __init__(self, base: str, n: int) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=60)
        self.n, self.csrf = n, ""

    async def open(self, slug: str) -> None:
        page = await self.client.get(f"/join/{slug}")
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found
        self.csrf = found.group(1)

    async def send(self, slug: str) -> httpx.Response:
        return await self.client.post(
            f"/join/{slug}",
            data={
                "csrf": self.csrf,
                "first_name": "Candidate",
                "last_name": f"Number {self.n}",
                "email": f"{unique('crowd')}-{self.n}@example.org".lower(),
            },
        )


async def test_twenty_register_at_once_on_a_link_of_fifteen(
    app: FastAPI, web_course: WebCourse, web_server: str
) -> None:
    link = await _link(web_course.client, web_course.course.admin, max_uses=15)
    devices = [Device(web_server, n) for n in range(20)]
    try:  # every form is open before any is sent, then all twenty are sent at once
        await asyncio.gather(*(d.open(link["slug"]) for d in devices))
        answers = await asyncio.gather(*(d.send(link["slug"]) for d in devices))
    finally:
        await asyncio.gather(*(d.client.aclose() for d in devices))
    admitted = [a for a in answers if a.status_code == 303]
    full = [a for a in answers if a.status_code == 409]
    assert len(admitted) == 15 and len(full) == 5, [a.status_code for a in answers]
    assert all(a.headers["location"].startswith("/take?token=") for a in admitted)
    assert all("This link is full" in a.text for a in full)
    async with transaction(app.state.sessionmaker) as session:
        tokens = await session.scalar(
            select(func.count())
            .select_from(TestToken)
            .where(TestToken.open_link_id == uuid.UUID(link["id"]))
        )
        stored = await session.get(OpenLink, uuid.UUID(link["id"]))
        assert stored is not None
        assert (tokens, stored.uses) == (15, 15)


async def test_register_by_keyboard_in_chromium(
    web_course: WebCourse, web_server: str, browser: Browser, artifacts: Path
) -> None:
    link = await _link(
        web_course.client,
        web_course.course.admin,
        access_code="open-day",
        required_fields=["phone"],
    )
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{web_server}/join/{link['slug']}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Open day placement")
        await page.screenshot(path=artifacts / "join-form.png", full_page=True)
        await axe(page, "join-form")
        # send it empty first: every missing field is named, and the summary takes focus
        await page.get_by_label("First name").focus()
        await page.keyboard.type("Bao")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("alert")).to_contain_text("Enter your last name.")
        await expect(page.locator("#error-summary")).to_be_focused()
        await page.screenshot(path=artifacts / "join-errors.png", full_page=True)
        await axe(page, "join-errors")
        # then by keyboard alone, field after field
        await page.get_by_label("First name").focus()
        await expect(page.get_by_label("First name")).to_have_value("Bao")
        await page.keyboard.press("Tab")
        await page.keyboard.type("Tran")
        await page.keyboard.press("Tab")
        await page.keyboard.type(f"{unique('kb')}@example.org".lower())
        await page.keyboard.press("Tab")
        await page.keyboard.type("+84 912 345 678")
        await page.keyboard.press("Tab")
        await page.keyboard.type("open-day")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Register and start the test")).to_be_focused()
        async with page.expect_navigation(url=re.compile(r"/take/[0-9a-f-]{36}$")):
            await page.keyboard.press("Enter")
        await expect(page.get_by_role("button", name="Start the test")).to_be_visible()
        assert not errors, errors
    finally:
        await context.close()
