"""Console: API keys — list, create (shown once), revoke; subtree and role rules
(docs/console/apikeys.md)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select

from etest.db import transaction
from etest.models import ApiKey, AuditEntry
from tests.conftest import Headers, create_key, create_org, unique
from tests.console.conftest import ConsoleClient, make_staff

pytestmark = pytest.mark.asyncio


async def two_schools(client: httpx.AsyncClient, su: Headers) -> tuple[str, str, str]:
    root = await create_org(client, su, uic=unique("K"), name="Key Group")
    r = root["uic"]
    a = await create_org(client, su, parent=r, uic=f"{r}-A", name="Key School A")
    b = await create_org(client, su, parent=r, uic=f"{r}-B", name="Key School B")
    return r, a["uic"], b["uic"]


def shown_key(html: str) -> str:
    found = re.search(r'id="new-key">(etk_[^<]+)<', html)
    assert found, html[:2000]
    return found.group(1)


async def test_an_admin_creates_a_key_shown_once_that_works_and_revokes_it(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    _, a, _b = await two_schools(client, su)
    await console.sign_in(await make_staff(app, "admin", a, name="Kim Keys"))
    page = await console.get("/console/api-keys")
    assert page.status_code == 200
    assert '<option value="superadmin"' not in page.text  # stronger than an admin
    assert "Key School B" not in page.text  # not in the subtree
    made = await console.post(
        "/console/api-keys", {"uic": a, "role": "viewer", "name": "LMS dashboard"}
    )
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    key = shown_key(made.text)
    listed = await console.get("/console/api-keys")
    assert key not in listed.text and "LMS dashboard" in listed.text
    headers = {"Authorization": f"Bearer {key}"}
    orgs = await client.get("/api/v1/organizations", headers=headers)
    assert orgs.status_code == 200 and [o["uic"] for o in orgs.json()["items"]] == [a]
    prefix = key.split("_")[1]
    revoked = await console.post(f"/console/api-keys/{prefix}/revoke")
    assert "The API key was revoked." in revoked.text
    assert (await client.get("/api/v1/organizations", headers=headers)).status_code == 401
    async with transaction(app.state.sessionmaker) as session:
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == prefix))
        ).all()
    assert sorted(actions) == ["apikey.create", "apikey.revoke"]


async def test_keys_stay_in_the_subtree_and_within_the_role(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    _, a, b = await two_schools(client, su)
    other = await create_key(app, "viewer", b)
    other_prefix = other["Authorization"].split("_")[1]
    await console.sign_in(await make_staff(app, "admin", a))
    page = await console.get("/console/api-keys")
    assert other_prefix not in page.text
    foreign = await console.post("/console/api-keys", {"uic": b, "role": "viewer", "name": "x"})
    assert foreign.status_code == 422 and f"No organization {b!r}" in foreign.text.replace(
        "&#39;", "'"
    )
    stronger = await console.post("/console/api-keys", {"uic": a, "role": "superadmin"})
    assert stronger.status_code == 403
    global_key = await console.post("/console/api-keys", {"uic": "", "role": "admin"})
    assert global_key.status_code == 422 and "needs an organization" in global_key.text
    bad_name = await console.post(
        "/console/api-keys", {"uic": a, "role": "viewer", "name": "bad\u202ename"}
    )
    assert bad_name.status_code == 422 and "API key name" in bad_name.text
    revoke_other = await console.post(f"/console/api-keys/{other_prefix}/revoke")
    assert revoke_other.status_code == 404
    missing = await console.post("/console/api-keys/nosuchkey/revoke")
    assert missing.text == revoke_other.text
    async with transaction(app.state.sessionmaker) as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.prefix == other_prefix))
        assert row is not None and row.revoked_at is None


async def test_viewers_and_support_have_no_key_pages_and_csrf_is_needed(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    _, a, _ = await two_schools(client, su)
    mine = await create_key(app, "viewer", a)
    prefix = mine["Authorization"].split("_")[1]
    await console.sign_in(await make_staff(app, "support", a))
    home = await console.get("/console")
    assert "/console/api-keys" not in home.text  # not in the menu
    assert (await console.get("/console/api-keys")).status_code == 403
    made = await console.post("/console/api-keys", {"uic": a, "role": "viewer"})
    assert made.status_code == 403 and "etk_" not in made.text
    assert (await console.post(f"/console/api-keys/{prefix}/revoke")).status_code == 403
    admin = ConsoleClient(console.http)
    await admin.sign_in(await make_staff(app, "admin", a))
    forged = await admin.http.post(f"/console/api-keys/{prefix}/revoke", data={"csrf": "x"})
    assert forged.status_code == 403
    async with transaction(app.state.sessionmaker) as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert row is not None and row.revoked_at is None


async def test_the_operator_creates_a_global_key(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    await console.sign_in(await make_staff(app, "superadmin", None))
    page = await console.get("/console/api-keys")
    # the organization is a list (with "None") or, above CHOICES organizations, a UIC to type
    assert '<option value="content_manager"' in page.text
    assert "None: a global key" in page.text or 'input class="input" id="f-uic"' in page.text
    made = await console.post(
        "/console/api-keys", {"uic": "", "role": "content_manager", "name": "bank editor"}
    )
    key = shown_key(made.text)
    resp = await client.get("/api/v1/items", headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200


async def test_api_keys_workflow_in_a_browser(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    _, a, _ = await two_schools(client, su)
    tab = await open_tab("apikeys-")
    await tab.sign_in(await make_staff(app, "admin", a, name="Browser Keys"))
    await tab.page.get_by_role("link", name="API keys").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("API keys")
    await tab.page.get_by_label("Role").select_option("support")
    await tab.page.get_by_label("What the key is for").fill("Help desk script")
    await tab.check("list")
    await tab.submit("Create the key")
    key = await tab.page.locator("#new-key").inner_text()
    assert key.startswith("etk_")
    await tab.check("created")
    await tab.page.get_by_role("link", name="Done: back to the keys").click()
    assert key not in await tab.page.content()
    prefix = key.split("_")[1]
    await tab.submit(f"Revoke the key {prefix}")
    await expect(tab.page.get_by_role("status")).to_contain_text("The API key was revoked.")
    await tab.check("revoked")
    resp = await client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 401
    tab.assert_clean()
    phone = await open_tab("apikeys-", phone=True)
    await phone.sign_in(await make_staff(app, "admin", a))
    await phone.goto("/console/api-keys")
    await phone.check("list-phone")
    phone.assert_clean()
