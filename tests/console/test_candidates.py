"""The console's candidates: search, a candidate's page with the whole history, create, edit,
hide, transfer, the review decision and the bulk import as a background task; without
JavaScript in process, and in Chromium (with and without JavaScript) against the real server."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook, load_workbook
from playwright.async_api import expect
from sqlalchemy import select

from etest.background.service import input_path
from etest.candidate import importer
from etest.cli import cli_actor
from etest.db import transaction
from etest.models import AuditEntry, BackgroundTask
from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.certificate.conftest import drain_outbox, sit_ct
from tests.conftest import Headers, create_candidate, create_key, create_org
from tests.console.conftest import ConsoleClient, make_staff

pytestmark = pytest.mark.asyncio


def _email(tag: str = "c") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


async def _tree(client: httpx.AsyncClient, su: Headers) -> tuple[dict[str, Any], dict[str, Any]]:
    """A school and a branch below it."""
    school = await create_org(client, su, name="Lisbon School")
    branch = await create_org(client, su, parent=school["uic"], name="Porto Branch")
    return school, branch


async def _audit(app: FastAPI, target_id: str) -> list[str]:
    async with transaction(app.state.sessionmaker) as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_id == target_id)
            .order_by(AuditEntry.created_at)
        )
        return list(rows)


@asynccontextmanager
async def _browser(app: FastAPI) -> AsyncIterator[ConsoleClient]:
    """A second browser (its own cookies) for another staff member."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as http:
        yield ConsoleClient(http)


def _task_id(url: str) -> str:
    found = re.search(r"/console/candidates/import/([0-9a-f-]{36})$", url)
    assert found, url
    return found.group(1)


def _csv(rows: list[list[str]]) -> bytes:
    return "\r\n".join(",".join(r) for r in rows).encode()


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------- search


async def test_search_by_text_level_organization_and_hidden(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school, branch = await _tree(client, su)
    key = await create_key(app, "admin", school["uic"])
    tag = uuid.uuid4().hex[:6]
    ana = await create_candidate(
        client,
        key,
        uic=school["uic"],
        first_name="Ana",
        last_name=f"Lima{tag}",
        username=f"ana{tag}",
        current_level="B1",
    )
    bea = await create_candidate(
        client, key, uic=branch["uic"], first_name="Bea", last_name=f"Reis{tag}", current_level="A2"
    )
    gone = await create_candidate(client, key, uic=school["uic"], last_name=f"Gone{tag}")
    assert (await client.post(f"/api/v1/candidates/{gone['id']}/hide", headers=key)).is_success
    await console.sign_in(await make_staff(app, "viewer", school["uic"]))

    every = await console.get("/console/candidates", params={"q": tag})
    assert every.status_code == 200
    assert "2 candidates found." in every.text
    assert ana["email"] in every.text and bea["email"] in every.text
    assert gone["email"] not in every.text
    # a viewer sees no write buttons
    assert "Register a candidate" not in every.text and "Import from CSV" not in every.text

    by_level = await console.get("/console/candidates", params={"q": tag, "level": "b1"})
    assert ana["email"] in by_level.text and bea["email"] not in by_level.text
    by_username = await console.get("/console/candidates", params={"username": f"ana{tag}"})
    assert ana["email"] in by_username.text and "One candidate found." in by_username.text
    by_email = await console.get("/console/candidates", params={"email": bea["email"].upper()})
    assert bea["email"] in by_email.text and ana["email"] not in by_email.text

    # the school with its branches (the box ticked), then the school alone (unticked)
    subtree = await console.get(
        "/console/candidates",
        params={"q": tag, "uic": school["uic"], "sub": "1", "searched": "1"},
    )
    assert ana["email"] in subtree.text and bea["email"] in subtree.text
    alone = await console.get(
        "/console/candidates", params={"q": tag, "uic": school["uic"], "searched": "1"}
    )
    assert ana["email"] in alone.text and bea["email"] not in alone.text
    hidden = await console.get("/console/candidates", params={"q": tag, "hidden": "1"})
    assert gone["email"] in hidden.text and ana["email"] not in hidden.text

    bad = await console.get("/console/candidates", params={"level": "Z9"})
    assert bad.status_code == 422 and "Choose a level from the list." in bad.text


async def test_paging(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school = await create_org(client, su)
    key = await create_key(app, "admin", school["uic"])
    for n in range(27):
        await create_candidate(client, key, uic=school["uic"], last_name=f"P{n:02d}")
    await console.sign_in(await make_staff(app, "admin", school["uic"]))
    first = await console.get("/console/candidates")
    assert "27 candidates found." in first.text and "Page 1 of 2" in first.text
    assert ">P00<" in first.text and ">P24<" in first.text and ">P25<" not in first.text
    second = await console.get("/console/candidates", params={"page": 2})
    assert "Page 2 of 2" in second.text and 'rel="prev"' in second.text
    assert ">P25<" in second.text and ">P26<" in second.text and ">P00<" not in second.text


# ---------------------------------------------------------------------------- tenancy, roles


async def test_another_schools_candidate_is_the_same_404_as_a_missing_one(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    mine = await create_org(client, su)
    theirs = await create_org(client, su)
    other = await create_candidate(client, su, uic=theirs["uic"])
    await console.sign_in(await make_staff(app, "admin", mine["uic"]))
    foreign = await console.get(f"/console/candidates/{other['id']}")
    missing = await console.get(f"/console/candidates/{uuid.uuid4()}")
    garbage = await console.get("/console/candidates/not-an-id")
    assert foreign.status_code == missing.status_code == garbage.status_code == 404
    assert foreign.text == missing.text
    for path in ("edit", "transfer"):
        assert (await console.get(f"/console/candidates/{other['id']}/{path}")).status_code == 404
    hide = await console.post(f"/console/candidates/{other['id']}/hide")
    assert hide.status_code == 404
    moved = await console.post(f"/console/candidates/{other['id']}/transfer", {"uic": mine["uic"]})
    assert moved.status_code == 404
    # nor can a candidate of mine be moved into their organization
    own = await create_candidate(client, su, uic=mine["uic"])
    refused = await console.post(
        f"/console/candidates/{own['id']}/transfer", {"uic": theirs["uic"]}
    )
    assert refused.status_code == 404
    # the search with their UIC is the 404 page too
    assert (
        await console.get("/console/candidates", params={"uic": theirs["uic"]})
    ).status_code == 404


async def test_viewer_reads_but_cannot_change_and_forms_need_csrf(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school = await create_org(client, su)
    cand = await create_candidate(client, su, uic=school["uic"], first_name="Vera")
    await console.sign_in(await make_staff(app, "viewer", school["uic"]))
    page = await console.get(f"/console/candidates/{cand['id']}")
    assert page.status_code == 200 and "<h1>Vera</h1>" in page.text
    assert "/edit" not in page.text and "/hide" not in page.text
    for path in (
        "/console/candidates/new",
        "/console/candidates/import",
        f"/console/candidates/{cand['id']}/edit",
    ):
        assert (await console.get(path)).status_code == 403, path
    refused = await console.post(f"/console/candidates/{cand['id']}/hide")
    assert refused.status_code == 403 and "Not allowed" in refused.text
    created = await console.post("/console/candidates/new", {"email": _email()})
    assert created.status_code == 403

    admin = ConsoleClient(console.http)
    await admin.sign_in(await make_staff(app, "admin", school["uic"]))
    forged = await admin.http.post(
        f"/console/candidates/{cand['id']}/hide", data={"csrf": "forged"}
    )
    assert forged.status_code == 403 and "expired or came from another site" in forged.text
    assert not (await client.get(f"/api/v1/candidates/{cand['id']}", headers=su)).json()["hidden"]


# ------------------------------------------------- create, edit, hide, transfer


async def test_create_edit_hide_and_transfer_without_javascript(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school, branch = await _tree(client, su)
    taken = await create_candidate(client, su, uic=school["uic"])
    await console.sign_in(await make_staff(app, "admin", school["uic"]))
    form = await console.get("/console/candidates/new")
    assert form.status_code == 200 and 'name="csrf"' in form.text

    bad = await console.post(
        "/console/candidates/new", {"uic": school["uic"], "email": "not-an-email", "phone": "x"}
    )
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text and "not-an-email" in bad.text
    dup = await console.post(
        "/console/candidates/new", {"uic": school["uic"], "email": taken["email"].upper()}
    )
    assert dup.status_code == 422 and "already registered" in dup.text
    plan = await console.post(
        "/console/candidates/new",
        {"uic": school["uic"], "email": _email(), "plan_code": "neo_pro"},
    )
    assert plan.status_code == 422 and "not part of the contract" in plan.text

    email = _email("new")
    made = await console.post(
        "/console/candidates/new",
        {
            "uic": branch["uic"],
            "email": email,
            "first_name": "Nuno",
            "last_name": "Costa",
            "dial_code": "+351",
            "phone": "0912 345",
            "current_level": "A2",
        },
    )
    assert made.status_code == 200, made.text
    assert "The candidate is registered." in made.text and "<h1>Nuno Costa</h1>" in made.text
    cid = re.search(r"/console/candidates/([0-9a-f-]{36})$", str(made.url)).group(1)  # type: ignore[union-attr]
    api = (await client.get(f"/api/v1/candidates/{cid}", headers=su)).json()
    assert (api["uic"], api["phone"], api["registered_from"]) == (
        branch["uic"],
        "0912 345",
        "dashboard",
    )

    edit = await console.get(f"/console/candidates/{cid}/edit")
    assert 'value="0912 345"' in edit.text
    clash = await console.post(
        f"/console/candidates/{cid}/edit",
        {"first_name": "Nuno", "last_name": "Costa", "email": taken["email"]},
    )
    assert clash.status_code == 422 and "already registered" in clash.text
    saved = await console.post(
        f"/console/candidates/{cid}/edit",
        {
            "first_name": "Nuno",
            "last_name": "Costa Silva",
            "email": email,
            "username": "nuno.cs",
            "dial_code": "+351",
            "phone": "",
            "current_level": "B1",
            "plan_code": "neo_plus",
        },
    )
    assert "The changes are saved." in saved.text and "<h1>Nuno Costa Silva</h1>" in saved.text
    api = (await client.get(f"/api/v1/candidates/{cid}", headers=su)).json()
    assert (api["username"], api["phone"], api["current_level"], api["plan_code"]) == (
        "nuno.cs",
        None,
        "B1",
        "neo_plus",
    )

    hidden = await console.post(f"/console/candidates/{cid}/hide")
    assert "The candidate is hidden" in hidden.text and "Show in lists again" in hidden.text
    assert (await client.get(f"/api/v1/candidates/{cid}", headers=su)).json()["hidden"]
    shown = await console.post(f"/console/candidates/{cid}/unhide")
    assert "shown in lists again" in shown.text

    page = await console.get(f"/console/candidates/{cid}/transfer")
    assert branch["uic"] not in re.findall(r'<option value="([^"]*)"', page.text)
    empty = await console.post(f"/console/candidates/{cid}/transfer", {"uic": ""})
    assert empty.status_code == 422 and "Choose the organization" in empty.text
    moved = await console.post(
        f"/console/candidates/{cid}/transfer", {"uic": school["uic"], "reason": "moved city"}
    )
    assert "The candidate is moved" in moved.text
    transfers = moved.text.split("Moves between organizations")[1]
    assert branch["uic"] in transfers and school["uic"] in transfers
    assert (await client.get(f"/api/v1/candidates/{cid}", headers=su)).json()["uic"] == school[
        "uic"
    ]
    assert await _audit(app, cid) == [
        "candidate.create",
        "candidate.update",
        "candidate.hide",
        "candidate.unhide",
        "candidate.transfer",
    ]


# ---------------------------------------------------------------------------- history and review


async def _fail_three(app: FastAPI, client: httpx.AsyncClient, course: Course) -> list[str]:
    attempts = []
    for _ in range(3):
        taker = Taker(app, client, await course.token(client, "CT", "A1"))
        assert (await taker.start(**{"User-Agent": "TabletBrowser/1"})).status_code == 201
        await taker.run(lambda n, t, k: wrong(t, k))
        attempts.append(taker.attempt_id)
    return attempts


async def test_history_and_the_review_decision(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    course = await make_course(app, client, su)
    attempts = await _fail_three(app, client, course)
    pt = Taker(app, client, await course.token(client, "PT"))
    assert (await pt.start()).status_code == 201
    await pt.run(lambda n, t, k: right(t, k))
    cid = course.candidate["id"]

    viewer = ConsoleClient(console.http)
    await viewer.sign_in(await make_staff(app, "viewer", course.uic))
    seen = await viewer.get(f"/console/candidates/{cid}")
    assert "Review pending" in seen.text and "Record the decision" not in seen.text
    refused = await viewer.post(
        f"/console/candidates/{cid}/review", {"level": "A1", "decision": "grant", "reason": "x"}
    )
    assert refused.status_code == 403

    await console.sign_in(await make_staff(app, "support", course.uic))
    page = await console.get(f"/console/candidates/{cid}")
    assert page.status_code == 200
    for attempt_id in attempts:
        assert f"/console/results/{attempt_id}" in page.text
    assert f"/console/results/{pt.attempt_id}" in page.text
    assert "Failed: review needed" in page.text and "Placed at" in page.text
    assert "TabletBrowser/1" in page.text  # the device each attempt started on
    # started on a tablet, answered by another browser: flagged as the results API does
    assert page.text.count("More than one device or network") == 3
    assert "Certification test A1" in page.text and "Placement test" in page.text
    assert "completed" in page.text  # the tokens' states
    assert "Review pending" in page.text and "Record the decision" in page.text

    missing = await console.post(
        f"/console/candidates/{cid}/review", {"level": "A1", "decision": "", "reason": ""}
    )
    assert missing.status_code == 422
    assert "Choose: one more attempt" in missing.text and "Write why" in missing.text
    granted = await console.post(
        f"/console/candidates/{cid}/review",
        {"level": "A1", "decision": "grant", "reason": "oral review went well"},
    )
    assert "may take one more attempt" in granted.text
    assert "One more attempt granted" in granted.text and "oral review went well" in granted.text
    assert "No review is pending." in granted.text
    again = await console.post(
        f"/console/candidates/{cid}/review",
        {"level": "B2", "decision": "confirm", "reason": "no"},
    )
    assert again.status_code == 422 and "nothing to review" in again.text

    # the granted attempt can start now
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    assert (await taker.start()).status_code == 201


async def test_certificates_link_to_their_pages(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    sitting = await sit_ct(app, client, su, first_name="Cert", last_name="Holder")
    await drain_outbox(app)
    await console.sign_in(await make_staff(app, "admin", sitting.course.uic))
    page = await console.get(f"/console/candidates/{sitting.candidate['id']}")
    assert "Passed" in page.text
    cert = re.search(r'href="/console/certificates/([0-9a-f-]{36})"', page.text)
    assert cert, "no certificate link"
    assert "Valid" in page.text


# ---------------------------------------------------------------------------- import


async def test_import_runs_in_the_background_with_a_per_row_report(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school, branch = await _tree(client, su)
    taken = await create_candidate(client, su, uic=school["uic"])
    await console.sign_in(await make_staff(app, "admin", school["uic"]))
    page = await console.get("/console/candidates/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text

    async def upload(name: str, data: bytes, uic: str = "") -> httpx.Response:
        return await console.http.post(
            "/console/candidates/import",
            data={"csrf": console.csrf, "uic": uic},
            files={"file": (name, data, "application/octet-stream")},
        )

    nothing = await upload("empty.csv", b"")
    assert nothing.status_code == 422 and "Choose a CSV or XLSX file." in nothing.text
    wrong_header = await upload("x.csv", b"mail,name\r\na@example.org,A\r\n")
    assert wrong_header.status_code == 422 and "Unknown columns" in wrong_header.text

    good = [_email("imp") for _ in range(3)]
    rows = [
        ["email", "first_name", "uic", "phone"],
        [good[0], "One", "", "0012"],
        ["broken-email", "Two", "", ""],
        [good[1], "Three", branch["uic"], ""],
        [taken["email"], "Four", "", ""],
        [good[2], "Five", "", ""],
    ]
    started = await upload("class.csv", _csv(rows), uic=school["uic"])
    assert started.status_code == 200, started.text
    task_id = _task_id(str(started.url))
    assert '<meta http-equiv="refresh" content="2">' in started.text  # inside <noscript>
    assert "<progress" in started.text and "0 of 5" in started.text
    assert f'hx-get="/console/candidates/import/{task_id}/progress"' in started.text
    polled = await console.get(f"/console/candidates/import/{task_id}/progress")
    assert polled.status_code == 200 and "HX-Refresh" not in polled.headers

    # another school's admin sees the 404 page for the task
    async with _browser(app) as other:
        await other.sign_in(await make_staff(app, "admin", (await create_org(client, su))["uic"]))
        assert (await other.get(f"/console/candidates/import/{task_id}")).status_code == 404

    await drain_outbox(app)
    done = await console.get(f"/console/candidates/import/{task_id}")
    assert "refresh" not in done.text and "hx-get" not in done.text
    assert "3 candidates imported, 2 rows refused." in done.text
    refused = done.text.split("Refused rows:")[1].split("</table>")[0]
    assert "broken-email" in refused and "already registered" in refused
    assert ">3<" in refused and ">5<" in refused  # spreadsheet row numbers
    for email in good:
        assert email in done.text
    links = re.findall(r'href="/console/candidates/([0-9a-f-]{36})"', done.text)
    assert len(links) == 3
    polled = await console.get(f"/console/candidates/import/{task_id}/progress")
    assert polled.headers.get("HX-Refresh") == "true"
    api = (await client.get(f"/api/v1/candidates/{links[1]}", headers=su)).json()
    assert api["uic"] == branch["uic"] and api["registered_from"] == "bulk"
    first = (await client.get(f"/api/v1/candidates/{links[0]}", headers=su)).json()
    assert first["uic"] == school["uic"] and first["phone"] == "0012"
    async with transaction(app.state.sessionmaker) as session:
        task = await session.get(BackgroundTask, uuid.UUID(task_id))
        assert task is not None and (task.status, task.done, task.total) == ("done", 5, 5)


async def test_import_in_batches_reports_progress_between_commits(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    """The task's import commits every batch and calls back between them; the API's synchronous
    import is the same rows in one transaction (tests/candidate)."""
    school = await create_org(client, su)
    rows = [["email"], *([_email("b")] for _ in range(5)), ["bad"]]
    calls: list[tuple[int, int]] = []
    committed: list[int] = []

    async def progress(done: int, total: int) -> None:
        calls.append((done, total))
        found = await client.get("/api/v1/candidates", headers=su, params={"uic": school["uic"]})
        committed.append(found.json()["total"])  # what another connection sees meanwhile

    report = await importer.import_in_batches(
        lambda: transaction(app.state.sessionmaker),
        cli_actor(),
        "b.csv",
        _csv(rows),
        school["uic"],
        progress,
        batch=2,
    )
    assert (report.imported, report.failed) == (5, 1)
    assert calls == [(0, 6), (2, 6), (4, 6), (6, 6)]
    assert committed == [0, 2, 4, 5]


async def test_a_failed_import_says_so(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school = await create_org(client, su)
    await console.sign_in(await make_staff(app, "admin", school["uic"]))
    started = await console.http.post(
        "/console/candidates/import",
        data={"csrf": console.csrf, "uic": school["uic"]},
        files={"file": ("a.csv", _csv([["email"], [_email()]]), "text/csv")},
    )
    task_id = _task_id(str(started.url))
    input_path(app.state.settings, uuid.UUID(task_id)).unlink()  # the upload is lost
    await drain_outbox(app)
    page = await console.get(f"/console/candidates/import/{task_id}")
    assert page.status_code == 200
    assert "The import stopped" in page.text and "unexpected error" in page.text
    assert "refresh" not in page.text


async def test_import_templates_download(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    school = await create_org(client, su)
    await console.sign_in(await make_staff(app, "admin", school["uic"]))
    csv_file = await console.get("/console/candidates/import/template.csv")
    assert csv_file.status_code == 200 and csv_file.text.startswith("email,username,")
    xlsx = await console.get("/console/candidates/import/template.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert [c.value for c in sheet[1]][:2] == ["email", "username"]


# ---------------------------------------------------------------------------- in Chromium


async def test_search_open_edit_and_hide_in_a_browser(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    school, branch = await _tree(client, su)
    tag = uuid.uuid4().hex[:6]
    for first, last, level, uic in (
        ("Ana", "Lima", "B1", school["uic"]),
        ("Bruno", "Sousa", "A2", branch["uic"]),
        ("Carla", "Dias", "B1", branch["uic"]),
    ):
        await create_candidate(
            client,
            su,
            uic=uic,
            first_name=first,
            last_name=f"{last} {tag}",
            current_level=level,
            username=f"{first.lower()}{tag}",
        )
    staff = await make_staff(app, "admin", school["uic"], name="Sofia Admin")
    tab = await open_tab("candidates-")
    await tab.sign_in(staff)
    await tab.goto("/console/candidates")
    page = tab.page
    await page.get_by_label("Name, username or email contains").fill(tag)
    await page.get_by_label("Current level").select_option("B1")
    await page.get_by_role("button", name="Search").click()  # htmx swaps the results
    results = page.locator("#results")
    await expect(results).to_contain_text("2 candidates found.")
    await expect(results).not_to_contain_text("Bruno")
    assert "level=B1" in page.url  # the address keeps the search
    await tab.check("search")

    async with page.expect_navigation():
        await page.get_by_role("link", name=f"Carla Dias {tag}").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Carla Dias {tag}")
    await tab.check("candidate")

    async with page.expect_navigation():
        await page.get_by_role("link", name="Edit").click()
    await page.get_by_label("Last name").fill(f"Dias Moreira {tag}")
    await page.get_by_label("Phone").fill("0911 222 333")
    await page.get_by_label("Current level").select_option("B2")
    await tab.check("edit")
    await tab.submit("Save the changes")
    await expect(page.get_by_role("status")).to_contain_text("The changes are saved.")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Carla Dias Moreira {tag}")

    here = page.url.removeprefix(tab.base)
    for path, name in (
        (f"{here}/transfer", "transfer-form"),
        ("/console/candidates/new", "new-form"),
    ):
        await tab.goto(path)
        await tab.check(name)  # axe-core runs with JavaScript only: the forms are checked here
    await tab.goto(here)
    await tab.submit("Hide")
    await expect(page.get_by_role("status")).to_contain_text("The candidate is hidden")
    await tab.goto(f"/console/candidates?q={tag}")
    await expect(page.locator("#results")).not_to_contain_text("Carla")
    tab.assert_clean()


async def test_create_and_transfer_on_a_phone_without_javascript(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    school, branch = await _tree(client, su)
    staff = await make_staff(app, "admin", school["uic"])
    tab = await open_tab("candidates-phone-", phone=True, javascript=False)
    await tab.sign_in(staff)
    await tab.goto("/console/candidates")
    page = tab.page
    async with page.expect_navigation():
        await page.get_by_role("link", name="Register a candidate").click()
    await page.get_by_label("Email").fill("not an email")
    await tab.submit("Register the candidate")
    await expect(page.locator(".error-summary")).to_be_visible()
    await tab.check("create-error")
    email = _email("phone")
    await page.get_by_label("Organization").select_option(branch["uic"])
    await page.get_by_label("First name").fill("Rui")
    await page.get_by_label("Last name").fill("Pinto")
    await page.get_by_label("Email").fill(email)
    await tab.submit("Register the candidate")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Rui Pinto")
    await tab.check("created")

    async with page.expect_navigation():
        await page.get_by_role("link", name="Transfer").click()
    await page.get_by_label("Move to").select_option(school["uic"])
    await page.get_by_label("Reason (optional)").fill("moved to the main school")
    await tab.check("transfer")
    await tab.submit("Transfer")
    await expect(page.get_by_role("status")).to_contain_text("The candidate is moved")
    await expect(page.get_by_role("region", name="Transfers")).to_contain_text(branch["uic"])
    await tab.check("transferred")
    tab.assert_clean()


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
async def test_import_an_xlsx_and_watch_it_finish(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any, javascript: bool
) -> None:
    school = await create_org(client, su)
    taken = await create_candidate(client, su, uic=school["uic"])
    rows = [["email", "first_name", "last_name", "phone"]]
    for n in range(20):
        rows.append([_email("x"), f"Pupil{n:02d}", "Class 7B", f"0{n:03d}"])
    rows[6][0] = "no-at-sign"  # spreadsheet row 7
    rows[15][0] = taken["email"]  # spreadsheet row 16
    staff = await make_staff(app, "admin", school["uic"])
    suffix = "js-" if javascript else "no-js-"
    tab = await open_tab(f"candidates-import-{suffix}", javascript=javascript)
    await tab.sign_in(staff)
    await tab.goto("/console/candidates/import")
    page = tab.page
    await tab.check("form")
    await page.set_input_files(
        "#f-file",
        files=[
            {
                "name": "class-7b.xlsx",
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "buffer": _xlsx(rows),
            }
        ],
    )
    await tab.submit("Start the import")
    assert "/console/candidates/import/" in page.url
    await expect(page.locator("progress")).to_be_visible()
    await expect(page.get_by_role("status").first).to_contain_text("0 of 20")
    await tab.check("progress")
    await drain_outbox(app)  # the worker runs the task (the server's worker is external)
    report = page.get_by_role("status").first
    await expect(report).to_contain_text("18 candidates imported, 2 rows refused.", timeout=15_000)
    refused = page.get_by_role("region", name="Refused rows")
    await expect(refused).to_contain_text("no-at-sign")
    await expect(refused).to_contain_text("already registered")
    await expect(
        page.get_by_role("region", name="Imported rows").get_by_role("link")
    ).to_have_count(18)
    await tab.check("report")
    async with page.expect_navigation():
        await page.get_by_role("link", name=rows[1][0]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pupil00 Class 7B")
    tab.assert_clean()


async def test_review_decision_in_a_browser(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    course = await make_course(app, client, su)
    await _fail_three(app, client, course)
    staff = await make_staff(app, "support", course.uic, name="Sam Support")
    tab = await open_tab("candidates-review-")
    await tab.sign_in(staff)
    await tab.goto(f"/console/candidates/{course.candidate['id']}")
    page = tab.page
    await expect(page.get_by_text("Review pending")).to_be_visible()
    await tab.check("pending")
    await page.get_by_label("Confirm the lock (no further attempt)").check()
    await page.get_by_label("Reason").fill("Oral review: not ready for A1 yet")
    await tab.submit("Record the decision")
    await expect(page.get_by_role("status")).to_contain_text("the lock at this level is confirmed")
    await expect(page.get_by_role("region", name="Review decisions")).to_contain_text(
        "Lock confirmed"
    )
    await tab.check("decided")
    tab.assert_clean()
