"""The console's reports: pick a report, an organization and days; the workbook is written by
a background task (run here by draining the outbox) whose page shows its progress and then the
download. Tenancy, roles, CSRF and the form's refusals; the same in Chromium with and without
JavaScript (docs/console/reports.md)."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from etest.db import transaction
from etest.models import BackgroundTask
from etest.report.service import ReportParams, write_report
from tests.certificate.conftest import drain_outbox
from tests.console.conftest import ConsoleClient, make_staff
from tests.report.conftest import XLSX, Seed, seed  # noqa: F401

pytestmark = pytest.mark.asyncio

TASK_URL = re.compile(r"/console/reports/tasks/([0-9a-f-]{36})$")


def _task_id_of(url: str) -> str:
    found = TASK_URL.search(url)
    assert found, url
    return found.group(1)


def _task_id(resp: httpx.Response) -> str:
    found = TASK_URL.search(str(resp.url))
    assert found, resp.url
    return found.group(1)


async def _task(app: FastAPI, task_id: str) -> BackgroundTask:
    async with transaction(app.state.sessionmaker) as session:
        task = await session.get(BackgroundTask, uuid.UUID(task_id))
        assert task is not None
        return task


async def _set(app: FastAPI, task_id: str, **values: Any) -> None:
    async with transaction(app.state.sessionmaker) as session:
        task = await session.get(BackgroundTask, uuid.UUID(task_id))
        assert task is not None
        for name, value in values.items():
            setattr(task, name, value)


async def _ask(console: ConsoleClient, seed: Seed, **fields: str) -> httpx.Response:  # noqa: F811
    form = {"report": "placement", "uic": seed.uic["R"], **seed.range, "level": "", "emails": ""}
    return await console.post("/console/reports", {**form, **fields})


async def test_a_report_is_written_in_the_background_and_downloaded(
    app: FastAPI,
    console: ConsoleClient,
    seed: Seed,  # noqa: F811
) -> None:
    staff = await make_staff(app, "admin", seed.uic["R"])
    await console.sign_in(staff)
    page = await console.get("/console/reports")
    assert page.status_code == 200
    assert "<h1>Reports</h1>" in page.text
    for uic in seed.uic.values():  # the subtree in the picker
        assert f'value="{uic}"' in page.text
    assert "You have not asked for a report yet." in page.text

    asked = await _ask(console, seed)
    assert asked.status_code == 200
    task_id = _task_id(asked)
    assert "The report is being written." in asked.text
    assert "Waiting to start" in asked.text
    # refreshes itself without JavaScript; htmx polls the status part with it
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in asked.text
    assert f'hx-get="/console/reports/tasks/{task_id}/status"' in asked.text
    early = await console.get(f"/console/reports/tasks/{task_id}/download")
    assert "not ready to download yet" in early.text

    await drain_outbox(app)
    task = await _task(app, task_id)
    assert (task.status, task.done, task.total) == ("done", 3, 3)
    done = await console.get(f"/console/reports/tasks/{task_id}")
    assert "Ready" in done.text and "3 rows written." in done.text
    assert "http-equiv" not in done.text and "hx-get" not in done.text
    fragment = await console.get(f"/console/reports/tasks/{task_id}/status")
    assert (
        fragment.text.lstrip().startswith("<section") and "Download the workbook" in fragment.text
    )

    file = await console.get(f"/console/reports/tasks/{task_id}/download")
    assert file.status_code == 200
    assert file.headers["content-type"] == XLSX
    assert f"placement_{seed.uic['R']}_" in file.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(file.content))
    assert book.sheetnames == ["Summary", "Placements", "About"]
    assert book["Placements"].max_row == 4  # the header and three placements

    listed = await console.get("/console/reports")
    assert f"/console/reports/tasks/{task_id}/download" in listed.text
    assert "Placement results" in listed.text


async def test_the_report_counts_its_rows_for_the_progress_bar(
    app: FastAPI,
    seed: Seed,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``watch`` is told the rows expected before the first row, then the rows written; the
    API's synchronous call (no ``watch``) is unchanged (tests/report)."""
    from etest.cli import cli_actor

    seen: list[tuple[int, int]] = []

    async def watch(done: int, total: int) -> None:
        seen.append((done, total))

    days = seed.range
    params = ReportParams(
        date.fromisoformat(days["from"]), date.fromisoformat(days["to"]), seed.uic["R"]
    )
    async with app.state.read_sessionmaker() as session:
        for name, expected in (("placement", 3), ("ct-review", 1), ("ct-log", None)):
            seen.clear()
            rows = await write_report(
                session, cli_actor(), name, params, tmp_path / f"{name}.xlsx", watch=watch
            )
            assert seen[0] == (0, rows) and seen[-1] == (rows, rows), seen
            if expected is not None:
                assert rows == expected


async def test_the_form_says_what_is_wrong(
    app: FastAPI,
    console: ConsoleClient,
    seed: Seed,  # noqa: F811
) -> None:
    await console.sign_in(await make_staff(app, "viewer", seed.uic["R"]))
    await console.get("/console/reports")
    reversed_ = await _ask(console, seed, **{"from": "2026-03-02", "to": "2026-03-01"})
    assert reversed_.status_code == 422
    assert "is before" in reversed_.text and 'aria-invalid="true"' in reversed_.text
    no_emails = await _ask(console, seed, report="responses")
    assert no_emails.status_code == 422
    assert "needs 1 to 200 candidate emails" in no_emails.text
    bad_day = await _ask(console, seed, **{"from": "yesterday"})
    assert bad_day.status_code == 422 and "Give the first day as a date." in bad_day.text
    unknown = await _ask(console, seed, report="salaries")
    assert unknown.status_code == 422 and "Choose a report." in unknown.text
    bad_level = await _ask(console, seed, level="Z9")
    assert bad_level.status_code == 422
    # a viewer may read reports: a right form starts a task
    ok = await _ask(
        console, seed, report="responses", emails=seed.candidates["plain"]["email"] + ", "
    )
    assert ok.status_code == 200 and TASK_URL.search(str(ok.url))


async def test_tenancy_another_school_s_organization_and_tasks_are_not_there(
    app: FastAPI,
    console: ConsoleClient,
    seed: Seed,  # noqa: F811
) -> None:
    x_admin = await make_staff(app, "admin", seed.uic["X"])
    await console.sign_in(x_admin)
    page = await console.get("/console/reports")
    assert f'value="{seed.uic["X"]}"' in page.text
    assert (
        f'value="{seed.uic["Y"]}"' not in page.text and f'value="{seed.uic["R"]}"' not in page.text
    )
    # a UIC outside the subtree is refused exactly like one that does not exist
    foreign = await _ask(console, seed, uic=seed.uic["Y"])
    missing = await _ask(console, seed, uic="NOSUCHUIC1")
    assert foreign.status_code == missing.status_code == 422
    assert foreign.text.replace(seed.uic["Y"], "U") == missing.text.replace("NOSUCHUIC1", "U")
    mine = _task_id(await _ask(console, seed, uic=seed.uic["X"]))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as http:
        other = ConsoleClient(http)
        await other.sign_in(await make_staff(app, "admin", seed.uic["Y"]))
        missing_page = await other.get(f"/console/reports/tasks/{uuid.uuid4()}")
        assert missing_page.status_code == 404
        for suffix in ("", "/status", "/download"):
            resp = await other.get(f"/console/reports/tasks/{mine}{suffix}")
            assert resp.status_code == 404
            assert resp.text == missing_page.text
        not_an_id = await other.get("/console/reports/tasks/not-an-id")
        assert not_an_id.status_code == 404
        # an admin of R, above X, sees the task of X's admin (background.service.get)
        await other.sign_in(await make_staff(app, "admin", seed.uic["R"]))
        assert (await other.get(f"/console/reports/tasks/{mine}")).status_code == 200
        # a viewer of X does not: only its asker and the subtree's admins
        await other.sign_in(await make_staff(app, "viewer", seed.uic["X"]))
        assert (await other.get(f"/console/reports/tasks/{mine}")).status_code == 404


async def test_a_post_without_the_csrf_token_is_refused(
    app: FastAPI,
    console: ConsoleClient,
    seed: Seed,  # noqa: F811
) -> None:
    await console.sign_in(await make_staff(app, "admin", seed.uic["R"]))
    form = {"report": "placement", "uic": seed.uic["R"], **seed.range}
    forged = await console.http.post("/console/reports", data={**form, "csrf": "forged"})
    assert forged.status_code == 403
    bare = await console.http.post("/console/reports", data=form)
    assert bare.status_code == 403


async def test_a_task_in_progress_shows_its_progress(
    app: FastAPI,
    console: ConsoleClient,
    seed: Seed,  # noqa: F811
) -> None:
    await console.sign_in(await make_staff(app, "admin", seed.uic["R"]))
    await console.get("/console/reports")
    task_id = _task_id(await _ask(console, seed))
    async with transaction(app.state.sessionmaker) as session:
        task = await session.get(BackgroundTask, uuid.UUID(task_id))
        assert task is not None
        task.status, task.done, task.total = "running", 1200, 3000
    page = await console.get(f"/console/reports/tasks/{task_id}")
    assert '<progress max="3000" value="1200"' in page.text
    assert "1200 of 3000 rows written" in page.text
    assert "Being written" in page.text and 'http-equiv="refresh"' in page.text
    async with transaction(app.state.sessionmaker) as session:
        task = await session.get(BackgroundTask, uuid.UUID(task_id))
        assert task is not None
        task.status, task.error = "failed", "The worker stopped during this task."
    failed = await console.get(f"/console/reports/tasks/{task_id}")
    assert "Failed" in failed.text and "The worker stopped during this task." in failed.text
    assert "http-equiv" not in failed.text


# ---------------------------------------------------------------------------- in Chromium


async def _browser_run(
    app: FastAPI,
    open_tab: Any,
    seed: Seed,  # noqa: F811
    tmp_path: Path,
    *,
    javascript: bool,
    phone: bool,
) -> None:
    staff = await make_staff(app, "admin", seed.uic["R"], name="Report Admin")
    prefix = "reports-" + ("js-" if javascript else "nojs-")
    tab = await open_tab(prefix, javascript=javascript, phone=phone)
    await tab.sign_in(staff)
    await tab.page.get_by_role("link", name="Reports", exact=True).click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Reports")
    await tab.check("form")
    await tab.page.get_by_label("Placement results").check()
    await tab.page.get_by_label("Organization").select_option(seed.uic["X"])
    await tab.page.get_by_label("From (first day)").fill(seed.range["from"])
    await tab.page.get_by_label("To (last day, included)").fill(seed.range["to"])
    await tab.submit("Write the report")
    assert TASK_URL.search(tab.page.url), tab.page.url
    await expect(tab.page.get_by_role("heading", level=2)).to_have_text("Waiting to start")
    await tab.check("task-waiting")
    task_id = _task_id_of(tab.page.url)
    if javascript:  # a moment of a large report as the worker reports it: htmx shows it
        await _set(app, task_id, status="running", done=1200, total=3000)
        await expect(tab.page.get_by_text("1200 of 3000 rows written")).to_be_visible()
        await tab.check("task-progress")
        await _set(app, task_id, status="queued", done=0, total=None)

    await drain_outbox(app)
    assert (await _task(app, task_id)).status == "done"
    # no reload by the test: the page updates itself (htmx, or the meta refresh without JS)
    link = tab.page.get_by_role("link", name="Download the workbook")
    await expect(link).to_be_visible(timeout=10_000)
    await expect(tab.page.get_by_role("heading", level=2)).to_have_text("Ready")
    await tab.check("task-done")
    async with tab.page.expect_download() as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename.startswith(f"placement_{seed.uic['X']}_")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    rows = list(book["Placements"].iter_rows(values_only=True))
    assert len(rows) == 3  # the header and X's two placements
    assert {r[3] for r in rows[1:]} == {seed.uic["X"]}  # the UIC column

    await tab.page.get_by_role("link", name="Back to reports").click()
    await expect(tab.page.get_by_role("link", name="Placement results")).to_be_visible()
    await tab.check("list")
    tab.assert_clean()


async def test_in_a_browser_with_javascript(
    app: FastAPI,
    open_tab: Any,
    seed: Seed,  # noqa: F811
    tmp_path: Path,
) -> None:
    await _browser_run(app, open_tab, seed, tmp_path, javascript=True, phone=False)


async def test_in_a_browser_without_javascript_on_a_phone(
    app: FastAPI,
    open_tab: Any,
    seed: Seed,  # noqa: F811
    tmp_path: Path,
) -> None:
    await _browser_run(app, open_tab, seed, tmp_path, javascript=False, phone=True)


async def test_in_a_browser_another_school_s_task_is_the_404_page(
    app: FastAPI,
    client: httpx.AsyncClient,
    open_tab: Any,
    seed: Seed,  # noqa: F811
) -> None:
    x_admin = await make_staff(app, "admin", seed.uic["X"])
    tab = await open_tab("reports-tenancy-")
    await tab.sign_in(x_admin)
    await tab.goto("/console/reports")
    options = await tab.page.get_by_label("Organization").locator("option").all_inner_texts()
    assert not any(seed.uic["Y"] in o for o in options)
    await tab.submit("Write the report")
    mine = TASK_URL.search(tab.page.url)
    assert mine
    other = await open_tab("reports-tenancy-y-")
    await other.sign_in(await make_staff(app, "admin", seed.uic["Y"]))
    await other.goto(f"/console/reports/tasks/{mine.group(1)}")
    await expect(other.page.get_by_role("heading", level=1)).to_have_text("Page not found")
    await other.check("404")


# ------------------------------------------------------- the same background report, by API


async def test_api_clients_write_a_report_in_the_background(
    app: FastAPI,
    client: httpx.AsyncClient,
    seed: Seed,  # noqa: F811
) -> None:
    """``POST /api/v1/reports/{name}/tasks`` → 202 and a task; ``GET`` it for progress, then
    its download; another school's key gets the 404 of a missing task."""
    body = {**seed.range, "uic": seed.uic["X"]}
    started = await client.post("/api/v1/reports/placement/tasks", headers=seed.key["X"], json=body)
    assert started.status_code == 202, started.text
    task = started.json()
    assert started.headers["location"] == f"/api/v1/reports/tasks/{task['id']}"
    assert (task["report"], task["status"], task["download"]) == ("placement", "queued", None)
    early = await client.get(f"/api/v1/reports/tasks/{task['id']}/download", headers=seed.key["X"])
    assert early.status_code == 409

    await drain_outbox(app)
    status = await client.get(started.headers["location"], headers=seed.key["X"])
    assert status.status_code == 200
    done = status.json()
    assert (done["status"], done["done"], done["total"], done["rows"]) == ("done", 2, 2, 2)
    file = await client.get(done["download"], headers=seed.key["X"])
    assert file.status_code == 200 and file.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(file.content))
    assert book["Placements"].max_row == 3

    # the admin of R above X sees it; Y's admin gets the 404 of a missing task
    assert (await client.get(started.headers["location"], headers=seed.key["R"])).status_code == 200
    foreign = await client.get(started.headers["location"], headers=seed.key["Y"])
    missing = await client.get(f"/api/v1/reports/tasks/{uuid.uuid4()}", headers=seed.key["Y"])
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == missing.json()["detail"]
    # the checks of GET /{name}.xlsx, answered at once
    refused = await client.post(
        "/api/v1/reports/placement/tasks",
        headers=seed.key["X"],
        json={**seed.range, "uic": seed.uic["Y"]},
    )
    assert refused.status_code == 404
    emails = await client.post(
        "/api/v1/reports/responses/tasks", headers=seed.key["X"], json=seed.range
    )
    assert emails.status_code == 422 and emails.json()["type"] == "/errors/report-emails"
