"""Assessments in the console: the list with the published version of each, and an
assessment's page with every version, a placement-test version's evidence figures and its
pilot items."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select

from etest.db import transaction
from etest.models import Assessment
from tests.bank.test_evidence import bank, pt
from tests.conftest import Headers, create_org, unique
from tests.console.conftest import ConsoleClient, make_staff
from tests.support.flows import import_flows

pytestmark = pytest.mark.asyncio


async def assessment_id(app: FastAPI, code: str) -> str:
    async with transaction(app.state.sessionmaker) as session:
        found = await session.scalar(select(Assessment).where(Assessment.code == code))
        assert found is not None, code
        return str(found.id)


async def test_assessments_list_and_a_pts_evidence_and_pilots(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    tag = unique("as").lower()
    flow = pt(tag, pilot={"items": [f"{tag}-p0", f"{tag}-p1"], "rate": 0.2})
    await import_flows(client, su, bank(tag), flow)
    pt_id = await assessment_id(app, f"pt-{tag}")
    await console.sign_in(await make_staff(app, "content_manager", None))
    listed = await console.get("/console/assessments")
    assert listed.status_code == 200
    assert f'href="/console/assessments/{pt_id}">pt-{tag}</a>' in listed.text
    row = listed.text.split(f">pt-{tag}</a>")[1].split("</tr>")[0]
    assert "Passed" in row

    page = await console.get(f"/console/assessments/{pt_id}")
    assert page.status_code == 200
    text = page.text
    assert f"<h1>Assessment pt-{tag}</h1>" in text
    assert "Version 1 (published: new attempts get it)" in text
    assert "Passed its thresholds" in text
    assert "Simulated placement by level, version 1" in text
    assert "Thresholds: at least 95% within one level at every level" in text
    assert "All levels" in text and "Exposure: the most used question" in text
    assert "20% of a test&#39;s positions go to these items" in text
    assert f">{tag}-p0</a> version 1 (Pilot)" in text and f">{tag}-p1</a>" in text


async def test_assessments_are_for_content_roles(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    await console.sign_in(await make_staff(app, "admin", org["uic"]))
    assert (await console.get("/console/assessments")).status_code == 403
    console.http.cookies.clear()
    await console.sign_in(await make_staff(app, "superadmin", None))
    missing = await console.get("/console/assessments/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text


async def test_assessments_in_a_browser(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    tag = unique("as").lower()
    flow = pt(tag, pilot={"items": [f"{tag}-p0"], "rate": 0.1})
    await import_flows(client, su, bank(tag), flow)
    staff = await make_staff(app, "superadmin", None, name="Sam Super")
    tab = await open_tab("assessments-")
    await tab.sign_in(staff)
    nav = tab.page.get_by_role("navigation", name="Sections")
    async with tab.page.expect_navigation():
        await nav.get_by_role("link", name="Assessments").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Assessments")
    await tab.check("list")
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name=f"pt-{tag}").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text(f"Assessment pt-{tag}")
    await expect(
        tab.page.get_by_role("table", name="Simulated placement by level, version 1")
    ).to_be_visible()
    await expect(tab.page.get_by_role("link", name=f"{tag}-p0")).to_be_visible()
    await tab.check("pt")
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name=f"{tag}-p0").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text(f"Item {tag}-p0")
    tab.assert_clean()
