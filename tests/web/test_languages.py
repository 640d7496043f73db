"""``/take`` in the candidate's language, in Debian's Chromium: a whole placement test (phone)
and a whole certification test (desktop) in each of English, Spanish, Vietnamese, Simplified
Chinese and Arabic, with screenshots in test-artifacts/languages/, axe-core on every page type
and the right-to-left layout of Arabic measured; the language chain's order, the switcher (no
JavaScript needed, by keyboard), the young learners' register and /verify.

The expected words come from the catalog (``Words(lang).gettext``), so a test fails when a page
shows a word the catalog does not translate (English is checked to be absent)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from etest.db import transaction
from etest.models import Plan
from etest.web.language import Words
from tests.attempt.conftest import make_course
from tests.conftest import create_candidate, create_key, create_org
from tests.web.conftest import ROOT, WebCourse
from tests.web.test_browser import Tab, item_type_here

pytestmark = pytest.mark.asyncio

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
#: The language, the browser locale that asks for it, and the words a page must not show.
LANGUAGES = {
    "en": "en-GB",
    "es": "es-MX",
    "vi": "vi-VN",
    "zh-Hans": "zh-CN",
    "ar": "ar-EG",
}
ENGLISH = ("Save and continue", "Start the test", "Your result", "Enter your test token")


@pytest.fixture(scope="module")
def shots() -> Path:
    path = ROOT / "test-artifacts" / "languages"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _token(web_course: WebCourse, type_: str, level: str | None = None, **fields: Any) -> str:
    candidate, admin = await web_course.candidate()
    body: dict[str, Any] = {"candidate_id": candidate["id"], "type": type_, **fields}
    if level:
        body["level"] = level
    resp = await web_course.client.post("/api/v1/tokens", headers=admin, json=body)
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    return code


async def _fill(page: Page, item_type: str, key: dict[str, Any]) -> None:
    """The right answer, found by field names (the labels are in the page's language)."""
    if item_type == "single_choice":
        await page.locator(f"input[name=answer][value='{key['correct'][0]}']").check()
    elif item_type == "multiple_choice":
        for value in key["correct"]:
            await page.locator(f"input[name=answer][value='{value}']").check()
    elif item_type == "text_entry":
        await page.locator("#answer").fill("Went")
    elif item_type == "ordering":
        for n, part in enumerate(key["order"], start=1):
            await page.locator(f"#order-{n}").select_option(part)
    elif item_type == "matching":
        pairs = dict(key["pairs"])
        for select in await page.locator("select[data-option]").all():
            await select.select_option(pairs[await select.get_attribute("data-option")])
    else:
        raise AssertionError(item_type)


async def _page_language(tab: Tab, lang: str) -> None:
    html = tab.page.locator("html")
    await expect(html).to_have_attribute("lang", lang)
    if lang == "ar":
        await expect(html).to_have_attribute("dir", "rtl")
    else:
        assert await html.get_attribute("dir") in (None, "ltr")
    if lang != "en":
        text = await tab.page.locator("body").inner_text()
        shown = [w for w in ENGLISH if w in text]
        assert not shown, f"English on a {lang} page: {shown}"


async def _rtl_layout(page: Page, lang: str) -> None:
    """Arabic mirrors: the heading's text and the progress label's text start at the right of
    the main column (the button too, where it is not full width), text aligns to the start;
    other languages start at the left. The item itself stays English, left to right."""
    main = await page.locator("main").bounding_box()
    assert main
    left, right = main["x"] + 16, main["x"] + main["width"] - 16  # main's 1rem padding
    text_box = (
        "e => { const r = document.createRange(); r.selectNodeContents(e); "
        "const b = r.getBoundingClientRect(); return [b.left, b.right]; }"
    )
    for selector in ("h1", ".progress-label"):
        start, end = await page.locator(selector).evaluate(text_box)
        if lang == "ar":
            assert abs(end - right) < 2 and start > left + 10, (selector, start, end, left, right)
        else:
            assert abs(start - left) < 2 and end < right - 10, (selector, start, end, left, right)
    button = await page.locator("form.answer-form button[type=submit]").bounding_box()
    assert button
    if button["width"] < right - left - 2:  # a full-width button (phones) has no side
        edge = button["x"] + button["width"] if lang == "ar" else button["x"]
        assert abs(edge - (right if lang == "ar" else left)) < 2, (button, left, right)
    direction = await page.evaluate("() => getComputedStyle(document.body).direction")
    assert direction == ("rtl" if lang == "ar" else "ltr")
    prompt = page.locator("#prompt")
    await expect(prompt).to_have_attribute("lang", "en")
    assert await prompt.evaluate("e => getComputedStyle(e).direction") == "ltr"
    align = await page.locator("h1").evaluate("e => getComputedStyle(e).textAlign")
    assert align in ("start", "right" if lang == "ar" else "left")


async def _also_at(tab: Tab, device: dict[str, Any], prefix: str, name: str) -> None:
    """The page as the other device shows it (a phone's or a desktop's browser, with this
    browser's cookies): it fits, its screenshot is kept and axe runs again."""
    browser = tab.page.context.browser
    assert browser is not None
    context = await browser.new_context(**device)
    try:
        await context.add_cookies(await tab.page.context.cookies())  # type: ignore[arg-type]
        other = Tab(await context.new_page(), tab.base, tab.artifacts, prefix)
        url = urlsplit(tab.page.url)
        await other.goto(url.path + (f"?{url.query}" if url.query else ""))
        await other.check(name)
        other.assert_clean()
    finally:
        await context.close()


async def _answer_all(
    app: FastAPI, tab: Tab, words: Words, lang: str, prefix: str, other: tuple[Any, str]
) -> int:
    """Answer every item rightly; the first item page is checked (screenshot, axe, RTL), at
    the other size too (``other``: its viewport and screenshot prefix)."""
    answered = 0
    while await tab.page.locator("form.answer-form").count():
        position, item_type, key = await item_type_here(app, tab)
        heading = await tab.page.locator("h1").inner_text()
        assert heading.startswith(words.gettext("Question %(n)s", n=position)), heading
        if answered == 0:
            await _page_language(tab, lang)
            await _rtl_layout(tab.page, lang)
            await tab.check(f"{prefix}item")
            await _also_at(tab, other[0], other[1], "item")
            timer = tab.page.locator("[data-timer=test] .timer-value")
            if await timer.count():  # the countdown (take.js) speaks the page's units
                unit = words.gettext("%(m)s min %(s)s s", m="", s="").split()[0]
                await expect(timer).to_contain_text(unit)
        await _fill(tab.page, item_type, key)
        await tab.submit(words.gettext("Save and continue"))
        answered += 1
    return answered


async def test_placement_on_a_phone_and_certification_on_a_desktop_in_five_languages(
    app: FastAPI, web_course: WebCourse, web_server: str, browser: Browser, shots: Path
) -> None:
    for lang, locale in LANGUAGES.items():
        words = Words(lang)
        # placement on a phone: the token page in the browser's language, the rest in the token's
        phone = await browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale=locale
        )
        tab = Tab(await phone.new_page(), web_server, shots, f"{lang}-phone-")
        await tab.goto("/take")
        await expect(tab.page.locator("h1")).to_have_text(words.gettext("Enter your test token"))
        await _page_language(tab, lang)
        await tab.check("token")
        await tab.page.get_by_label(words.gettext("Test token")).fill(
            await _token(web_course, "PT", language=lang)
        )
        await tab.submit(words.gettext("Start or continue the test"))
        await expect(tab.page.get_by_text(words.gettext("How it works"))).to_be_visible()
        await _page_language(tab, lang)
        await tab.check("start")
        await tab.submit(words.gettext("Start the test"))
        as_desktop = ({"viewport": DESKTOP, "locale": locale}, f"{lang}-desktop-pt-")
        # adaptive: it ends when the level is clear
        assert await _answer_all(app, tab, words, lang, "", as_desktop) >= 5
        await expect(tab.page.locator("h1")).to_have_text(words.gettext("Your result"))
        await _page_language(tab, lang)
        await tab.check("result-pt")
        await _also_at(tab, *as_desktop, "result-pt")
        tab.assert_clean()
        await phone.close()

        # certification on a desktop, with the finish confirmation on the way
        desktop = await browser.new_context(viewport=DESKTOP, locale=locale)
        tab = Tab(await desktop.new_page(), web_server, shots, f"{lang}-desktop-")
        await tab.goto("/take")
        await tab.page.get_by_label(words.gettext("Test token")).fill(
            await _token(web_course, "CT", "A1", language=lang)
        )
        await tab.submit(words.gettext("Start or continue the test"))
        await tab.submit(words.gettext("Start the test"))  # the start page: checked on the phone
        attempt = tab.attempt_id
        await tab.goto(f"/take/{attempt}/finish")
        await expect(tab.page.locator("h1")).to_have_text(words.gettext("Finish the test now?"))
        await _page_language(tab, lang)
        await tab.check("finish")
        async with tab.page.expect_navigation():
            await tab.page.get_by_role(
                "link", name=words.gettext("No, go back to the question")
            ).click()
        as_phone = (
            {
                "viewport": PHONE,
                "is_mobile": True,
                "has_touch": True,
                "device_scale_factor": 2,
                "locale": locale,
            },
            f"{lang}-phone-ct-",
        )
        assert await _answer_all(app, tab, words, lang, "", as_phone) == 7
        await expect(tab.page.locator("h1")).to_have_text(words.gettext("Your result"))
        await expect(tab.page.locator(".result-value")).to_have_text(words.gettext("You passed"))
        await _page_language(tab, lang)
        await tab.check("result-ct")
        await _also_at(tab, *as_phone, "result-ct")
        tab.assert_clean()
        await desktop.close()


async def test_the_switcher_by_keyboard_without_javascript_over_the_chain(
    web_course: WebCourse, web_server: str, browser: Browser, shots: Path
) -> None:
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", java_script_enabled=False)
    tab = Tab(await context.new_page(), web_server, shots, "switcher-", javascript=False)
    page = tab.page
    await tab.goto("/take")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.keyboard.press("Tab")  # the skip link
    await page.keyboard.press("Tab")  # the switcher
    await expect(page.locator(".languages summary")).to_be_focused()
    await page.keyboard.press("Enter")
    for _ in range(3):  # English, Español, Tiếng Việt
        await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Tiếng Việt")).to_be_focused()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url == f"{web_server}/take"
    await expect(page.locator("html")).to_have_attribute("lang", "vi")
    await expect(page.locator("h1")).to_have_text("Nhập mã bài kiểm tra của bạn")
    await tab.check("vi-token")
    # the choice is kept for this browser and wins over the token's language
    await page.get_by_label("Mã bài kiểm tra").fill(await _token(web_course, "PT", language="es"))
    await tab.submit("Bắt đầu hoặc tiếp tục làm bài")
    await expect(page.locator("html")).to_have_attribute("lang", "vi")
    # switching on a test page comes back to the same page
    start = page.url
    await page.locator(".languages summary").click()
    async with page.expect_navigation():
        await page.get_by_role("link", name="Español").click()
    assert page.url == start
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.get_by_role("button", name="Empezar la prueba")).to_be_visible()
    cookie = next(c for c in await context.cookies() if c["name"] == "etest_lang")
    assert cookie["value"] == "es" and cookie["path"] == "/" and cookie["httpOnly"]
    tab.assert_clean()
    await context.close()


async def _lang_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    found = re.search(r'<html lang="([^"]+)"', response.text)
    assert found
    return found.group(1)


async def _lang_of_any(response: httpx.Response) -> str:
    found = re.search(r'<html lang="([^"]+)"', response.text)
    assert found
    return found.group(1)


async def _started(client: httpx.AsyncClient, code: str, accept: str) -> httpx.Response:
    resp = await client.get("/take", params={"token": code}, headers={"Accept-Language": accept})
    if resp.status_code == 303:
        resp = await client.get(resp.headers["location"])
    return resp


async def test_the_chain_token_then_candidate_then_organization_then_browser(
    app: FastAPI, web_course: WebCourse
) -> None:
    client = web_course.client
    course = web_course.course
    org = await create_org(
        client, web_course.su, plan_code=course.plan, settings={"language": "ar"}
    )
    admin = await create_key(app, "admin", org["uic"])
    plain = await create_org(client, web_course.su, plan_code=course.plan)
    plain_admin = await create_key(app, "admin", plain["uic"])

    async def token(
        headers: dict[str, str], uic: str, candidate: dict[str, Any], tok: dict[str, Any]
    ) -> str:
        person = await create_candidate(client, headers, uic=uic, **candidate)
        resp = await client.post(
            "/api/v1/tokens",
            headers=headers,
            json={"candidate_id": person["id"], "type": "PT", **tok},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["language"] == tok.get("language")
        return str(resp.json()["code"])

    cases = [
        (admin, org["uic"], {"language": "es"}, {"language": "vi"}, "zh-CN", "vi"),
        (admin, org["uic"], {"language": "es-MX"}, {}, "zh-CN", "es"),
        (admin, org["uic"], {}, {}, "zh-CN", "ar"),
        # an organization without a language of its own: the browser's language decides
        (plain_admin, plain["uic"], {}, {}, "zh-CN,en;q=0.5", "zh-Hans"),
        (plain_admin, plain["uic"], {}, {}, "fr-FR,fr;q=0.9", "en"),
    ]
    for headers, uic, candidate, tok, accept, expected in cases:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as page:
            code = await token(headers, uic, candidate, tok)
            started = await _started(page, code, accept)
            assert await _lang_of(started) == expected, (candidate, tok)
            # the attempt keeps its language on its pages, whatever the browser asks later
            again = await page.get(str(started.url), headers={"Accept-Language": "es"})
            assert await _lang_of(again) == expected

    # before any token (the token form, /verify): the browser's language
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as page:
        form = await page.get("/take", headers={"Accept-Language": "fr, zh-SG;q=0.8"})
        assert await _lang_of(form) == "zh-Hans" and "输入你的测试码" in form.text
        verify = await page.get("/verify/NOPE-NOPE", headers={"Accept-Language": "ar"})
        assert verify.status_code == 404
        assert '<html lang="ar" dir="rtl">' in verify.text and "رمز غير معروف" in verify.text
        assert verify.headers["content-language"] == "ar"
        # the switcher on /verify comes back to it; it never sends a browser to another site
        switched = await page.get("/take/language", params={"lang": "vi", "back": "/verify/NOPE"})
        assert switched.status_code == 303 and switched.headers["location"] == "/verify/NOPE"
        assert await _lang_of_any(await page.get("/verify/NOPE")) == "vi"
        for back in ("//evil.example/x", "https://evil.example", "/\\evil.example", "/console"):
            away = await page.get("/take/language", params={"lang": "es", "back": back})
            assert away.headers["location"] == "/take", back


async def test_young_learners_read_simpler_words(
    app: FastAPI, client: httpx.AsyncClient, su: dict[str, str]
) -> None:
    course = await make_course(app, client, su)
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(update(Plan).where(Plan.code == course.plan).values(register="young"))
    person = await create_candidate(client, course.admin, uic=course.uic)
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": person["id"], "type": "CT", "level": "A1", "language": "es"},
    )
    assert resp.status_code == 201, resp.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as page:
        start = await _started(page, resp.json()["code"], "en")
        assert "Qué hay que hacer" in start.text  # young: "What to do"
        assert "Empezar la prueba" in start.text  # no young wording: the normal one
        csrf = re.search(r'name="csrf" value="([^"]+)"', start.text)
        assert csrf
        path = str(start.url.path)
        await page.post(f"{path}/start", data={"csrf": csrf.group(1)})
        item = await page.get(path)
        assert ">Siguiente</button>" in item.text and "Guardar y continuar" not in item.text
