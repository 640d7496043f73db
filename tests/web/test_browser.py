"""``/take`` in a real browser (Debian's Chromium through Playwright) against a real ``uvicorn``
process: whole placement and certification tests, a reload mid-test, no JavaScript, a phone
viewport, the keyboard alone, the countdown, a link from another site; a screenshot of every
page type in test-artifacts/web/ and an axe-core check of each (no serious or critical
violations)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.attempt.conftest import key_of
from tests.web.conftest import AXE_JS, WebCourse

pytestmark = pytest.mark.asyncio

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1024, "height": 800}
_AXE: list[str] = []


class Tab:
    """A page with the checks every test makes: no console errors (CSP refusals among them),
    no sideways scrolling, one screenshot and one axe run per page type."""

    def __init__(
        self, page: Page, base: str, artifacts: Path, prefix: str, *, javascript: bool = True
    ) -> None:
        self.page, self.base, self.artifacts, self.prefix = page, base, artifacts, prefix
        self.javascript = javascript  # axe-core needs the page's timers: it runs with JS only
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # a page's own 4xx status is logged too: statuses are checked in _response instead
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} {response.url}")

    @property
    def attempt_id(self) -> str:
        found = re.search(r"/take/([0-9a-f-]{36})", self.page.url)
        assert found, self.page.url
        return found.group(1)

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def submit(self, button: str) -> None:
        async with self.page.expect_navigation():
            await self.page.get_by_role("button", name=button).click()

    async def check(self, name: str | None = None) -> None:
        """The page fits the viewport; with a name: a screenshot and an axe-core run."""
        fits = await self.page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert fits, f"{self.page.url} scrolls sideways"
        assert await self.page.locator("h1").count() == 1
        if name is None:
            return
        await self.page.screenshot(path=self.artifacts / f"{self.prefix}{name}.png", full_page=True)
        if self.javascript:
            await asyncio.wait_for(axe(self.page, f"{self.prefix}{name}"), 30)

    def assert_clean(self) -> None:
        assert not self.errors, self.errors


async def axe(page: Page, name: str) -> None:
    if not _AXE:
        _AXE.append(AXE_JS.read_text())
    # evaluate() is not subject to the page's CSP, which refuses injected script tags
    await page.evaluate(_AXE[0])
    result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations = result["violations"]
    serious = [v for v in violations if v.get("impact") in ("serious", "critical")]
    for v in violations:
        print(
            f"axe {name}: {v['impact']} {v['id']}: {v['help']} "
            f"{[n['target'] for n in v['nodes']][:3]}"
        )
    assert not serious, f"axe found serious violations on {name}:\n" + json.dumps(
        [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["html"] for n in v["nodes"]][:5],
            }
            for v in serious
        ],
        indent=1,
    )


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield ctx
    await ctx.close()


async def enter_token(tab: Tab, token: str) -> None:
    await tab.goto("/take")
    await tab.page.get_by_label("Test token").fill(token)
    await tab.submit("Start or continue the test")
    assert re.search(r"/take/[0-9a-f-]{36}$", tab.page.url), tab.page.url


async def item_type_here(app: FastAPI, tab: Tab) -> tuple[int, str, dict[str, Any]]:
    position = int(await tab.page.locator("input[name=position]").input_value())
    item_type, key = await key_of(app, tab.attempt_id, position)
    return position, item_type, key


async def fill_answer(page: Page, item_type: str, key: dict[str, Any], right: bool) -> None:
    if item_type == "single_choice":
        values = await page.locator("input[name=answer]").evaluate_all(
            "els => els.map(e => e.value)"
        )
        value = key["correct"][0] if right else next(v for v in values if v != key["correct"][0])
        await page.locator(f"input[name=answer][value='{value}']").check()
    elif item_type == "multiple_choice":
        values = await page.locator("input[name=answer]").evaluate_all(
            "els => els.map(e => e.value)"
        )
        chosen = key["correct"] if right else [v for v in values if v not in key["correct"]]
        for value in chosen:
            await page.locator(f"input[name=answer][value='{value}']").check()
    elif item_type == "text_entry":
        await page.get_by_label("Your answer").fill("Went" if right else "goed")
    elif item_type == "ordering":
        order = key["order"] if right else list(reversed(key["order"]))
        for n, part in enumerate(order, start=1):
            await page.locator(f"#order-{n}").select_option(part)
    elif item_type == "matching":
        pairs = dict(key["pairs"])
        for select in await page.locator("select[data-option]").all():
            option = await select.get_attribute("data-option")
            await select.select_option(pairs[option] if right else "tweet")
    else:
        raise AssertionError(item_type)


def shot_name(item_type: str, html: str) -> str:
    if "<audio" in html:
        return "item-listening"
    if 'class="option-image"' in html:
        return "item-picture"
    return f"item-{item_type}"


async def take(
    app: FastAPI,
    tab: Tab,
    right: Callable[[int, str], bool],
    *,
    shots: set[str] | None = None,
    stop_after: int | None = None,
    on_item: Callable[[int], Any] | None = None,
    before: Callable[[str], Any] | None = None,
) -> list[str]:
    """Answer item after item until the result (or ``stop_after`` answers); returns the types."""
    types: list[str] = []
    while await tab.page.locator("form.answer-form").count():
        if stop_after is not None and len(types) >= stop_after:
            break
        position, item_type, key = await item_type_here(app, tab)
        heading = await tab.page.locator("h1").inner_text()
        assert heading.startswith(f"Question {position}")
        name = shot_name(item_type, await tab.page.content())
        await tab.check(name if shots is not None and name not in shots else None)
        if shots is not None:
            shots.add(name)
        if before is not None:
            await before(item_type)
        await fill_answer(tab.page, item_type, key, right(len(types), item_type))
        types.append(item_type)
        await tab.submit("Save and continue")
        if on_item is not None:
            await on_item(len(types))
    return types


async def api_state(base: str, context: BrowserContext, attempt_id: str) -> dict[str, Any]:
    """The attempt as the API sees it, with the secret from the page's HttpOnly cookie."""
    cookie = next(c for c in await context.cookies() if c["name"] == "etest_take")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    cookie_id, secret = cookie["value"].split(":", 1)
    assert cookie_id == attempt_id
    async with httpx.AsyncClient(base_url=base) as client:
        resp = await client.get(
            f"/api/v1/attempts/{attempt_id}", headers={"Authorization": f"Bearer {secret}"}
        )
    assert resp.status_code == 200, resp.text
    state: dict[str, Any] = resp.json()
    return state


# ---------------------------------------------------------------------------- the tests


async def test_placement_on_a_phone_with_a_reload(
    app: FastAPI, web_course: WebCourse, web_server: str, browser: Browser, artifacts: Path
) -> None:
    context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    tab = Tab(await context.new_page(), web_server, artifacts, "phone-")
    await tab.goto("/take")
    await tab.check("token-entry")
    await tab.page.get_by_label("Test token").fill("not-a-real-token")
    await tab.submit("Start or continue the test")
    await expect(tab.page.locator("#error-summary")).to_be_focused()
    await expect(tab.page.locator("#token")).to_have_attribute("aria-invalid", "true")
    await tab.check("token-error")

    await enter_token(tab, await web_course.token("PT"))
    await expect(tab.page.locator("h1")).to_have_text("Placement")
    await expect(tab.page.get_by_text("The test adapts to you")).to_be_visible()
    audio = tab.page.locator("audio[aria-label='Sound check']")
    await expect(audio).to_have_attribute("controls", "")
    await tab.check("start-sound-check")
    await tab.submit("Start the test")

    async def reload_after_three(answered: int) -> None:
        if answered != 3:
            return
        heading = await tab.page.locator("h1").inner_text()
        await expect(tab.page.get_by_text("Questions answered: 3")).to_be_visible()
        await tab.page.reload()
        await expect(tab.page.locator("h1")).to_have_text(heading)
        await expect(tab.page.get_by_text("Questions answered: 3")).to_be_visible()
        state = await api_state(web_server, context, tab.attempt_id)
        assert [a["position"] for a in state["answers"]] == [1, 2, 3]
        assert state["current_position"] == 4 and heading == "Question 4"

    types = await take(app, tab, lambda n, _: n < 9, shots=set(), on_item=reload_after_three)
    assert len(types) == 12 and {"ordering", "matching", "text_entry", "multiple_choice"} <= set(
        types
    )
    await expect(tab.page.locator("h1")).to_have_text("Your result")
    await expect(tab.page.locator(".result-value")).to_have_text("A1+")
    await expect(tab.page.get_by_text("You are above A1")).to_be_visible()
    await tab.check("result-pt")
    tab.assert_clean()
    await context.close()


async def test_certification_passed_with_every_item_type(
    app: FastAPI, web_course: WebCourse, web_server: str, context: BrowserContext, artifacts: Path
) -> None:
    tab = Tab(await context.new_page(), web_server, artifacts, "")
    await enter_token(tab, await web_course.token("CT", "A1"))
    await expect(tab.page.get_by_text("7 questions.")).to_be_visible()
    await tab.check("start")
    await tab.submit("Start the test")
    await expect(tab.page.locator("progress")).to_have_attribute("max", "7")
    await tab.submit("Save and continue")  # nothing chosen
    await expect(tab.page.locator("#error-summary")).to_be_focused()
    await tab.check("item-error")
    await tab.goto(f"/take/{tab.attempt_id}")
    shots: set[str] = set()

    async def swap_parts(item_type: str) -> None:
        if item_type != "ordering":
            return
        page = tab.page
        await page.focus("#order-1")
        await page.select_option("#order-1", "w4")
        await page.focus("#order-2")
        await page.select_option("#order-2", "w4")  # taken from position 1
        await page.focus("#order-3")
        await expect(page.locator("#order-1")).to_have_value("")
        await expect(page.locator("#live")).to_have_text("Position 1 (first) now has no part.")

    types = await take(app, tab, lambda n, _: True, shots=shots, before=swap_parts)
    assert set(types) == {"single_choice", "multiple_choice", "text_entry", "ordering", "matching"}
    assert {
        "item-listening",
        "item-picture",
        "item-ordering",
        "item-matching",
        "item-text_entry",
        "item-multiple_choice",
    } <= shots
    await expect(tab.page.locator(".result-value")).to_have_text("You passed")
    await expect(tab.page.get_by_text("your score is 100%")).to_be_visible()
    await tab.check("result-ct-pass")
    tab.assert_clean()


async def test_certification_finished_early_and_failed(
    app: FastAPI, web_course: WebCourse, web_server: str, context: BrowserContext, artifacts: Path
) -> None:
    tab = Tab(await context.new_page(), web_server, artifacts, "")
    await enter_token(tab, await web_course.token("CT", "A1"))
    await tab.submit("Start the test")
    await take(app, tab, lambda n, _: False, stop_after=2)
    await expect(tab.page.locator("progress")).to_have_attribute("value", "2")
    await tab.page.get_by_role("link", name="Finish the test now").click()
    await expect(tab.page.locator("h1")).to_have_text("Finish the test now?")
    await tab.check("finish-confirm")
    await tab.page.get_by_role("link", name="No, go back to the question").click()
    await expect(tab.page.locator("h1")).to_have_text("Question 3 of 7")
    await tab.page.get_by_role("link", name="Finish the test now").click()
    await tab.submit("Yes, finish the test")
    await expect(tab.page.locator(".result-value")).to_have_text("You did not pass this time")
    await expect(tab.page.get_by_role("heading", name="What to work on")).to_be_visible()
    await expect(tab.page.get_by_role("heading", name="Lessons to review")).to_be_visible()
    await tab.check("result-ct-fail")
    tab.assert_clean()


async def test_without_javascript_on_a_phone(
    app: FastAPI, web_course: WebCourse, web_server: str, browser: Browser, artifacts: Path
) -> None:
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    tab = Tab(await context.new_page(), web_server, artifacts, "nojs-", javascript=False)
    await enter_token(tab, await web_course.token("CT", "A1"))
    await tab.submit("Start the test")
    # nothing chosen: the same question again, with the error linked to the answer
    position, _, _ = await item_type_here(app, tab)
    await tab.submit("Save and continue")
    await expect(tab.page.locator("#error-summary")).to_be_visible()
    assert await tab.page.title() == f"Error: Question {position} of 7 – eTest"
    await tab.check("item-error")
    types = await take(app, tab, lambda n, _: True, shots=set())
    assert len(types) == 7 and "ordering" in types and "matching" in types
    await expect(tab.page.locator(".result-value")).to_have_text("You passed")
    await tab.check()
    tab.assert_clean()
    await context.close()


async def test_keyboard_only(
    app: FastAPI, web_course: WebCourse, web_server: str, context: BrowserContext, artifacts: Path
) -> None:
    tab = Tab(await context.new_page(), web_server, artifacts, "")
    page = tab.page
    await tab.goto("/take")
    await page.keyboard.press("Tab")  # the skip link comes first
    await expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    token = await web_course.token("CT", "A1")
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement.id") == "token":
            break
    await page.keyboard.type(token)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await tab.submit("Start the test")
    await expect(page.locator("h1")).to_be_focused()
    _, item_type, _ = await item_type_here(app, tab)
    focused = "() => document.activeElement.tagName.toLowerCase()"
    await page.keyboard.press("Tab")
    while await page.evaluate(focused) not in ("input", "select"):
        await page.keyboard.press("Tab")
    ring = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid"
    await page.screenshot(path=artifacts / "keyboard-focus.png")
    if item_type in ("single_choice", "multiple_choice"):
        await page.keyboard.press("Space")
    elif item_type == "text_entry":
        await page.keyboard.type("went")
    else:  # one select per position or per item: each gets a different choice
        count = await page.locator("form.answer-form select").count()  # not the page look
        for n in range(count):
            for _ in range(n + 1):
                await page.keyboard.press("ArrowDown")
            await page.keyboard.press("Tab")
    while await page.evaluate("() => document.activeElement.type") != "submit":
        await page.keyboard.press("Tab")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await expect(page.locator("h1"), f"a {item_type} item by keyboard").to_have_text(
        "Question 2 of 7"
    )
    await expect(page.get_by_text("Your answer was saved.")).to_be_visible()
    tab.assert_clean()


async def test_countdown_moves_on_and_sends_a_given_answer(
    app: FastAPI, web_course: WebCourse, web_server: str, context: BrowserContext, artifacts: Path
) -> None:
    tab = Tab(await context.new_page(), web_server, artifacts, "")
    await enter_token(tab, await web_course.token("CT", "A1+"))
    await expect(tab.page.get_by_text("Some questions have their own time limit.")).to_be_visible()
    await tab.submit("Start the test")
    question = tab.page.locator("[data-timer=question]")
    await expect(question).to_contain_text("Time left for this question")
    await expect(tab.page.locator("[data-timer=test]")).to_contain_text("min")
    await tab.check("timer")
    # left empty: at 0 the page moves on by itself once the server's grace is over
    await expect(tab.page.locator("h1")).to_have_text("Question 2 of 2", timeout=12_000)
    # typed but not sent: at 0 the answer is sent, in time
    await tab.page.get_by_label("Your answer").fill("went")
    await expect(tab.page.locator("h1")).to_have_text("Your result", timeout=12_000)
    await expect(tab.page.get_by_text("You answered 1 of 2 questions correctly.")).to_be_visible()
    tab.assert_clean()


async def test_result_hidden_shows_thanks(
    app: FastAPI, web_course: WebCourse, web_server: str, context: BrowserContext, artifacts: Path
) -> None:
    tab = Tab(await context.new_page(), web_server, artifacts, "")
    await enter_token(tab, await web_course.token("CT", "A1", hide_result=True))
    await tab.submit("Start the test")
    await tab.page.get_by_role("link", name="Finish the test now").click()
    await tab.submit("Yes, finish the test")
    await expect(tab.page.locator("h1")).to_have_text("Thank you")
    await tab.check("thank-you")
    tab.assert_clean()


async def test_error_page_and_a_link_from_another_site(
    web_course: WebCourse, web_server: str, context: BrowserContext, artifacts: Path
) -> None:
    tab = Tab(await context.new_page(), web_server, artifacts, "")
    await tab.goto(f"/take/{uuid.uuid4()}")
    await expect(tab.page.locator("h1")).to_have_text("Page not found")
    await tab.check("error-404")
    # an invitation link followed from another site (localhost is another site than 127.0.0.1)
    other_site = web_server.replace("127.0.0.1", "localhost")
    link = f"{web_server}/take?token={await web_course.token('PT')}"
    await tab.page.goto(f"{other_site}/health")
    await tab.page.evaluate("url => { window.location.href = url }", link)
    await expect(tab.page.locator("h1")).to_have_text("Placement", timeout=10_000)
    assert re.search(r"/take/[0-9a-f-]{36}$", tab.page.url)
    tab.assert_clean()
