"""The issue's end-to-end test, all in Chromium: a school admin, starting from the invitation
email, signs in, imports 50 candidates from an XLSX file, issues placement tokens to all of them
(a CSV of take links), watches one of them take the test (home page: one test in progress; then
the result), and downloads the placement report."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from openpyxl import Workbook
from playwright.async_api import expect

from tests.certificate.conftest import drain_outbox
from tests.conftest import Headers, create_org
from tests.console.conftest import make_staff
from tests.console.test_accounts import link_in, path_of, send_mail
from tests.notification.conftest import SmtpServer, smtp  # noqa: F401
from tests.web.conftest import WebCourse
from tests.web.test_browser import take

pytestmark = pytest.mark.asyncio

PASSWORD = "our school's long passphrase"


def _class_list(tag: str, count: int) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", "first_name", "last_name"])
    for n in range(count):
        sheet.append([f"{tag}-{n:02d}@example.org", f"Pupil{n:02d}", f"Class {tag}"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


async def _click_and_download(tab: Any, button: str) -> bytes:
    async with tab.page.expect_download() as info:
        await tab.page.get_by_role("button", name=button).click()
    download = await info.value
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def test_a_school_runs_a_placement_campaign_from_the_invitation_email(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    web_course: WebCourse,
    open_tab: Any,
    smtp: SmtpServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    school = await create_org(client, su, plan_code=web_course.course.plan)
    tag = f"j{uuid.uuid4().hex[:6]}"

    # the operator invites the school's admin
    operator = await make_staff(app, "superadmin", None, name="Olga Operator")
    op = await open_tab("journey-1-operator-")
    await op.sign_in(operator)
    await op.goto("/console/staff/invite")
    email = f"head-{tag}@example.org"
    await op.page.get_by_label("Email").fill(email)
    await op.page.get_by_label("Name", exact=True).fill("Hana Head")
    await op.page.get_by_label("Role").select_option("admin")
    await op.page.get_by_label("Organization (UIC)").fill(school["uic"])
    await op.submit("Send the invitation")
    await expect(op.page.get_by_role("status")).to_contain_text("The invitation is on its way")

    # 1. from the invitation email to signed in
    await send_mail(app, smtp)
    (message,) = smtp.inbox.to(email)
    tab = await open_tab("journey-2-admin-")
    await tab.goto(path_of(link_in(message)))
    await tab.page.get_by_label("New password", exact=True).fill(PASSWORD)
    await tab.page.get_by_label("New password again").fill(PASSWORD)
    await tab.submit("Set my password")
    assert tab.page.url.endswith("/console"), tab.page.url
    await expect(tab.page.get_by_text("Hana Head").first).to_be_visible()

    # 2. 50 candidates from an XLSX file, watched to the per-row report
    await tab.page.get_by_role("link", name="Candidates", exact=True).click()
    await tab.goto("/console/candidates/import")
    await tab.page.set_input_files(
        "#f-file",
        files=[
            {
                "name": "class.xlsx",
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "buffer": _class_list(tag, 50),
            }
        ],
    )
    await tab.submit("Start the import")
    await expect(tab.page.locator("progress")).to_be_visible()
    await drain_outbox(app)
    await expect(tab.page.get_by_role("status").first).to_contain_text(
        "50 candidates imported", timeout=15_000
    )
    await tab.check("import-report")

    # 3. placement tokens for all 50, handed out as a CSV of take links
    await tab.goto("/console/tokens/new")
    await tab.page.get_by_label("Organization", exact=True).select_option(school["uic"])
    await tab.page.get_by_label("Search").fill(tag)
    await tab.submit("Find candidates")
    await expect(tab.page.locator("input.tick:checked")).to_have_count(50)
    await tab.page.get_by_label("Placement test").check()
    await tab.page.get_by_label("A CSV file of take links").check()
    await tab.check("issue")
    rows = list(
        csv.DictReader(
            io.StringIO((await _click_and_download(tab, "Issue tokens")).decode("utf-8-sig"))
        )
    )
    assert len(rows) == 50 and all(r["issued"] == "yes" for r in rows)
    first = next(r for r in rows if r["email"] == f"{tag}-00@example.org")
    link = re.search(r"/take\?token=\S+", first["take_link"])
    assert link, first

    # 4. one pupil takes the test while the admin watches
    pupil = await open_tab("journey-3-pupil-", phone=True)
    await pupil.goto(link.group(0))
    await pupil.submit("Start the test")
    await take(app, pupil, lambda n, _t: True, stop_after=2)
    await tab.goto("/console")
    progress = tab.page.locator(".card", has=tab.page.get_by_text("Tests in progress"))
    await expect(progress.locator(".figure")).to_have_text("1")
    await tab.check("home-watching")
    await take(app, pupil, lambda n, _t: n % 2 == 0)
    await expect(pupil.page.get_by_role("heading", level=1)).to_contain_text("result")
    await tab.goto("/console")
    await expect(progress.locator(".figure")).to_have_text("0")
    await tab.page.get_by_role("link", name="Results", exact=True).first.click()
    row = tab.page.get_by_role("row", name=re.compile(f"Pupil00 Class {tag}"))
    await expect(row).to_have_count(1)
    await row.get_by_role("link").first.click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Placement result")
    await expect(tab.page.locator("main")).to_contain_text("Pupil00")
    await tab.check("result")

    # 5. the placement report, written in the background and downloaded
    await tab.goto("/console/reports")
    await tab.page.get_by_label("Placement results").check()
    await tab.page.get_by_label("Organization").select_option(school["uic"])
    today = date.today()
    await tab.page.get_by_label("From (first day)").fill(str(today - timedelta(days=1)))
    await tab.page.get_by_label("To (last day, included)").fill(str(today + timedelta(days=1)))
    await tab.submit("Write the report")
    await drain_outbox(app)
    download_link = tab.page.get_by_role("link", name="Download the workbook")
    await expect(download_link).to_be_visible(timeout=10_000)
    async with tab.page.expect_download() as info:
        await download_link.click()
    saved = tmp_path / (await info.value).suggested_filename
    await (await info.value).save_as(saved)
    placements = list(openpyxl.load_workbook(saved)["Placements"].iter_rows(values_only=True))
    assert len(placements) == 2, placements  # the header and the one pupil who took the test
    assert f"{tag}-00@example.org" in placements[1]
    tab.assert_clean()
    pupil.assert_clean()
