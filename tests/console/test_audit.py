"""Console: the audit log — subtree, filters (action, actor, days), paging, the staff member's
name, readers (docs/console/audit.md)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.db import transaction
from tests.conftest import Headers, create_org, unique
from tests.console.conftest import ConsoleClient, make_staff

pytestmark = pytest.mark.asyncio


async def school_pair(
    client: httpx.AsyncClient, su: Headers
) -> tuple[dict[str, Any], dict[str, Any]]:
    root = await create_org(client, su, uic=unique("AU"), name="Audit Group")
    a = await create_org(client, su, parent=root["uic"], uic=f"{root['uic']}-A", name="Audit A")
    b = await create_org(client, su, parent=root["uic"], uic=f"{root['uic']}-B", name="Audit B")
    return a, b


def count(html: str) -> int:
    found = re.search(r"<caption>Entries: (\d+)</caption>", html)
    assert found, html[:3000]
    return int(found.group(1))


async def entries(app: FastAPI, org: dict[str, Any], n: int, action: str, who: str) -> None:
    actor = Actor(subject=who, role="admin", organization_id=uuid.UUID(org["id"]), org_path=None)
    async with transaction(app.state.sessionmaker) as session:
        for i in range(n):
            record(
                session,
                actor,
                action,
                target_type="candidate",
                target_id=f"cand-{i}",
                organization_id=uuid.UUID(org["id"]),
                details={"n": i},
            )


async def test_an_admin_reads_the_subtree_with_names_filters_and_pages(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    a, b = await school_pair(client, su)
    staff = await make_staff(app, "admin", a["uic"], name="Aurelia Auditor")
    await console.sign_in(staff)
    # a change through the console: audited with the staff member as the actor
    await console.get(f"/console/organizations/{a['uic']}/settings")
    await console.post(
        f"/console/organizations/{a['uic']}/settings",
        {"name": "Audit A renamed", "language": "en", "timezone": "UTC", "ct_unlock_mode": "auto"},
    )
    await entries(app, a, 55, "candidate.update", "apikey:feedbeef")
    await entries(app, b, 3, "candidate.hide", "apikey:otherkey")
    page = await console.get("/console/audit")
    assert page.status_code == 200
    # the organization's creation, the staff account's, the settings change and the 55
    total = count(page.text)
    assert total >= 58
    assert "Page 1 of 2" in page.text
    assert "otherkey" not in page.text and "candidate.hide" not in page.text
    second = await console.get("/console/audit", params={"page": 2})
    assert "Page 2 of 2" in second.text and "organization.update" in second.text
    assert "Aurelia Auditor" in second.text and f"staff:{staff.email}" in second.text
    only = await console.get("/console/audit", params={"action": "organization.update"})
    assert count(only.text) == 1 and "Aurelia Auditor" in only.text
    by_key = await console.get("/console/audit", params={"actor": "FEEDBEEF"})
    assert "Entries: 55" in by_key.text
    today = datetime.now(UTC).date()
    in_range = await console.get(
        "/console/audit", params={"from": today.isoformat(), "to": today.isoformat()}
    )
    assert count(in_range.text) == total
    yesterday = (today - timedelta(days=1)).isoformat()
    before = await console.get("/console/audit", params={"to": yesterday})
    assert "Entries: 0" in before.text and "No entries match." in before.text
    bad = await console.get("/console/audit", params={"from": today.isoformat(), "to": yesterday})
    assert bad.status_code == 422 and "ends before it starts" in bad.text
    nonsense = await console.get("/console/audit", params={"from": "yesterday"})
    assert nonsense.status_code == 422 and "YYYY-MM-DD" in nonsense.text


async def test_viewers_and_support_do_not_read_the_audit_log(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    a, _ = await school_pair(client, su)
    for role in ("viewer", "support"):
        reader = ConsoleClient(console.http)
        await reader.sign_in(await make_staff(app, role, a["uic"]))
        resp = await reader.get("/console/audit")
        assert resp.status_code == 403 and "Only admins read the audit log." in resp.text
        api = await client.get("/api/v1/audit", headers=su)
        assert api.status_code == 200


async def test_the_operator_sees_entries_of_no_organization(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    staff = await make_staff(app, "superadmin", None, name="Olga Operator")
    marker = f"global-{uuid.uuid4().hex[:8]}"
    async with transaction(app.state.sessionmaker) as session:
        record(
            session,
            Actor(subject=f"cli:{marker}", role="superadmin", organization_id=None, org_path=None),
            "apikey.create",
            target_type="api_key",
            target_id=marker,
            organization_id=None,
        )
    await console.sign_in(staff)
    page = await console.get("/console/audit", params={"actor": marker})
    assert page.status_code == 200 and "Entries: 1" in page.text and marker in page.text


async def test_audit_workflow_in_a_browser(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    a, _ = await school_pair(client, su)
    await entries(app, a, 3, "candidate.update", "apikey:browser1")
    await entries(app, a, 2, "token.reset", "apikey:browser2")
    tab = await open_tab("audit-")
    await tab.sign_in(await make_staff(app, "admin", a["uic"], name="Browser Auditor"))
    await tab.page.get_by_role("link", name="Audit log").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Audit log")
    await tab.check("list")
    await tab.page.get_by_label("Action").select_option("token.reset")
    await tab.submit("Filter")
    await expect(tab.page.locator("caption")).to_have_text("Entries: 2")
    await tab.check("filtered")
    tab.assert_clean()
    phone = await open_tab("audit-", phone=True)
    await phone.sign_in(await make_staff(app, "admin", a["uic"]))
    await phone.goto("/console/audit")
    await phone.check("list-phone")
    phone.assert_clean()
