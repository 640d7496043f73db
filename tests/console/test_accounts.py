"""Staff accounts in the console: managing staff (who may manage whom, tenancy), invitations
and password resets by email (through the outbox and a real SMTP server), one's own account."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select

from etest.db import transaction
from etest.models import AuditEntry, OutboxEvent, StaffAccount, StaffTicket
from etest.models.base import utcnow
from etest.outbox.worker import drain
from tests.conftest import Headers, create_org
from tests.console.conftest import PASSWORD, ConsoleClient, Staff, make_staff
from tests.notification.conftest import SmtpServer, context, smtp  # noqa: F401

pytestmark = pytest.mark.asyncio

NEW_PASSWORD = "a brand new passphrase"


async def send_mail(app: FastAPI, server: SmtpServer) -> int:
    """Run the outbox as ``etest worker`` would, mailing through the test's SMTP server."""
    return await drain(context(app, app.state.settings, smtp_url=server.url))


def link_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"http://\S+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


def path_of(link: str) -> str:
    parts = httpx.URL(link)
    return f"{parts.path}?{parts.query.decode()}"


async def account(app: FastAPI, email: str) -> StaffAccount:
    async with transaction(app.state.sessionmaker) as session:
        found = (
            await session.scalars(select(StaffAccount).where(StaffAccount.email == email))
        ).one()
        return found


async def audit_of(app: FastAPI, account_id: uuid.UUID) -> list[AuditEntry]:
    async with transaction(app.state.sessionmaker) as session:
        return list(
            (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.target_id == str(account_id))
                    .order_by(AuditEntry.created_at)
                )
            ).all()
        )


async def two_trees(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    a = await create_org(client, su)
    a1 = await create_org(client, su, parent=a["uic"])
    b = await create_org(client, su)
    return a, a1, b


# ---------------------------------------------------------------------------- managing staff


async def test_admin_sees_and_manages_its_subtree_only(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    a, a1, b = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"], name="Admin A")
    below = await make_staff(app, "viewer", a1["uic"], name="Viewer A1")
    boss = await make_staff(app, "superadmin", a["uic"], name="Boss A")
    foreign = await make_staff(app, "admin", b["uic"], name="Admin B")
    await console.sign_in(admin)
    page = await console.get("/console/staff")
    assert page.status_code == 200
    assert "Viewer A1" in page.text and "Boss A" in page.text
    assert "Admin B" not in page.text
    filtered = await console.get(f"/console/staff?uic={a1['uic']}")
    assert "Viewer A1" in filtered.text and "Boss A" not in filtered.text
    outside = await console.get(f"/console/staff?uic={b['uic']}")
    assert "No organization with this UIC is yours." in outside.text

    # B's member reads exactly like a missing one, for pages and for forms
    b_id = (await account(app, foreign.email)).id
    theirs = await console.get(f"/console/staff/{b_id}")
    missing = await console.get(f"/console/staff/{uuid.uuid4()}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text == missing.text
    refused = await console.post(f"/console/staff/{b_id}/disable")
    assert refused.status_code == 404
    assert (await account(app, foreign.email)).disabled_at is None

    # a superadmin of the organization is shown, but an admin may not change it
    boss_id = (await account(app, boss.email)).id
    boss_page = await console.get(f"/console/staff/{boss_id}")
    assert "Your role may not change this account." in boss_page.text
    assert "Disable the account" not in boss_page.text
    assert (await console.post(f"/console/staff/{boss_id}/disable")).status_code == 403

    below_id = (await account(app, below.email)).id
    member = await console.get(f"/console/staff/{below_id}")
    assert "Disable the account" in member.text
    done = await console.post(f"/console/staff/{below_id}/disable")
    assert "The account is disabled" in done.text
    entries = await audit_of(app, below_id)
    assert [e.action for e in entries][-1] == "staff.disable"
    assert entries[-1].actor == f"staff:{admin.email}"


async def test_viewer_and_support_cannot_manage_staff(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    a, _, _ = await two_trees(app, client, su)
    viewer = await make_staff(app, "support", a["uic"])
    other = await make_staff(app, "viewer", a["uic"])
    await console.sign_in(viewer)
    home = await console.get("/console")
    assert 'href="/console/staff"' not in home.text
    assert (await console.get("/console/staff")).status_code == 403
    other_id = (await account(app, other.email)).id
    assert (await console.post(f"/console/staff/{other_id}/disable")).status_code == 403
    invite = await console.post(
        "/console/staff/invite", {"email": "x@example.test", "role": "viewer", "uic": a["uic"]}
    )
    assert invite.status_code == 403


async def test_staff_forms_need_the_csrf_token(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    a, _, _ = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"])
    member = await make_staff(app, "viewer", a["uic"])
    await console.sign_in(admin)
    member_id = (await account(app, member.email)).id
    forged = await console.http.post(f"/console/staff/{member_id}/disable", data={})
    assert forged.status_code == 403
    assert (await account(app, member.email)).disabled_at is None


async def test_who_may_give_which_role(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    a, a1, b = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"])
    await console.sign_in(admin)
    form = await console.get("/console/staff/invite")
    assert 'value="admin"' in form.text and 'value="superadmin"' not in form.text
    assert 'value="content_manager"' not in form.text
    for role in ("superadmin", "content_manager"):
        refused = await console.post(
            "/console/staff/invite",
            {"email": f"{uuid.uuid4().hex[:8]}@example.test", "role": role, "uic": a1["uic"]},
        )
        assert refused.status_code == 403, role
    elsewhere = await console.post(
        "/console/staff/invite",
        {"email": f"{uuid.uuid4().hex[:8]}@example.test", "role": "viewer", "uic": b["uic"]},
    )
    assert elsewhere.status_code == 422
    assert "No organization with this UIC is yours." in elsewhere.text
    bad = await console.post(
        "/console/staff/invite", {"email": "not an email", "role": "viewer", "uic": a1["uic"]}
    )
    assert bad.status_code == 422 and "not an email address" in bad.text

    # the operator invites anyone, content managers (no organization) included
    operator = await make_staff(app, "superadmin", None)
    op = ConsoleClient(console.http)
    await console.post("/console/sign-out")
    await op.sign_in(operator)
    ok = await op.post(
        "/console/staff/invite",
        {"email": f"cm-{uuid.uuid4().hex[:8]}@example.test", "role": "content_manager"},
    )
    assert ok.status_code == 200 and "The invitation is on its way" in ok.text


async def test_operator_and_superadmin_powers_and_disabling_ends_sessions(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    app_client: Any,
) -> None:
    a, a1, b = await two_trees(app, client, su)
    boss = await make_staff(app, "superadmin", a["uic"])
    member = await make_staff(app, "admin", a1["uic"], name="Mia Member")
    cm = await make_staff(app, "content_manager", None, name="Cara Content")
    await make_staff(app, "viewer", b["uic"], name="Far Away")

    # an organization's superadmin may give superadmin within its subtree, never globally
    await console.sign_in(boss)
    form = await console.get("/console/staff/invite")
    assert 'value="superadmin"' in form.text and 'value="content_manager"' not in form.text
    ok = await console.post(
        "/console/staff/invite",
        {
            "email": f"sa-{uuid.uuid4().hex[:8]}@example.test",
            "role": "superadmin",
            "uic": a1["uic"],
        },
    )
    assert "The invitation is on its way" in ok.text
    no_org = await console.post(
        "/console/staff/invite",
        {"email": f"g-{uuid.uuid4().hex[:8]}@example.test", "role": "superadmin", "uic": ""},
    )
    assert no_org.status_code == 422 and "Name the organization" in no_org.text
    listed = await console.get("/console/staff")
    assert "Cara Content" not in listed.text and "Far Away" not in listed.text

    # disabling ends the member's sessions at once; enabling lets them sign in again
    async with app_client() as other:
        await other.sign_in(member)
        member_id = (await account(app, member.email)).id
        await console.post(f"/console/staff/{member_id}/disable")
        assert "/console/sign-in" in str((await other.get("/console")).url)
        refused = await other.http.post(
            "/console/sign-in", data={"email": member.email, "password": PASSWORD}
        )
        assert refused.status_code == 401
        await console.post(f"/console/staff/{member_id}/enable")
        await other.sign_in(member)
    await console.post("/console/sign-out")

    # the operator sees every tree and the accounts of no organization
    operator = await make_staff(app, "superadmin", None)
    await console.sign_in(operator)
    every = await console.get("/console/staff?q=a")
    for name in ("Cara Content", "Far Away", "Mia Member"):
        assert name in every.text, name
    cm_id = (await account(app, cm.email)).id
    assert "Disable the account" in (await console.get(f"/console/staff/{cm_id}")).text
    own = (await account(app, operator.email)).id
    assert (await console.post(f"/console/staff/{own}/disable")).status_code == 403


# ---------------------------------------------------------------------------- invitation


async def test_invitation_email_sets_a_password_and_signs_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    a, a1, _ = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"])
    await console.sign_in(admin)
    email = f"new-{uuid.uuid4().hex[:8]}@example.test"
    done = await console.post(
        "/console/staff/invite",
        {"email": email, "name": "Nia New", "role": "support", "uic": a1["uic"]},
    )
    assert done.status_code == 200 and "The invitation is on its way" in done.text
    assert "Invited" in done.text
    invited = await account(app, email)
    assert invited.password_hash is None and invited.role == "support"

    # the outbox row carries the link's secret sealed, never in clear
    async with transaction(app.state.sessionmaker) as session:
        rows = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "staff.email"))
        ).all()
    payload = next(r.payload for r in rows if r.payload["to"] == email)
    await send_mail(app, smtp)
    (message,) = smtp.inbox.to(email)
    assert message["Subject"] == "You are invited to the eTest console"
    link = link_in(message)
    code = httpx.URL(link).params["ticket"]
    assert code not in str(payload)
    assert link.startswith("http://testserver/console/welcome?ticket=")

    await console.post("/console/sign-out")
    page = await console.get(path_of(link))
    assert page.status_code == 200 and "Welcome to the eTest console" in page.text
    assert "Nia New" in page.text
    mismatch = await console.post(
        "/console/welcome", {"ticket": code, "password": NEW_PASSWORD, "password2": "other one!"}
    )
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    short = await console.post(
        "/console/welcome", {"ticket": code, "password": "short", "password2": "short"}
    )
    assert short.status_code == 422 and "at least 10 characters" in short.text
    ok = await console.post(
        "/console/welcome", {"ticket": code, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert ok.status_code == 200 and str(ok.url).endswith("/console")
    assert "Nia New" in ok.text
    again = await console.get(path_of(link))
    assert again.status_code == 410 and "no longer works" in again.text
    actions = [e.action for e in await audit_of(app, invited.id)]
    assert actions[:1] == ["staff.create"] and "staff.invitation_accepted" in actions


async def test_resending_an_invitation_voids_the_old_link(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    a, _, _ = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"])
    await console.sign_in(admin)
    email = f"re-{uuid.uuid4().hex[:8]}@example.test"
    await console.post("/console/staff/invite", {"email": email, "role": "viewer", "uic": a["uic"]})
    invited = await account(app, email)
    resent = await console.post(f"/console/staff/{invited.id}/resend")
    assert "A new invitation is on its way" in resent.text
    await send_mail(app, smtp)
    # the first link was replaced before it went out: its email is cancelled, not sent
    (message,) = smtp.inbox.to(email)
    await console.post("/console/sign-out")
    assert (await console.get(path_of(link_in(message)))).status_code == 200


async def test_an_expired_or_disabled_invitation_does_not_work(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    a, _, _ = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"])
    await console.sign_in(admin)
    links = {}
    for who in ("expires", "disabled"):
        email = f"{who}-{uuid.uuid4().hex[:8]}@example.test"
        await console.post(
            "/console/staff/invite", {"email": email, "role": "viewer", "uic": a["uic"]}
        )
        links[who] = email
    await send_mail(app, smtp)
    expiring = await account(app, links["expires"])
    async with transaction(app.state.sessionmaker) as session:
        ticket = (
            await session.scalars(select(StaffTicket).where(StaffTicket.account_id == expiring.id))
        ).one()
        ticket.expires_at = utcnow()
    disabled = await account(app, links["disabled"])
    await console.post(f"/console/staff/{disabled.id}/disable")
    await console.post("/console/sign-out")
    for email in links.values():
        (message,) = smtp.inbox.to(email)
        dead = await console.get(path_of(link_in(message)))
        assert dead.status_code == 410 and "This link no longer works" in dead.text
    assert (await console.get("/console/welcome?ticket=made-up")).status_code == 410


# ---------------------------------------------------------------------------- password reset


async def test_forgotten_password_same_answer_and_reset_by_email(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    a, _, _ = await two_trees(app, client, su)
    member = await make_staff(app, "viewer", a["uic"], name="Fay Forgetful")
    unknown_email = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    known = await console.post("/console/password/forgot", {"email": member.email})
    unknown = await console.post("/console/password/forgot", {"email": unknown_email})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert "If an account has this email" in known.text
    await send_mail(app, smtp)
    assert smtp.inbox.to(unknown_email) == []
    (message,) = smtp.inbox.to(member.email)
    assert message["Subject"] == "Reset your eTest console password"
    link = link_in(message)
    code = httpx.URL(link).params["ticket"]
    page = await console.get(path_of(link))
    assert "Choose a new password" in page.text
    ok = await console.post(
        "/console/password/reset",
        {"ticket": code, "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert str(ok.url).endswith("/console") and "Fay Forgetful" in ok.text
    assert (await console.get(path_of(link))).status_code == 410
    await console.post("/console/sign-out")
    old = await console.http.post(
        "/console/sign-in", data={"email": member.email, "password": PASSWORD}
    )
    assert old.status_code == 401
    await console.sign_in(Staff(member.email, NEW_PASSWORD, member.role, member.uic))


# ---------------------------------------------------------------------------- own account


async def test_own_account_name_and_password(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient, app_client: Any
) -> None:
    a, _, _ = await two_trees(app, client, su)
    me = await make_staff(app, "viewer", a["uic"], name="Old Name")
    other_browser = app_client()
    await console.sign_in(me)
    async with other_browser as other:
        await other.sign_in(me)
        page = await console.get("/console/account")
        assert page.status_code == 200 and "Second factor" in page.text
        named = await console.post("/console/account/profile", {"name": "New Name"})
        assert "Your name is saved." in named.text and "New Name" in named.text
        wrong = await console.post(
            "/console/account/password",
            {"current": "not my password", "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert wrong.status_code == 422 and "current password is not right" in wrong.text
        changed = await console.post(
            "/console/account/password",
            {"current": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert "Your password is changed" in changed.text
        # this browser stays signed in; the other one is signed out
        assert (await console.get("/console/account")).status_code == 200
        assert "/console/sign-in" in str((await other.get("/console")).url)


@pytest.fixture
def app_client(app: FastAPI) -> Any:
    """Another browser (its own cookies), as a context manager yielding a ConsoleClient."""

    class _Browser:
        async def __aenter__(self) -> ConsoleClient:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            self.http = httpx.AsyncClient(
                transport=transport, base_url="http://testserver", follow_redirects=True
            )
            return ConsoleClient(self.http)

        async def __aexit__(self, *exc: object) -> None:
            await self.http.aclose()

    return _Browser


# ---------------------------------------------------------------------------- in the browser


async def test_browser_invitation_from_email_to_signed_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    open_tab: Any,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    a, a1, _ = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"], name="Ines Inviter")
    tab = await open_tab("accounts-")
    await tab.sign_in(admin)
    await tab.goto("/console/staff")
    await tab.check("staff-list")
    await tab.page.get_by_role("link", name="Invite a staff member").click()
    await tab.page.wait_for_url("**/console/staff/invite")
    email = f"browser-{uuid.uuid4().hex[:8]}@example.test"
    await tab.page.get_by_label("Email").fill(email)
    await tab.page.get_by_label("Name", exact=True).fill("Bea Browser")
    await tab.page.get_by_label("Role").select_option("support")
    await tab.page.get_by_label("Organization (UIC)").fill(a1["uic"])
    await tab.check("invite")
    await tab.submit("Send the invitation")
    await expect(tab.page.get_by_role("status")).to_contain_text("The invitation is on its way")
    await tab.check("staff-member")
    tab.assert_clean()

    await send_mail(app, smtp)
    (message,) = smtp.inbox.to(email)
    invitee = await open_tab("accounts-invitee-", phone=True)
    await invitee.goto(path_of(link_in(message)))
    await expect(invitee.page.get_by_role("heading", level=1)).to_have_text(
        "Welcome to the eTest console"
    )
    await invitee.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await invitee.page.get_by_label("New password again").fill(NEW_PASSWORD)
    await invitee.check("welcome")
    await invitee.submit("Set my password")
    assert invitee.page.url.endswith("/console"), invitee.page.url
    await expect(invitee.page.get_by_text("Bea Browser").first).to_be_visible()
    invitee.assert_clean()


async def test_browser_forgotten_password_and_reset(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    open_tab: Any,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    a, _, _ = await two_trees(app, client, su)
    member = await make_staff(app, "admin", a["uic"], name="Rita Reset")
    tab = await open_tab("accounts-reset-", javascript=False)
    await tab.goto("/console/sign-in")
    await tab.page.get_by_role("link", name="Forgot your password?").click()
    await tab.page.wait_for_url("**/console/password/forgot")
    await tab.check("forgot")
    await tab.page.get_by_label("Email").fill(member.email)
    await tab.submit("Send me a link")
    await expect(tab.page.get_by_role("status")).to_contain_text("If an account has this email")
    await send_mail(app, smtp)
    (message,) = smtp.inbox.to(member.email)
    await tab.goto(path_of(link_in(message)))
    await tab.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await tab.page.get_by_label("New password again").fill(NEW_PASSWORD)
    await tab.check("reset")
    await tab.submit("Save the new password")
    assert tab.page.url.endswith("/console"), tab.page.url
    # the account page, by keyboard-free navigation (no JavaScript)
    await tab.goto("/console/account")
    await tab.check("account")
    tab.assert_clean()


async def test_browser_admin_of_a_gets_the_404_page_for_b_staff(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    a, _, b = await two_trees(app, client, su)
    admin = await make_staff(app, "admin", a["uic"])
    foreign = await make_staff(app, "viewer", b["uic"])
    foreign_id = (await account(app, foreign.email)).id
    tab = await open_tab("accounts-tenancy-")
    await tab.sign_in(admin)
    await tab.goto(f"/console/staff/{foreign_id}")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Page not found")
    theirs = await tab.page.content()
    await tab.check("404")
    await tab.goto(f"/console/staff/{uuid.uuid4()}")
    assert await tab.page.content() == theirs
