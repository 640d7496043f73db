"""cloze, gap_match and hottext on ``/take`` in real Chromium against the session's ``uvicorn``:
answered by the keyboard alone (desktop, JavaScript on, axe-core on each), then without
JavaScript on a phone (a refused answer keeps what was given); the points stored per gap.
Screenshots in test-artifacts/web/ (``gap-…``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect
from sqlalchemy import select

from etest.db import transaction
from etest.models import Item, Response
from tests.attempt.conftest import Course, make_course
from tests.attempt.test_gap_items_api import gap_flows
from tests.conftest import Headers, create_candidate
from tests.support.flows import import_flows
from tests.web.test_browser import DESKTOP, PHONE, Tab, enter_token, item_type_here

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def gap_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    course = await make_course(app, client, su)
    await import_flows(client, su, *gap_flows(course))
    return course


async def _token(client: httpx.AsyncClient, course: Course) -> str:
    """A CT A1 token of a new candidate (one live token per candidate and scope)."""
    candidate = await create_candidate(client, course.admin, uic=course.uic)
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": candidate["id"], "type": "CT", "level": "A1"},
    )
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    return code


async def _points(app: FastAPI, attempt_id: str) -> dict[str, tuple[bool, int | None, int | None]]:
    """Per item type: (correct, points, max_points) as stored."""
    async with transaction(app.state.sessionmaker) as session:
        rows = await session.execute(
            select(Item.type, Response.correct, Response.points, Response.max_points)
            .join(Item, Item.id == Response.item_id)
            .where(Response.attempt_id == uuid.UUID(attempt_id))
        )
        return {r.type: (r.correct, r.points, r.max_points) for r in rows}


async def _tab_to(tab: Tab, element_id: str, limit: int = 40) -> None:
    for _ in range(limit):
        await tab.page.keyboard.press("Tab")
        if await tab.page.evaluate("() => document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


async def _send_by_keyboard(tab: Tab) -> None:
    while await tab.page.evaluate("() => document.activeElement.type") != "submit":
        await tab.page.keyboard.press("Tab")
    async with tab.page.expect_navigation():
        await tab.page.keyboard.press("Enter")


async def test_gap_items_by_keyboard_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    gap_course: Course,
    web_server: str,
    browser: Browser,
    artifacts: Path,
) -> None:
    desktop = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    tab = Tab(await desktop.new_page(), web_server, artifacts, "gap-")
    page = tab.page
    await enter_token(tab, await _token(client, gap_course))
    await tab.submit("Start the test")
    for _ in range(3):
        await expect(page.locator("h1")).to_be_focused()
        _, item_type, _ = await item_type_here(app, tab)
        await tab.check(f"{item_type}-desktop")
        if item_type == "cloze":
            await expect(page.get_by_role("textbox", name="Gap 1")).to_be_visible()
            await expect(page.get_by_role("combobox", name="Gap 2")).to_be_visible()
            await _tab_to(tab, "gap-1")
            await page.keyboard.type("went")
            await page.keyboard.press("Tab")  # gap 2: meet, met, meeting
            await page.keyboard.press("ArrowDown")
            await page.keyboard.press("ArrowDown")
            await page.keyboard.press("Tab")
            await page.keyboard.type("there")
        elif item_type == "gap_match":
            # gap 1 stands where p2 is ("sat … the mat"): "on"; gap 2 (p1): "while"
            await _tab_to(tab, "gap-1")
            await page.keyboard.type("on")
            await page.keyboard.press("Tab")
            await page.keyboard.type("while")
            await expect(page.locator("#gap-1")).to_have_value("on")
            await expect(page.locator("#gap-2")).to_have_value("while")
        else:
            assert item_type == "hottext"
            await expect(page.get_by_role("radio", name="yesterday")).to_be_visible()
            await _tab_to(tab, "hot-1")
            await page.keyboard.press("ArrowRight")  # to the second piece, and chooses it
            await expect(page.get_by_role("radio", name="yesterday")).to_be_checked()
        await _send_by_keyboard(tab)
    await expect(page.locator(".result-value")).to_have_text("You passed")
    assert await _points(app, tab.attempt_id) == {
        "cloze": (True, 3, 3),
        "gap_match": (True, 2, 2),
        "hottext": (True, None, None),
    }
    tab.assert_clean()
    await desktop.close()


async def test_gap_items_without_javascript_on_a_phone(
    app: FastAPI,
    client: httpx.AsyncClient,
    gap_course: Course,
    web_server: str,
    browser: Browser,
    artifacts: Path,
) -> None:
    phone = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    tab = Tab(await phone.new_page(), web_server, artifacts, "gap-nojs-", javascript=False)
    page = tab.page
    await enter_token(tab, await _token(client, gap_course))
    await tab.submit("Start the test")
    for _ in range(3):
        _, item_type, _ = await item_type_here(app, tab)
        await tab.check(f"{item_type}-phone")
        # nothing given: refused with a sentence linked to the first field
        await tab.submit("Save and continue")
        await expect(page.locator("#error-summary")).to_be_visible()
        link = page.locator("#error-summary a")
        assert await link.get_attribute("href") in ("#gap-1", "#hot-1")
        if item_type == "cloze":
            await expect(link).to_have_text("Fill in at least one gap.")
            await page.get_by_role("textbox", name="Gap 1").fill("went")
            await page.get_by_role("combobox", name="Gap 2").select_option("meet")
            # gap 3 left empty: accepted, 1 point of 3
        elif item_type == "gap_match":
            await page.locator("#gap-1").select_option("on")
            await page.locator("#gap-2").select_option("on")
            await tab.submit("Save and continue")
            await expect(link).to_have_text(
                "A word is in more gaps than it may fill: choose a different word for the "
                "other gaps."
            )
            await tab.check(f"{item_type}-refused-phone")
            # the form keeps what was given
            await expect(page.locator("#gap-1")).to_have_value("on")
            await expect(page.locator("#gap-2")).to_have_value("on")
            await page.locator("#gap-2").select_option("under")
        else:
            await expect(link).to_have_text("Choose one part of the text.")
            await page.get_by_label("eats").check()
        await tab.submit("Save and continue")
    await expect(page.locator(".result-value")).to_contain_text("You did not pass")
    assert await _points(app, tab.attempt_id) == {
        "cloze": (False, 1, 3),
        "gap_match": (False, 1, 2),
        "hottext": (False, None, None),
    }
    tab.assert_clean()
    await phone.close()
