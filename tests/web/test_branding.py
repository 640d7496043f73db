"""An organization's brand: the accent colour (validated, with a readable text colour) and the
logo uploaded in the console, served as ``/brand/<id>.css`` and ``/brand/<id>/logo`` (the pages'
CSP forbids inline styles) and shown on the candidate's pages in Chromium; the default logo when
none is set."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext

from etest.kit.logo import bundled_logo, contrast, text_on
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers
from tests.console.conftest import ConsoleClient, make_staff
from tests.web.test_browser import DESKTOP, Tab, enter_token

#: The smallest PNG there is (1x1), as a logo upload.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c"
    "6360f8cf000001010100189dd6e40000000049454e44ae426082"
)


@pytest.fixture(scope="module")
async def brand_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(app, client, su)


async def _org_id(client: httpx.AsyncClient, su: Headers, uic: str) -> str:
    resp = await client.get(f"/api/v1/organizations/{uic}", headers=su)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


async def test_accent_colour_is_validated_and_served_as_a_stylesheet(
    client: httpx.AsyncClient, su: Headers, brand_course: Course
) -> None:
    uic = brand_course.uic
    for bad in ("#fc0", "red", "#12345g", "1a4d8f"):
        resp = await client.patch(
            f"/api/v1/organizations/{uic}", headers=su, json={"settings": {"accent_color": bad}}
        )
        assert resp.status_code == 422, (bad, resp.text)
    org_id = await _org_id(client, su, uic)
    empty = await client.get(f"/brand/{org_id}.css")
    assert empty.status_code == 200 and "background" not in empty.text
    resp = await client.patch(
        f"/api/v1/organizations/{uic}", headers=su, json={"settings": {"accent_color": "#ffcc00"}}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["settings"]["accent_color"] == "#ffcc00"
    css = await client.get(f"/brand/{org_id}.css")
    assert css.headers["content-type"].startswith("text/css")
    # yellow takes dark text: white on it would not be readable
    assert ".banner { background: #ffcc00; color: #111111; }" in css.text
    assert "max-age" in css.headers["cache-control"]
    # an unknown organization: the pages' own colours, no error
    missing = await client.get("/brand/00000000-0000-0000-0000-000000000000.css")
    assert missing.status_code == 200 and "background" not in missing.text


def test_the_text_on_an_accent_is_always_readable() -> None:
    for accent in ("#1a4d8f", "#ffcc00", "#00a651", "#e4002b", "#000000", "#ffffff", "#7f7f7f"):
        text = text_on(accent)
        assert contrast(accent, text) >= 4.0, (accent, text)
    assert text_on("#1a4d8f") == "#ffffff" and text_on("#ffcc00") == "#111111"


async def test_logo_uploaded_in_the_console_replaces_the_default(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, brand_course: Course
) -> None:
    uic = brand_course.uic
    org_id = await _org_id(client, su, uic)
    default = await client.get(f"/brand/{org_id}/logo")
    assert default.status_code == 200 and default.content == bundled_logo().data
    assert default.headers["content-type"] == "image/png"
    staff = await make_staff(app, "admin", uic)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as http:
        console = ConsoleClient(http)
        await console.sign_in(staff)
        page = await console.get(f"/console/organizations/{uic}/settings")
        assert "This organization uses the default logo." in page.text
        refused = await console.post(
            f"/console/organizations/{uic}/logo",
            files={"file": ("logo.gif", b"GIF89a", "image/gif")},
        )
        assert refused.status_code == 422 and "A logo must be a PNG or JPEG file." in refused.text
        saved = await console.post(
            f"/console/organizations/{uic}/logo", files={"file": ("logo.png", PNG, "image/png")}
        )
        assert saved.status_code == 200 and "The logo was saved." in saved.text
        assert (await client.get(f"/brand/{org_id}/logo")).content == PNG
        # the accent colour and the next step from the settings form
        await console.get(f"/console/organizations/{uic}/settings")
        form = await console.post(
            f"/console/organizations/{uic}/settings",
            {
                "name": "Branded school",
                "timezone": "UTC",
                "language": "en",
                "ct_unlock_mode": "auto",
                "notify_after_pt": "1",
                "notify_after_ct": "1",
                "send_certificate_email": "1",
                "show_result_to_candidate": "1",
                "accent_color": "#00A651",
                "next_step_text": "Enrol in a class",
                "next_step_url": "https://example.org/enrol",
            },
        )
        assert form.status_code == 200 and "The settings were saved." in form.text, form.text
        org = (await client.get(f"/api/v1/organizations/{uic}", headers=su)).json()
        assert org["settings"]["accent_color"] == "#00a651"
        assert org["settings"]["next_step"] == {
            "text": "Enrol in a class",
            "url": "https://example.org/enrol",
            "levels": None,
        }
        removed = await console.post(f"/console/organizations/{uic}/logo", {"remove": "1"})
        assert "the default logo is used" in removed.text
        assert (await client.get(f"/brand/{org_id}/logo")).content == bundled_logo().data


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield ctx
    await ctx.close()


async def test_the_candidates_pages_wear_the_brand(
    client: httpx.AsyncClient,
    su: Headers,
    brand_course: Course,
    context: BrowserContext,
    web_server: str,
    artifacts: Path,
) -> None:
    uic = brand_course.uic
    await client.patch(
        f"/api/v1/organizations/{uic}", headers=su, json={"settings": {"accent_color": "#8a1538"}}
    )
    code = await brand_course.token(client, "CT", "A1")
    tab = Tab(await context.new_page(), web_server, artifacts, "brand-")
    await enter_token(tab, code)
    page = tab.page
    logo = page.locator("header.banner img.brand-logo")
    assert await logo.get_attribute("alt")  # the organization's name
    assert await logo.evaluate("img => img.complete && img.naturalWidth > 0")
    banner = await page.locator("header.banner").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert banner == "rgb(138, 21, 56)"
    button = page.get_by_role("button", name="Start the test")
    assert await button.evaluate("el => getComputedStyle(el).color") == "rgb(255, 255, 255)"
    await tab.check("start")
    await tab.submit("Start the test")
    assert re.match(r"Question 1", await page.locator("h1").inner_text())
    # the item page (the hot path) links the brand too, without reading the organization
    assert await page.locator("link[href$='.css'][href^='/brand/']").count() == 1
    await tab.check("item")
    tab.assert_clean()


def test_emails_carry_the_accent_above_the_logo() -> None:
    from datetime import UTC, datetime

    from etest.kit.logo import organization_logo
    from etest.notification.render import InviteContent, render_invite

    def invite(accent: str | None) -> str:
        content = InviteContent(
            to="ana@example.org",
            first_name="Ana",
            last_name="Lima",
            organization="Branded school",
            language="en",
            timezone="UTC",
            type="PT",
            level=None,
            link="https://etest.example.org/take?token=x",
            expires_at=datetime(2027, 1, 1, tzinfo=UTC),
            accent=accent,
        )
        message = render_invite(
            content,
            sender="etest@example.org",
            msg_id="<1@example.org>",
            logo=organization_logo(None, None),
            now=datetime(2026, 12, 1, tzinfo=UTC),
        )
        html = message.get_body(("html",))
        assert html is not None
        return str(html.get_content())

    assert "background:#8a1538" in invite("#8a1538")
    assert "background:#8a1538" not in invite(None)
    # a value that is no colour never reaches the style attribute
    assert "red;" not in invite("red;}</style>")


def test_certificates_frame_in_the_accent() -> None:
    import base64
    import zlib

    from etest.certificate.pdf import CertificateView, render

    def strokes(accent: str | None) -> bytes:
        view = CertificateView(
            holder_name="Ana Lima",
            level="A1",
            plan_name="Neo",
            organization_name="Branded school",
            date="2026-12-06",
            code="ABCD-EFGH",
            verify_url="https://etest.example.org/verify/ABCD-EFGH",
            logo=bundled_logo().data,
            accent=accent,
        )
        pdf = render(view)
        streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S)
        out = b""
        for s in streams:  # ReportLab's page streams: ASCII85, then Flate
            try:
                out += zlib.decompress(base64.a85decode(s.strip().removesuffix(b"~>")))
            except (ValueError, zlib.error):
                continue
        return out

    # #8a1538 as ReportLab writes a stroke colour
    assert b".541176 .082353 .219608 RG" in strokes("#8a1538")
    assert b".541176 .082353 .219608 RG" not in strokes(None)
