"""Console: organizations — the tree, an organization's page, creating a child, the settings,
the callback URL and secret (shown once) and the signed test ping (docs/console/organizations.md).

The callback tests run against ``hook_app`` (tests/webhook/conftest.py: the operator allow-lists
loopback) and a real HTTP receiver on loopback; the browser test against a ``uvicorn`` of its
own started with ``ETEST_CALLBACK_ALLOW_NETWORKS`` for the same reason."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select
from standardwebhooks import Webhook

from etest.config import Settings
from etest.db import transaction
from etest.kit.webhook_signing import signing_key
from etest.models import AuditEntry, Organization
from tests.conftest import Headers, create_org, unique
from tests.console.conftest import ConsoleClient, ConsoleTab, make_staff
from tests.support.server import Server
from tests.webhook.conftest import ALLOW, hook_app, hook_settings  # noqa: F401
from tests.webhook.receiver import Receiver, Reply

pytestmark = pytest.mark.asyncio


async def tree(client: httpx.AsyncClient, su: Headers) -> dict[str, dict[str, Any]]:
    """ROOT with A (and A1 below it) and B; every UIC in ROOT's namespace."""
    root = await create_org(client, su, uic=unique("R"), name="Root School Group")
    r = root["uic"]
    a = await create_org(client, su, parent=r, uic=f"{r}-A", name="North Campus")
    a1 = await create_org(client, su, parent=a["uic"], uic=f"{r}-A1", name="North Evening")
    b = await create_org(client, su, parent=r, uic=f"{r}-B", name="South Campus")
    return {"ROOT": root, "A": a, "A1": a1, "B": b}


async def org_row(app: FastAPI, uic: str) -> Organization:
    async with transaction(app.state.sessionmaker) as session:
        row = await session.scalar(select(Organization).where(Organization.uic == uic))
        assert row is not None
        return row


async def test_tree_shows_the_subtree_and_a_foreign_page_is_the_404(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    orgs = await tree(client, su)
    await console.sign_in(await make_staff(app, "viewer", orgs["A"]["uic"]))
    page = await console.get("/console/organizations")
    assert page.status_code == 200
    assert "North Campus" in page.text and "North Evening" in page.text
    assert "South Campus" not in page.text and "Root School Group" not in page.text
    # nested: A1 is in a list inside A's item
    assert re.search(r"North Campus</a>.*?<ul>.*?North Evening", page.text, re.S)
    one = await console.get(f"/console/organizations/{orgs['A']['uic']}")
    assert one.status_code == 200
    assert "North Evening" in one.text  # its child
    assert "neo_plus" in one.text  # the contract
    assert "Edit settings" not in one.text  # a viewer does not write
    foreign = await console.get(f"/console/organizations/{orgs['B']['uic']}")
    missing = await console.get("/console/organizations/NO-SUCH-UIC")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text == missing.text
    found = await console.get("/console/organizations", params={"q": "evening"})
    assert "North Evening" in found.text and "North Campus<" not in found.text


async def test_an_admin_creates_a_child_within_namespace_and_contract(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    orgs = await tree(client, su)
    r, a = orgs["ROOT"]["uic"], orgs["A"]["uic"]
    await console.sign_in(await make_staff(app, "admin", a, name="Alma Admin"))
    form = await console.get(f"/console/organizations/{a}/children/new")
    assert form.status_code == 200
    assert f"Starts with {r}-" in form.text
    outside = await console.post(
        f"/console/organizations/{a}/children/new", {"uic": "OTHER-X", "name": "Lab"}
    )
    assert outside.status_code == 422
    assert "namespace" in outside.text and 'value="OTHER-X"' in outside.text
    plan = await console.post(
        f"/console/organizations/{a}/children/new",
        {"uic": f"{r}-LAB", "name": "Lab", "plan_code": "neo_pro"},
    )
    assert plan.status_code == 422
    assert "not part of the contract" in plan.text
    bad = await console.post(f"/console/organizations/{a}/children/new", {"uic": "", "name": ""})
    assert bad.status_code == 422 and "error-summary" in bad.text
    made = await console.post(
        f"/console/organizations/{a}/children/new",
        {"uic": f"{r}-LAB", "name": "Language Lab", "plan_code": "neo_plus"},
    )
    assert made.status_code == 200
    assert str(made.url).endswith(f"/console/organizations/{r}-LAB")
    assert "The organization was created." in made.text
    child = await org_row(app, f"{r}-LAB")
    assert child.parent_id is not None and child.plan_code == "neo_plus"
    taken = await console.post(
        f"/console/organizations/{a}/children/new", {"uic": f"{r}-LAB", "name": "Again"}
    )
    assert taken.status_code == 422 and "is taken" in taken.text
    async with transaction(app.state.sessionmaker) as session:
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "organization.create", AuditEntry.target_id == f"{r}-LAB"
            )
        )
        assert entry is not None and entry.actor.startswith("staff:")


async def test_viewers_cannot_post_and_forms_need_csrf(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    orgs = await tree(client, su)
    r, a = orgs["ROOT"]["uic"], orgs["A"]["uic"]
    await console.sign_in(await make_staff(app, "viewer", a))
    assert (await console.get(f"/console/organizations/{a}/children/new")).status_code == 403
    posted = await console.post(
        f"/console/organizations/{a}/children/new", {"uic": f"{r}-V", "name": "V"}
    )
    assert posted.status_code == 403
    assert (
        await console.post(f"/console/organizations/{a}/settings", {"name": "X"})
    ).status_code == 403
    assert (await console.post(f"/console/organizations/{a}/ping")).status_code == 403
    admin = ConsoleClient(console.http)
    await admin.sign_in(await make_staff(app, "admin", a))
    forged = await admin.http.post(
        f"/console/organizations/{a}/settings", data={"csrf": "forged", "name": "Forged"}
    )
    assert forged.status_code == 403
    assert (await org_row(app, a)).name == "North Campus"


async def test_settings_are_saved_and_the_contract_is_set_from_above(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    orgs = await tree(client, su)
    a, r = orgs["A"]["uic"], orgs["ROOT"]["uic"]
    await console.sign_in(await make_staff(app, "admin", a))
    page = await console.get(f"/console/organizations/{a}/settings")
    assert page.status_code == 200
    assert 'name="expires_on"' not in page.text  # its own contract: not its admin's to change
    form = {
        "name": "North Campus (main)",
        "language": "vi",
        "timezone": "Asia/Ho_Chi_Minh",
        "logo_url": "https://cdn.example.org/north.png",
        "ct_unlock_mode": "teacher",
        "notify_after_pt": "1",
        "send_certificate_email": "1",
        "show_result_to_candidate": "1",
    }
    saved = await console.post(f"/console/organizations/{a}/settings", form)
    assert saved.status_code == 200 and "The settings were saved." in saved.text
    row = await org_row(app, a)
    assert row.name == "North Campus (main)" and row.timezone == "Asia/Ho_Chi_Minh"
    assert row.logo_url == "https://cdn.example.org/north.png"
    assert row.settings["language"] == "vi" and row.settings["ct_unlock_mode"] == "teacher"
    assert row.settings["notify_after_ct"] is False and row.settings["notify_after_pt"] is True
    bad = await console.post(
        f"/console/organizations/{a}/settings", {**form, "logo_url": "not a url", "name": ""}
    )
    assert bad.status_code == 422 and "error-summary" in bad.text
    sneaky = await console.post(
        f"/console/organizations/{a}/settings", {**form, "expires_on": "2020-01-01"}
    )
    assert sneaky.status_code == 200  # the field is not on its form: ignored, never applied
    assert (await org_row(app, a)).expires_at is None
    # the root's admin sets the child's contract expiry
    parent = ConsoleClient(console.http)
    await parent.sign_in(await make_staff(app, "admin", r))
    page = await parent.get(f"/console/organizations/{a}/settings")
    assert 'name="expires_on"' in page.text
    expired = await parent.post(
        f"/console/organizations/{a}/settings",
        {**form, "expires_on": "2030-06-01", "is_active": "1"},
    )
    assert "The settings were saved." in expired.text
    row = await org_row(app, a)
    assert row.expires_at is not None and row.expires_at.isoformat().startswith("2030-05-31T17:00")
    async with transaction(app.state.sessionmaker) as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "organization.update", AuditEntry.target_id == a
                )
            )
        ).all()
    fields = [e.details["fields"] for e in entries]
    assert ["logo_url", "name", "settings", "timezone"] in fields and ["expires_at"] in fields


async def test_a_callback_url_the_ssrf_guard_refuses_is_shown_on_the_form(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    orgs = await tree(client, su)
    a = orgs["A"]["uic"]
    await console.sign_in(await make_staff(app, "admin", a))
    await console.get(f"/console/organizations/{a}/settings")
    refused = await console.post(
        f"/console/organizations/{a}/callback",
        {"callback_url": "http://127.0.0.1:9/hook", "secret_action": "generate"},
    )
    assert refused.status_code == 422
    assert "loopback" in refused.text and 'id="new-secret"' not in refused.text
    assert (await org_row(app, a)).callback_url is None


# ------------------------------------------------------------------- callbacks and the ping


@pytest.fixture
async def hook_console(hook_app: FastAPI) -> AsyncIterator[ConsoleClient]:  # noqa: F811
    transport = httpx.ASGITransport(app=hook_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as c:
        yield ConsoleClient(c)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def test_a_generated_secret_is_shown_once_and_the_ping_is_signed_with_it(
    hook_app: FastAPI,  # noqa: F811
    client: httpx.AsyncClient,
    su: Headers,
    hook_console: ConsoleClient,
    receiver: Receiver,
) -> None:
    orgs = await tree(client, su)
    a = orgs["A"]["uic"]
    console = hook_console
    await console.sign_in(await make_staff(hook_app, "admin", a))
    page = await console.get(f"/console/organizations/{a}/settings")
    assert "Send a test ping" not in page.text  # no URL and secret yet
    shown = await console.post(
        f"/console/organizations/{a}/callback",
        {"callback_url": receiver.url, "secret_action": "generate"},
    )
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    found = re.search(r'id="new-secret">(whsec_[A-Za-z0-9+/=]+)<', shown.text)
    assert found, shown.text
    secret = found.group(1)
    again = await console.get(f"/console/organizations/{a}/settings")
    assert secret not in again.text and "Send a test ping" in again.text
    row = await org_row(hook_app, a)
    assert row.callback_secret == secret and row.callback_url == receiver.url

    pinged = await console.post(f"/console/organizations/{a}/ping")
    assert pinged.status_code == 200
    assert "Test ping delivered" in pinged.text and "<dd>200</dd>" in pinged.text
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "etest.ping" and body["data"] == {"uic": a}
    Webhook(signing_key(secret)).verify(request.body, request.headers)  # raises if not signed

    receiver.answer(Reply(status=500, body=b"database down"))
    failed = await console.post(f"/console/organizations/{a}/ping")
    assert "Test ping failed" in failed.text and "HTTP 500" in failed.text
    assert "database down" in failed.text

    rotated = await console.post(
        f"/console/organizations/{a}/callback",
        {"callback_url": receiver.url, "secret_action": "generate"},
    )
    assert "previous secret keeps signing" in rotated.text
    await console.post(f"/console/organizations/{a}/ping")
    signatures = receiver.requests[-1].headers["webhook-signature"].split()
    assert len(signatures) == 2  # the new secret and the previous one during the overlap

    removed = await console.post(
        f"/console/organizations/{a}/callback",
        {"callback_url": receiver.url, "secret_action": "remove"},
    )
    assert "The callback secret was removed" in removed.text
    assert "Send a test ping" not in removed.text
    assert (await org_row(hook_app, a)).callback_secret is None
    async with transaction(hook_app.state.sessionmaker) as session:
        pings = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "webhook.ping", AuditEntry.target_id == a
                )
            )
        ).all()
    assert len(pings) == 3


# ------------------------------------------------------------------------------- browser


class _HookServer(Server):
    def _env(self) -> dict[str, str]:
        return {**super()._env(), "ETEST_CALLBACK_ALLOW_NETWORKS": json.dumps(ALLOW)}


@pytest.fixture(scope="module")
def hook_server(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A ``uvicorn`` whose operator allow-lists loopback (the receiver lives there)."""
    server = _HookServer(settings, tmp_path_factory.mktemp("hook-server"))
    try:
        server.start()
        yield server.base
    finally:
        server.stop()


async def test_organizations_workflow_in_a_browser(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    browser: Any,
    hook_server: str,
    console_artifacts: Path,
    receiver: Receiver,
) -> None:
    orgs = await tree(client, su)
    r, a = orgs["ROOT"]["uic"], orgs["A"]["uic"]
    staff = await make_staff(app, "admin", r, name="Rosa Root")
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    try:
        tab = ConsoleTab(await ctx.new_page(), hook_server, console_artifacts, "organizations-")
        await tab.sign_in(staff)
        await tab.page.get_by_role("link", name="Organizations").click()
        await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Organizations")
        await tab.check("tree")
        await tab.page.get_by_role("link", name="North Campus").click()
        await expect(tab.page.get_by_role("heading", level=1)).to_have_text("North Campus")
        await tab.check("page")
        await tab.page.get_by_role("link", name="Create a child organization").click()
        await tab.page.get_by_label("UIC").fill(f"{r}-WEB")
        await tab.page.get_by_label("Name").fill("Web Annex")
        await tab.page.get_by_label("Plan").select_option("neo_plus")
        await tab.check("new")
        await tab.submit("Create the organization")
        await expect(tab.page.get_by_role("status")).to_contain_text(
            "The organization was created."
        )
        await tab.page.get_by_role("link", name="Edit settings").click()
        await tab.page.get_by_label("Time zone").select_option("Europe/Madrid")
        await tab.page.get_by_label("Email the candidate the certification result").uncheck()
        await tab.page.get_by_label("Expires on").fill("2031-01-01")
        await tab.check("settings")
        await tab.submit("Save the settings")
        await expect(tab.page.get_by_role("status")).to_contain_text("The settings were saved.")
        row = await org_row(app, f"{r}-WEB")
        assert row.timezone == "Europe/Madrid" and row.settings["notify_after_ct"] is False
        await tab.page.get_by_role("link", name="Edit settings").click()
        await tab.page.get_by_label("Callback URL").fill(receiver.url)
        await tab.page.get_by_label("Generate a new secret (shown once)").check()
        await tab.submit("Save the callback settings")
        secret = await tab.page.locator("#new-secret").inner_text()
        assert secret.startswith("whsec_")
        await tab.check("secret")
        await tab.page.get_by_role("link", name="Done: back to the settings").click()
        await tab.submit("Send a test ping")
        await expect(tab.page.locator("#ping-result")).to_contain_text("Test ping delivered")
        await tab.check("ping")
        assert len(receiver.requests) == 1
        Webhook(signing_key(secret)).verify(receiver.requests[0].body, receiver.requests[0].headers)
        tab.assert_clean()
        # the same tree on a phone, by keyboard: the tree's links are reachable
        phone = await browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
        try:
            small = ConsoleTab(
                await phone.new_page(), hook_server, console_artifacts, "organizations-"
            )
            await small.sign_in(await make_staff(app, "viewer", a))
            await small.goto("/console/organizations")
            await small.check("tree-phone")
            small.assert_clean()
        finally:
            await phone.close()
    finally:
        await ctx.close()


async def test_the_operator_creates_a_top_level_organization(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    orgs = await tree(client, su)
    admin = ConsoleClient(console.http)
    await admin.sign_in(await make_staff(app, "admin", orgs["ROOT"]["uic"]))
    assert (await admin.get("/console/organizations/-new")).status_code == 403
    assert "Create a top-level organization" not in (await admin.get("/console/organizations")).text
    operator = ConsoleClient(console.http)
    await operator.sign_in(await make_staff(app, "superadmin", None))
    listed = await operator.get("/console/organizations")
    assert "Create a top-level organization" in listed.text
    form = await operator.get("/console/organizations/-new")
    assert form.status_code == 200 and 'name="region"' in form.text
    inside = await operator.post(
        "/console/organizations/-new", {"uic": f"{orgs['ROOT']['uic']}-X", "name": "Squatter"}
    )
    assert inside.status_code == 422 and "namespace" in inside.text
    uic = unique("TOP")
    made = await operator.post(
        "/console/organizations/-new",
        {"uic": uic, "name": "New Customer", "plan_code": "neo_jr", "region": "CN"},
    )
    assert str(made.url).endswith(f"/console/organizations/{uic}")
    row = await org_row(app, uic)
    assert row.parent_id is None and row.region == "CN" and row.plan_code == "neo_jr"


async def test_the_ping_reports_the_ssrf_guard_refusing_the_address(
    app: FastAPI,
    hook_app: FastAPI,  # noqa: F811
    client: httpx.AsyncClient,
    su: Headers,
    hook_console: ConsoleClient,
    console: ConsoleClient,
    receiver: Receiver,
) -> None:
    """Saved while the operator allowed loopback (``hook_app``), pinged by a server that does
    not (``app``): the guard refuses before any request leaves, and the page says why."""
    orgs = await tree(client, su)
    a = orgs["A"]["uic"]
    staff = await make_staff(hook_app, "admin", a)
    await hook_console.sign_in(staff)
    await hook_console.get(f"/console/organizations/{a}/settings")
    await hook_console.post(
        f"/console/organizations/{a}/callback",
        {"callback_url": receiver.url, "secret_action": "own", "callback_secret": "s" * 20},
    )
    await console.sign_in(staff)
    await console.get(f"/console/organizations/{a}/settings")
    refused = await console.post(f"/console/organizations/{a}/ping")
    assert refused.status_code == 200
    assert "Test ping failed" in refused.text and "loopback" in refused.text
    assert receiver.requests == []
