"""The item bank in the console: browse and filter, an item's page (key, IRT parameters,
statistics, versions, the assessments using it), the status change through the content
service (audited), and the preview drawn by ``/take``'s own item page with its media."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select

from etest.db import transaction
from etest.models import AuditEntry, Item
from tests.attempt.conftest import Taker, make_course, right
from tests.conftest import Headers, create_org
from tests.console.conftest import ConsoleClient, make_staff
from tests.web.conftest import WebCourse

pytestmark = pytest.mark.asyncio


async def item_id(app: FastAPI, code: str) -> str:
    async with transaction(app.state.sessionmaker) as session:
        item = await session.scalar(
            select(Item).where(Item.code == code).order_by(Item.version.desc())
        )
        assert item is not None, code
        return str(item.id)


async def test_bank_filters_and_an_items_page(
    app: FastAPI, web_course: WebCourse, console: ConsoleClient
) -> None:
    tag = web_course.tag
    await console.sign_in(await make_staff(app, "content_manager", None))
    listed = await console.get(f"/console/bank?q={tag}-w-&type=single_choice")
    assert listed.status_code == 200
    assert f"{tag}-w-listen" in listed.text and f"{tag}-w-picture" in listed.text
    assert f"{tag}-w-order" not in listed.text
    assert "2 items" in listed.text
    none = await console.get(f"/console/bank?q={tag}-w-&skill=listening&status=retired")
    assert "No item matches these filters." in none.text
    odd = await console.get("/console/bank?level=Z9&type=nonsense&status=x")
    assert odd.status_code == 200  # unknown filter values are ignored, never a stack trace

    listen = await item_id(app, f"{tag}-w-listen")
    page = await console.get(f"/console/bank/items/{listen}")
    assert page.status_code == 200
    text = page.text
    assert f"<h1>Item {tag}-w-listen</h1>" in text
    assert "I would like an apple, please." in text  # the transcript: key readers only
    assert "Key and IRT parameters" in text and "-1.500" in text
    assert "No finished test has served this version yet." in text
    assert f"ct-{tag}-a1</a> version 2" in text and f"pt-{tag}</a> version 2" in text
    assert re.search(r'href="/media/[0-9a-f]{64}">audio/ogg', text)


async def test_status_change_is_audited_and_refused_to_other_roles(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    web_course: WebCourse,
    console: ConsoleClient,
) -> None:
    tag = web_course.tag
    picture = await item_id(app, f"{tag}-w-picture")
    await console.sign_in(await make_staff(app, "content_manager", None, name="Cora Content"))
    await console.get(f"/console/bank/items/{picture}")
    bad = await console.post(f"/console/bank/items/{picture}/status", {"status": "gone"})
    assert bad.status_code == 422 and "Choose one of the statuses." in bad.text
    forged = await console.http.post(
        f"/console/bank/items/{picture}/status", data={"status": "retired", "csrf": "x"}
    )
    assert forged.status_code == 403 and "expired or came from another site" in forged.text
    done = await console.post(f"/console/bank/items/{picture}/status", {"status": "retired"})
    assert done.status_code == 200
    assert f"{tag}-w-picture version 1 is now retired." in done.text
    async with transaction(app.state.sessionmaker) as session:
        item = await session.get(Item, uuid.UUID(picture))
        assert item is not None and item.status == "retired"
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "item.status", AuditEntry.target_id == picture)
            .order_by(AuditEntry.created_at.desc())
        )
        assert entry is not None and entry.details == {"from": "active", "to": "retired"}
    back = await console.post(f"/console/bank/items/{picture}/status", {"status": "active"})
    assert "is now active" in back.text

    org = await create_org(client, su)
    for role in ("admin", "viewer", "support"):
        console.http.cookies.clear()
        await console.sign_in(await make_staff(app, role, org["uic"]))
        for path in ("/console/bank", f"/console/bank/items/{picture}"):
            refused = await console.get(path)
            assert refused.status_code == 403, (role, path)
        posted = await console.post(f"/console/bank/items/{picture}/status", {"status": "draft"})
        assert posted.status_code == 403
        home = await console.get("/console")
        assert 'href="/console/bank"' not in home.text
    async with transaction(app.state.sessionmaker) as session:
        item = await session.get(Item, uuid.UUID(picture))
        assert item is not None and item.status == "active"


async def test_a_missing_item_is_the_console_404(app: FastAPI, console: ConsoleClient) -> None:
    await console.sign_in(await make_staff(app, "superadmin", None))
    resp = await console.get("/console/bank/items/00000000-0000-4000-8000-000000000000")
    assert resp.status_code == 404 and "<h1>Page not found</h1>" in resp.text


async def test_preview_is_takes_item_page_and_checks_an_answer(
    app: FastAPI, web_course: WebCourse, console: ConsoleClient
) -> None:
    tag = web_course.tag
    listen = await item_id(app, f"{tag}-w-listen")
    await console.sign_in(await make_staff(app, "content_manager", None))
    page = await console.get(f"/console/bank/items/{listen}/preview")
    assert page.status_code == 200
    text = page.text
    assert "<h1" in text and "Question 1" in text
    assert "<audio controls" in text and 'type="audio/ogg"' in text
    assert re.search(r'<img class="stimulus-image" src="/media/[0-9a-f]{64}" alt="A kitchen', text)
    assert f'action="/console/bank/items/{listen}/preview"' in text
    assert "/take/" not in text
    assert "I would like an apple" not in text  # a candidate never sees the transcript
    assert page.headers["content-length"] == str(len(page.content))

    ok = await console.post(f"/console/bank/items/{listen}/preview", {"answer": "A"})
    assert "this answer is correct" in ok.text
    wrong = await console.post(f"/console/bank/items/{listen}/preview", {"answer": "B"})
    assert "this answer is not correct" in wrong.text
    empty = await console.post(f"/console/bank/items/{listen}/preview", {})
    assert empty.status_code == 422 and "Choose one answer." in empty.text

    order = await item_id(app, f"{tag}-w-order")
    ordered = await console.post(
        f"/console/bank/items/{order}/preview",
        {"order-1": "w1", "order-2": "w2", "order-3": "w3", "order-4": "w4"},
    )
    assert "this answer is correct" in ordered.text


async def test_statistics_of_served_items_for_pooling_roles_only(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    course = await make_course(app, client, su)
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": course.candidate["id"], "type": "PT"},
    )
    assert resp.status_code == 201, resp.text
    taker = Taker(app, client, resp.json()["code"])
    assert (await taker.start()).status_code in (200, 201)
    await taker.run(lambda n, t, k: right(t, k))
    first = await item_id(app, f"{course.tag}-a1-r0")
    await console.sign_in(await make_staff(app, "content_manager", None))
    page = await console.get(f"/console/bank/items/{first}")
    stats = page.text.split("<h2>Statistics</h2>")[1].split("<h2>")[0]
    assert "Served on finished tests</dt><dd>1</dd>" in stats
    assert "p-value (proportion correct)</dt><dd>1.00</dd>" in stats
    assert "Point-biserial (against the rest score)</dt><dd>–</dd>" in stats  # no variance
    assert "Mean time</dt><dd>" in stats and " s</dd>" in stats

    org = await create_org(client, su)
    console.http.cookies.clear()
    await console.sign_in(await make_staff(app, "superadmin", org["uic"]))
    scoped = await console.get(f"/console/bank/items/{first}")
    assert scoped.status_code == 200
    assert "only content managers and superadmins of no organization" in scoped.text


async def test_bank_in_a_browser(app: FastAPI, web_course: WebCourse, open_tab: Any) -> None:
    tag = web_course.tag
    staff = await make_staff(app, "content_manager", None, name="Cora Content")
    tab = await open_tab("bank-")
    await tab.sign_in(staff)
    nav = tab.page.get_by_role("navigation", name="Sections")
    async with tab.page.expect_navigation():
        await nav.get_by_role("link", name="Item bank").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Item bank")
    await tab.page.get_by_label("Code or text").fill(f"{tag}-w-")
    await tab.page.get_by_label("Skill").select_option("listening")
    async with tab.page.expect_response(lambda r: "skill=listening" in r.url):
        await tab.page.get_by_role("button", name="Filter").click()  # htmx swaps the results
    await expect(tab.page.get_by_text("1 item", exact=True)).to_be_visible(timeout=15_000)
    await expect(tab.page.get_by_role("link", name=f"{tag}-w-listen")).to_be_visible()
    assert "skill=listening" in tab.page.url  # htmx pushed the filtered address
    await tab.check("list")

    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name=f"{tag}-w-listen").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text(f"Item {tag}-w-listen")
    await tab.check("item")

    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name="Preview as a candidate sees it").click()
    await expect(tab.page.locator("audio[controls]")).to_have_count(1)
    image = tab.page.locator("img.stimulus-image")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
    await tab.page.get_by_label("an apple").check()
    await tab.submit("Save and continue")
    await expect(tab.page.get_by_text("this answer is correct")).to_be_visible()
    await tab.check("preview")

    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name="Back to the item").click()
    await tab.page.get_by_label("Status", exact=True).select_option("pilot")
    await tab.submit("Save the status")
    await expect(tab.page.get_by_text(f"{tag}-w-listen version 1 is now pilot.")).to_be_visible()
    await tab.page.get_by_label("Status", exact=True).select_option("active")
    await tab.submit("Save the status")
    await expect(tab.page.get_by_text("is now active")).to_be_visible()

    phone = await open_tab("bank-phone-", phone=True)
    await phone.sign_in(staff)
    await phone.goto(f"/console/bank?q={tag}-w-")
    await phone.check("list-phone")
    tab.assert_clean()
    phone.assert_clean()
