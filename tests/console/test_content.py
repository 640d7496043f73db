"""Content imports in the console: an upload becomes a background task (``content.import``,
the API's own import), its page refreshes itself until the worker has run it, then shows the
import report: files and items, refusals with their reasons, a placement test's evidence in
words and, for a superadmin, the reason that publishes it anyway."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select

from etest.db import transaction
from etest.models import AssessmentVersion, AuditEntry, BackgroundTask, ContentImport
from tests.bank.test_evidence import bank, package, poor_pt
from tests.certificate.conftest import drain_outbox
from tests.conftest import Headers, create_org, unique
from tests.console.conftest import ConsoleClient, make_staff
from tests.support.flows import flow_zip

pytestmark = pytest.mark.asyncio


def small_bank(tag: str) -> dict[str, Any]:
    return {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "console import",
        "items": [
            {
                "code": f"{tag}-q{n}",
                "type": "single_choice",
                "skill": "reading",
                "level": "A1",
                "prompt": f"Question {n}",
                "options": [{"id": "A", "text": "yes"}, {"id": "B", "text": "no"}],
                "key": {"correct": ["A"]},
            }
            for n in range(3)
        ],
    }


async def upload(console: ConsoleClient, name: str, data: bytes, **fields: str) -> httpx.Response:
    await console.get("/console/content")
    return await console.http.post(
        "/console/content",
        data={"csrf": console.csrf, **fields},
        files={"file": (name, data, "application/zip")},
    )


def task_id_of(resp: httpx.Response) -> str:
    path = str(resp.url)
    assert "/console/content/tasks/" in path, path
    return path.rsplit("/", 1)[1]


async def test_an_upload_is_imported_in_the_background_with_its_report(
    app: FastAPI, console: ConsoleClient
) -> None:
    tag = unique("ci").lower()
    await console.sign_in(await make_staff(app, "content_manager", None))
    started = await upload(console, "bank.zip", flow_zip([small_bank(tag)]))
    assert started.status_code == 200
    task = task_id_of(started)
    assert "The import has started" in started.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in started.text
    assert 'hx-trigger="every 2s"' in started.text
    assert "Waiting for the worker" in started.text and "<progress" in started.text

    await drain_outbox(app)
    done = await console.get(f"/console/content/tasks/{task}")
    assert done.status_code == 200
    assert "http-equiv" not in done.text and "hx-trigger" not in done.text
    assert "<h2>Imported</h2>" in done.text
    assert (
        "Files: 1 (1 imported, 0 unchanged, 0 skipped). Items: 3 new or changed, 0 unchanged."
        in done.text
    )
    listing = await console.get("/console/content")
    assert f"bank-{tag}" in listing.text and f"/console/content/tasks/{task}" in listing.text

    again = await upload(console, "bank.zip", flow_zip([small_bank(tag)]))
    await drain_outbox(app)
    same = await console.get(f"/console/content/tasks/{task_id_of(again)}")
    assert "Files: 1 (0 imported, 1 unchanged" in same.text
    async with transaction(app.state.sessionmaker) as session:
        rows = (
            await session.scalars(select(ContentImport).where(ContentImport.code == f"bank-{tag}"))
        ).all()
        assert len(rows) == 1
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "content.import", AuditEntry.target_id == "bank.zip"
            )
        )
        assert entry is not None


async def test_a_refused_import_lists_every_problem(app: FastAPI, console: ConsoleClient) -> None:
    tag = unique("ci").lower()
    flow = small_bank(tag)
    flow["items"][1]["can_do"] = "no-such-can-do"
    await console.sign_in(await make_staff(app, "superadmin", None))
    started = await upload(console, "broken.zip", flow_zip([flow]))
    await drain_outbox(app)
    page = await console.get(f"/console/content/tasks/{task_id_of(started)}")
    assert "Refused: nothing was imported" in page.text
    assert "1 problem(s); nothing was imported." in page.text
    assert "$.items[1].can_do" in page.text and "unknown can-do statement" in page.text

    bad = await upload(console, "x.json", b"", level="Z9")
    assert bad.status_code == 422
    assert "The file is empty." in bad.text and "Choose one of the levels." in bad.text
    missing = await console.post("/console/content", {"skill": "reading"})
    assert missing.status_code == 422 and "Choose a file to import." in missing.text


async def test_evidence_refusal_in_words_and_the_superadmins_override(
    app: FastAPI, console: ConsoleClient
) -> None:
    tag = unique("ev").lower()
    data = package(bank(tag), poor_pt(tag))
    await console.sign_in(await make_staff(app, "content_manager", None))
    by_cm = task_id_of(await upload(console, "pt.zip", data))
    await drain_outbox(app)
    page = await console.get(f"/console/content/tasks/{by_cm}")
    assert "evidence thresholds" in page.text
    assert f"Why the placement test pt-{tag} version 1 was refused" in page.text
    assert "of the simulated candidates were placed within one level" in page.text
    assert "Simulated placement by level" in page.text
    assert "A superadmin may publish it anyway" in page.text
    assert "Publish with this reason" not in page.text
    refused = await console.post(
        f"/console/content/tasks/{by_cm}/override", {"override_reason": "trust me"}
    )
    assert refused.status_code == 403

    console.http.cookies.clear()
    await console.sign_in(await make_staff(app, "superadmin", None, name="Sam Super"))
    page = await console.get(f"/console/content/tasks/{by_cm}")  # a global superadmin sees it
    assert "Publish with this reason" in page.text
    empty = await console.post(f"/console/content/tasks/{by_cm}/override", {"override_reason": " "})
    assert empty.status_code == 422 and "Say why the test may be published" in empty.text
    again = await console.post(
        f"/console/content/tasks/{by_cm}/override", {"override_reason": "pilot schools only"}
    )
    assert "The import has started again with your reason" in again.text
    await drain_outbox(app)
    done = await console.get(f"/console/content/tasks/{task_id_of(again)}")
    assert "<h2>Imported</h2>" in done.text and "pilot schools only" in done.text
    gone = await console.post(f"/console/content/tasks/{by_cm}/override", {"override_reason": "x"})
    assert gone.status_code == 404  # the kept upload was used once
    async with transaction(app.state.sessionmaker) as session:
        version = await session.scalar(
            select(AssessmentVersion)
            .where(AssessmentVersion.source_name.like("pt.zip%"))
            .order_by(AssessmentVersion.imported_at.desc())
        )
        assert version is not None and version.override_reason == "pilot schools only"
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "assessment.evidence_override",
                AuditEntry.target_id == str(version.id),
            )
        )
        assert entry is not None and entry.reason == "pilot schools only"


async def test_imports_are_for_content_roles_and_tasks_for_their_owner(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    tag = unique("ci").lower()
    await console.sign_in(await make_staff(app, "content_manager", None))
    task = task_id_of(await upload(console, "bank.zip", flow_zip([small_bank(tag)])))
    forged = await console.http.post(
        "/console/content",
        data={"csrf": "forged"},
        files={"file": ("bank.zip", b"PK", "application/zip")},
    )
    assert forged.status_code == 403 and "expired or came from another site" in forged.text

    console.http.cookies.clear()
    await console.sign_in(await make_staff(app, "content_manager", None))
    other = await console.get(f"/console/content/tasks/{task}")
    missing = await console.get(f"/console/content/tasks/{uuid.uuid4()}")
    assert other.status_code == missing.status_code == 404
    assert other.text == missing.text

    org = await create_org(client, su)
    console.http.cookies.clear()
    await console.sign_in(await make_staff(app, "admin", org["uic"]))
    assert (await console.get("/console/content")).status_code == 403
    assert (await console.get(f"/console/content/tasks/{task}")).status_code in (403, 404)
    posted = await upload(console, "bank.zip", flow_zip([small_bank(unique("x").lower())]))
    assert posted.status_code == 403
    async with transaction(app.state.sessionmaker) as session:
        queued = await session.get(BackgroundTask, uuid.UUID(task))
        assert queued is not None and json.dumps(queued.params)


async def test_import_a_zip_in_a_browser_and_watch_it_to_the_report(
    app: FastAPI, open_tab: Any, tmp_path: Any
) -> None:
    tag = unique("cb").lower()
    path = tmp_path / "bank.zip"
    path.write_bytes(flow_zip([small_bank(tag)]))
    staff = await make_staff(app, "content_manager", None, name="Cora Content")
    tab = await open_tab("content-")
    await tab.sign_in(staff)
    await tab.goto("/console/content")
    await tab.check("form")
    await tab.page.get_by_label("File to import").set_input_files(str(path))
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("button", name="Import", exact=True).click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Import of bank.zip")
    await expect(tab.page.get_by_role("heading", name="Waiting for the worker")).to_be_visible()
    await tab.check("waiting")
    await drain_outbox(app)
    # htmx polls the page every 2 s and swaps the report in
    await expect(tab.page.get_by_role("heading", name="Imported")).to_be_visible(timeout=15_000)
    await expect(tab.page.get_by_text("Items: 3 new or changed")).to_be_visible()
    await tab.check("report")
    tab.assert_clean()

    # without JavaScript the task page refreshes itself (<noscript> meta refresh)
    second = tmp_path / "more.zip"
    second.write_bytes(flow_zip([small_bank(tag + "b")]))
    plain = await open_tab("content-nojs-", javascript=False)
    await plain.sign_in(staff)
    await plain.goto("/console/content")
    await expect(plain.page.get_by_role("link", name="bank.zip")).to_be_visible()
    await plain.page.get_by_label("File to import").set_input_files(str(second))
    async with plain.page.expect_navigation():
        await plain.page.get_by_role("button", name="Import", exact=True).click()
    await expect(plain.page.get_by_role("heading", name="Waiting for the worker")).to_be_visible()
    await drain_outbox(app)
    imported = plain.page.get_by_role("heading", name="Imported", exact=True)
    await expect(imported).to_be_visible(timeout=15_000)
    await plain.check()


async def test_a_superadmin_publishes_a_refused_placement_test_in_a_browser(
    app: FastAPI, open_tab: Any, tmp_path: Any
) -> None:
    tag = unique("eb").lower()
    path = tmp_path / "pt.zip"
    path.write_bytes(package(bank(tag), poor_pt(tag)))
    staff = await make_staff(app, "superadmin", None, name="Sam Super")
    tab = await open_tab("content-evidence-")
    await tab.sign_in(staff)
    await tab.goto("/console/content")
    await tab.page.get_by_label("File to import").set_input_files(str(path))
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("button", name="Import", exact=True).click()
    await drain_outbox(app)
    refused = tab.page.get_by_role("heading", name="Refused: nothing was imported")
    await expect(refused).to_be_visible(timeout=15_000)
    await expect(tab.page.get_by_text("were placed within one level").first).to_be_visible()
    await tab.check("refused")
    await tab.page.get_by_label("Publish it anyway: your reason").fill("Pilot schools only")
    await tab.submit("Publish with this reason")
    await drain_outbox(app)
    imported = tab.page.get_by_role("heading", name="Imported", exact=True)
    await expect(imported).to_be_visible(timeout=15_000)
    await expect(tab.page.get_by_text("“Pilot schools only”")).to_be_visible()
    tab.assert_clean()
