"""The result a candidate reads, in Chromium: a placement's level in words with its CEFR
meaning, the "can do" statements of the level, how sure the placement is and what to do next
(the organization's step, else the level's Certification Test); a failed CT's Can't-Do
statements and review list; a passed CT's certificate download only where the organization
allows it. Each page gets an axe-core check and a screenshot (test-artifacts/web/).

The tests are finished over the API (fast); the browser then enters the token, which shows the
finished attempt's result, as it does for a candidate coming back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext

from etest.web import result
from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers, create_candidate, create_key, create_org
from tests.web.test_browser import DESKTOP, Tab, enter_token


@pytest.fixture(scope="module")
async def results_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    """An adaptive PT (it gives level probabilities) in an organization that lets candidates
    download certificates and names a next step of its own for A1."""
    return await make_course(
        app,
        client,
        su,
        pt_engine="irt",
        settings={
            "allow_candidate_certificate_download": True,
            "next_step": {
                "levels": {"A1": {"text": "Enrol in our A1 class", "url": "https://example.org/a1"}}
            },
        },
    )


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield ctx
    await ctx.close()


async def _finish(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Headers,
    candidate: dict[str, Any],
    *,
    passing: bool = True,
    **body: Any,
) -> str:
    resp = await client.post(
        "/api/v1/tokens", headers=admin, json={"candidate_id": candidate["id"], **body}
    )
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    taker = Taker(app, client, code)
    assert (await taker.start()).status_code == 201
    await taker.run(lambda n, t, k: right(t, k) if passing else wrong(t, k))
    return code


async def _result_tab(
    context: BrowserContext, web_server: str, artifacts: Path, code: str, name: str
) -> Tab:
    tab = Tab(await context.new_page(), web_server, artifacts, "result-")
    await enter_token(tab, code)
    assert await tab.page.locator("h1").inner_text() == "Your result"
    await tab.check(name)
    return tab


async def test_placement_result_reads_as_words(
    app: FastAPI,
    client: httpx.AsyncClient,
    results_course: Course,
    context: BrowserContext,
    web_server: str,
    artifacts: Path,
) -> None:
    course = results_course
    code = await _finish(app, client, course.admin, course.candidate, type="PT")
    tab = await _result_tab(context, web_server, artifacts, code, "pt")
    page = tab.page
    level = (await page.locator(".result-value").inner_text()).strip()
    assert level in ("A1", "A1+", "A2")
    text = await page.locator("main").inner_text()
    # the level's CEFR meaning and its can-do statements (content: "Can <skill> at <level>")
    assert "You can" in text
    can_do = await page.locator("ul.can-do li").all_inner_texts()
    assert can_do and all(line.endswith(f"at {level}") for line in can_do)
    # how sure: a sentence and the level's chance in 100
    assert await page.locator(".result-confidence").count() == 1
    assert re.search(rf"\d+ in 100 that your level is {re.escape(level)}", text)
    # what next: the organization's own step for A1, else the CT of the level
    step = page.locator("section.next-step")
    if level == "A1":
        link = step.get_by_role("link", name="Enrol in our A1 class")
        assert await link.get_attribute("href") == "https://example.org/a1"
    else:
        assert f"Certification Test of level {level}" in await step.inner_text()
    tab.assert_clean()


async def test_failed_ct_shows_cant_do_and_lessons(
    app: FastAPI,
    client: httpx.AsyncClient,
    results_course: Course,
    context: BrowserContext,
    web_server: str,
    artifacts: Path,
) -> None:
    course = results_course
    candidate = await create_candidate(client, course.admin, uic=course.uic)
    code = await _finish(app, client, course.admin, candidate, type="CT", level="A1", passing=False)
    tab = await _result_tab(context, web_server, artifacts, code, "ct-fail")
    page = tab.page
    assert await page.locator(".result-value").inner_text() == "You did not pass this time"
    cant_do = await page.locator("ul.cant-do li").all_inner_texts()
    assert cant_do and all(line.startswith("Cannot yet") for line in cant_do)
    assert await page.locator("ul.review-list li").all_inner_texts() == ["Lesson A1"]
    assert await page.get_by_role("link", name="Download your certificate (PDF)").count() == 0
    tab.assert_clean()


async def test_passed_ct_offers_the_download_only_where_allowed(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    results_course: Course,
    context: BrowserContext,
    web_server: str,
    artifacts: Path,
) -> None:
    course = results_course
    candidate = await create_candidate(client, course.admin, uic=course.uic)
    code = await _finish(app, client, course.admin, candidate, type="CT", level="A1")
    tab = await _result_tab(context, web_server, artifacts, code, "ct-pass")
    page = tab.page
    assert await page.locator(".result-value").inner_text() == "You passed"
    link = page.get_by_role("link", name="Download your certificate (PDF)")
    async with page.expect_download() as download:
        await link.click()
    pdf = await (await download.value).path()
    assert (await asyncio.to_thread(Path(pdf).read_bytes)).startswith(b"%PDF")
    assert await page.locator("ul.cant-do").count() == 0
    tab.assert_clean()
    # an organization that does not allow downloads: the page says where the certificate is
    org = await create_org(client, su, plan_code=course.plan, settings={})
    admin = await create_key(app, "admin", org["uic"])
    other = await create_candidate(client, admin, uic=org["uic"])
    code = await _finish(app, client, admin, other, type="CT", level="A1")
    tab = await _result_tab(context, web_server, artifacts, code, "ct-pass-no-download")
    assert await tab.page.get_by_role("link", name="Download your certificate (PDF)").count() == 0
    assert "ask them for a copy" in await tab.page.locator("main").inner_text()
    tab.assert_clean()


def test_confidence_words_follow_the_probabilities() -> None:
    order = ["A1", "A1+", "A2"]
    sure = result.confidence({"A1": 0.05, "A1+": 0.9, "A2": 0.05}, "A1+", order)
    assert sure == result.Confidence("very", 90, None, None)
    fairly = result.confidence({"A1": 0.1, "A1+": 0.65, "A2": 0.25}, "A1+", order)
    assert fairly == result.Confidence("fairly", 65, "A2", 25)
    close = result.confidence({"A1": 0.45, "A1+": 0.5, "A2": 0.05}, "A1+", order)
    assert close is not None and close.band == "estimate" and close.other == "A1"
    assert result.confidence({}, "A1", order) is None  # a staged test gives no probabilities


def test_next_step_prefers_the_organizations_words() -> None:
    class Plan:
        levels = [{"level": "A1", "ct_assessment": "ct-a1"}, {"level": "A2"}]

    plan: Any = Plan()
    every = {"next_step": {"text": "Book a class", "url": "https://example.org"}}
    assert result.next_step(every, "A2", plan) == result.NextStep(
        "Book a class", "https://example.org"
    )
    per_level = {"next_step": {"text": "Any", "levels": {"A1": {"text": "A1 class"}}}}
    assert result.next_step(per_level, "A1", plan) == result.NextStep("A1 class", None)
    assert result.next_step({}, "A1", plan) == result.NextStep(ct_level="A1")
    assert result.next_step({}, "A2", plan) is None
