"""Accommodations on the candidate's pages, in Chromium: extra time visible on the start page and
in the countdown, a page look set by staff and changed by the candidate (high contrast passes
axe), a listening clip's play limit held by the server (a play from byte 0 counted, a range
continuation not) and said on the page, and pausing an untimed test (the browser lets go of it;
the token brings the candidate back to the same question), not offered for a timed one."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext

from etest.demo import DEMO_CONTENT as DEMO
from tests.conftest import create_candidate
from tests.console.conftest import ConsoleClient, make_staff
from tests.web.conftest import WebCourse
from tests.web.test_browser import DESKTOP, Tab, enter_token, fill_answer, item_type_here


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield ctx
    await ctx.close()


async def _token(web: WebCourse, accommodations: dict[str, Any], **body: Any) -> str:
    course = web.course
    candidate = await create_candidate(web.client, course.admin, uic=course.uic)
    resp = await web.client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": candidate["id"], "accommodations": accommodations, **body},
    )
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    return code


async def test_extra_time_theme_and_clip_limit(
    web_course: WebCourse, context: BrowserContext, web_server: str, artifacts: Path
) -> None:
    code = await _token(
        web_course,
        {"extra_time": 1.5, "clip_plays": 1, "theme": "contrast"},
        type="CT",
        level="A1",
    )
    tab = Tab(await context.new_page(), web_server, artifacts, "accommodations-")
    page = tab.page
    await enter_token(tab, code)
    # the start page says the extended time, and the staff's theme is on
    facts = await page.locator("dl.facts").inner_text()
    assert "45 minutes for the whole test" in facts
    assert "This includes your extra time: 1.5 times the usual time" in facts
    assert await page.locator("html").get_attribute("class") == "theme-contrast"
    await tab.check("start-contrast")
    await tab.submit("Start the test")
    # the countdown starts from the extended limit
    timer = page.locator("[data-timer=test]")
    assert float(await timer.get_attribute("data-remaining") or 0) > 1800
    # the listening item (the test's order is the seed's): its recording goes through the
    # counting route
    audio = page.locator("audio[data-plays-left]")
    while not await audio.count():
        _, item_type, key = await item_type_here(web_course.app, tab)
        await fill_answer(page, item_type, key, True)
        await tab.submit("Save and continue")
    position, _, _ = await item_type_here(web_course.app, tab)
    src = await page.locator("audio[data-plays-left] source").first.get_attribute("src")
    assert src and re.fullmatch(rf"/take/[0-9a-f-]{{36}}/clip/{position}/[0-9a-f]{{64}}", src)
    assert "You may play this recording 1 more time." in await page.locator("main").inner_text()
    await tab.check("item-contrast")
    first = await page.request.get(web_server + src)
    assert first.status == 200 and first.headers["content-type"].startswith("audio/")
    later_part = await page.request.get(web_server + src, headers={"Range": "bytes=10-"})
    assert later_part.status in (200, 206)  # a continuation is not a new play
    again = await page.request.get(web_server + src, headers={"Range": "bytes=0-"})
    assert again.status == 403
    assert "cannot be played again" in await again.text()
    await page.reload()
    used = page.locator("p.clip-used")
    assert await used.inner_text() == (
        "You have played this recording 1 time; it cannot be played again."
    )
    assert await page.locator("audio").count() == 0
    # the candidate picks a larger text: kept with the attempt, over the staff's default
    await page.get_by_label("Page look").select_option("large")
    await tab.submit("Change the page look")
    assert await page.locator("html").get_attribute("class") == "theme-large"
    size = await page.locator("html").evaluate("el => getComputedStyle(el).fontSize")
    assert size == "20px"
    await tab.check("item-large")
    tab.errors = [e for e in tab.errors if "/clip/" not in e]  # the 403 asked for above
    tab.assert_clean()


async def test_pause_an_untimed_test_and_come_back(
    web_course: WebCourse, context: BrowserContext, web_server: str, artifacts: Path
) -> None:
    code = await _token(web_course, {"pause_allowed": True}, type="PT")
    tab = Tab(await context.new_page(), web_server, artifacts, "accommodations-")
    page = tab.page
    await enter_token(tab, code)
    attempt_path = f"/take/{tab.attempt_id}"
    await tab.submit("Start the test")
    _, item_type, key = await item_type_here(web_course.app, tab)
    await fill_answer(page, item_type, key, True)
    await tab.submit("Save and continue")
    heading = await page.locator("h1").inner_text()
    await tab.submit("Pause and continue later")
    assert await page.locator("h1").inner_text() == "Your test is paused"
    await tab.check("paused")
    # this browser no longer holds the test ...
    await tab.goto(attempt_path)
    assert "not open in this browser" in await page.locator("main").inner_text()
    # ... the token brings the candidate back to the same question
    await enter_token(tab, code)
    assert await page.locator("h1").inner_text() == heading
    tab.errors = [e for e in tab.errors if "404" not in e]
    tab.assert_clean()


async def test_a_timed_test_offers_no_pause(
    web_course: WebCourse, context: BrowserContext, web_server: str, artifacts: Path
) -> None:
    code = await _token(web_course, {"pause_allowed": True}, type="CT", level="A1")
    tab = Tab(await context.new_page(), web_server, artifacts, "accommodations-")
    await enter_token(tab, code)
    await tab.submit("Start the test")
    assert await tab.page.get_by_role("button", name="Pause and continue later").count() == 0
    tab.assert_clean()


async def test_staff_set_and_see_accommodations_in_the_console(web_course: WebCourse) -> None:
    course = web_course.course
    staff = await make_staff(web_course.app, "admin", course.uic)
    transport = httpx.ASGITransport(app=web_course.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as http:
        console = ConsoleClient(http)
        await console.sign_in(staff)
        await console.get("/console/candidates/new")
        email = f"acc-{uuid.uuid4().hex[:8]}@example.org"
        created = await console.post(
            "/console/candidates/new",
            {
                "uic": course.uic,
                "email": email,
                "first_name": "Ana",
                "last_name": "Lima",
                "acc_extra_time": "1.5",
                "acc_clip_plays": "2",
                "acc_theme": "large",
                "acc_pause": "1",
            },
        )
        assert created.status_code == 200, created.text[:2000]
        page = created.text
        assert "Extra time: 1.5 times the time limit" in page
        assert "Each listening recording may be played 2 times" in page
        assert "tests without a time limit only; a timed test ignores it" in page
        found = await web_course.client.get(
            "/api/v1/candidates", headers=course.admin, params={"q": email}
        )
        candidate = found.json()["items"][0]
        assert candidate["accommodations"] == {
            "extra_time": 1.5,
            "clip_plays": 2,
            "theme": "large",
            "pause_allowed": True,
        }
        edit = await console.get(f"/console/candidates/{candidate['id']}/edit")
        assert 'value="2"' in edit.text
        bad = await console.post(
            f"/console/candidates/{candidate['id']}/edit",
            {"email": email, "first_name": "Ana", "last_name": "Lima", "acc_clip_plays": "0"},
        )
        assert bad.status_code == 422
        cleared = await console.post(
            f"/console/candidates/{candidate['id']}/edit",
            {"email": email, "first_name": "Ana", "last_name": "Lima"},
        )
        assert cleared.status_code == 200 and "The changes are saved." in cleared.text
        again = await web_course.client.get(
            f"/api/v1/candidates/{candidate['id']}", headers=course.admin
        )
        assert again.json()["accommodations"] is None
        # an attempt shows what it ran under (here the token's, recorded when it started)
        token = await web_course.client.post(
            "/api/v1/tokens",
            headers=course.admin,
            json={
                "candidate_id": candidate["id"],
                "type": "PT",
                "accommodations": {"extra_time": 2.0},
            },
        )
        started = await web_course.client.post(
            "/api/v1/attempts", json={"token": token.json()["code"]}
        )
        assert started.status_code == 201, started.text
        shown = await console.get(f"/console/candidates/{candidate['id']}")
        assert "Ran with:" in shown.text and "extra time ×2" in shown.text


async def test_a_demo_recording_plays_in_safari_too(
    web_course: WebCourse, context: BrowserContext, web_server: str, artifacts: Path
) -> None:
    """The demo's first A1 listening item, imported with its clip's MP3 sibling: the item page
    offers Opus, then MP3 (Safari plays no Opus), and the MP3 is served as audio/mpeg; under a
    play limit both sources go through the counting route."""
    demo = json.loads((DEMO / "bank-a1.json").read_text())
    item = next(i for i in demo["items"] if i["code"] == "demo-a1-l01")
    tag = web_course.tag
    item = {**item, "code": f"{tag}-demo-l01", "can_do": None, "review_lessons": []}
    item.pop("can_do")
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-mp3-{tag}",
        "version": 1,
        "title": "demo clip",
        "items": [item],
    }
    ct = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}-a2",
        "version": 1,
        "title": "Listening A2",
        "plan": f"p_{tag}",
        "level": "A2",
        "engine": {
            "type": "fixed",
            "sections": [{"skill": "listening", "count": 1, "pool": [item["code"]]}],
        },
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("0.json", json.dumps(bank))
        zf.writestr("1.json", json.dumps(ct))
        for suffix in (".opus", ".mp3"):
            name = f"media/audio/a1-l01{suffix}"
            zf.writestr(name, (DEMO / name).read_bytes())
    resp = await web_course.client.post(
        "/api/v1/content/import",
        headers=web_course.su,
        files={"file": ("mp3.zip", buf.getvalue(), "application/zip")},
    )
    assert resp.status_code == 200, resp.text
    # the candidate API offers the second format too (a platform's own player)
    started = await web_course.client.post(
        "/api/v1/attempts",
        json={"token": await _token(web_course, {}, type="CT", level="A2")},
    )
    assert started.status_code in (200, 201), started.text
    view = await web_course.client.get(
        f"/api/v1/attempts/{started.json()['attempt_id']}/item",
        headers={"Authorization": f"Bearer {started.json()['secret']}"},
    )
    audio = view.json()["item"]["stimulus"]["audio"]
    assert audio["content_type"] == "audio/ogg"
    assert audio["alternative"]["content_type"] == "audio/mpeg"
    assert audio["alternative"]["url"].startswith("/media/")
    for limit in (None, 2):
        code = await _token(
            web_course, {"clip_plays": limit} if limit else {}, type="CT", level="A2"
        )
        tab = Tab(await context.new_page(), web_server, artifacts, "accommodations-")
        await enter_token(tab, code)
        await tab.submit("Start the test")
        sources = tab.page.locator("audio source")
        types = [await s.get_attribute("type") for s in await sources.all()]
        assert types == ["audio/ogg", "audio/mpeg"]
        mp3 = await sources.nth(1).get_attribute("src")
        assert mp3 is not None
        assert mp3.startswith("/media/" if limit is None else f"/take/{tab.attempt_id}/clip/1/")
        served = await tab.page.request.get(web_server + mp3)
        assert served.status == 200 and served.headers["content-type"] == "audio/mpeg"
        assert (await served.body())[:3] == b"ID3"
        if limit is None:
            await tab.check("item-two-sources")
        tab.assert_clean()
