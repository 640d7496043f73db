"""Signing in and out of the console; sessions, CSRF and the 404 page; the TOTP second
factor; rate limits; single sign-on with OpenID Connect against a provider on loopback."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from sqlalchemy import select

from etest.config import OidcProvider as OidcProviderSettings
from etest.config import Settings
from etest.db import transaction
from etest.kit.ratelimit import Limiter, Rule
from etest.models import StaffAccount
from etest.staff import service as staff_service
from tests.conftest import Headers, create_org
from tests.console.conftest import PASSWORD, ConsoleClient, ConsoleTab, make_staff
from tests.support.oidc import OidcProvider, OidcServer
from tests.support.server import Server

pytestmark = pytest.mark.asyncio


async def test_console_asks_to_sign_in_and_returns_where_asked(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"], name="Ana Admin")
    page = await console.get("/console/candidates?q=x")
    assert "/console/sign-in" in str(page.url)
    assert "next=" in str(page.url)
    refused = await console.http.post(
        "/console/sign-in", data={"email": staff.email, "password": "wrong password!"}
    )
    assert refused.status_code == 401
    assert "The email or the password is not right." in refused.text
    unknown = await console.http.post(
        "/console/sign-in", data={"email": "nobody@example.test", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    assert unknown.text.replace("nobody@example.test", staff.email) == refused.text
    ok = await console.http.post(
        "/console/sign-in",
        data={"email": staff.email.upper(), "password": PASSWORD, "next": "/console"},
    )
    assert ok.status_code == 200
    assert "Ana Admin" in ok.text
    assert "etest_console" in console.http.cookies


async def test_next_never_leaves_the_console(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "viewer", org["uic"])
    resp = await console.http.post(
        "/console/sign-in",
        data={"email": staff.email, "password": PASSWORD, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/console"


async def test_forms_need_the_csrf_token_and_sign_out_ends_the_session(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"])
    await console.sign_in(staff)
    forged = await console.http.post("/console/sign-out", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert "expired or came from another site" in forged.text
    still = await console.get("/console")
    assert still.status_code == 200 and "/sign-in" not in str(still.url)
    out = await console.post("/console/sign-out")
    assert "You have signed out." in out.text
    again = await console.get("/console")
    assert "/console/sign-in" in str(again.url)


async def test_unknown_console_page_is_the_console_404(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    await console.sign_in(await make_staff(app, "support", org["uic"]))
    resp = await console.get("/console/no/such/page")
    assert resp.status_code == 404
    assert "<h1>Page not found</h1>" in resp.text
    root = await console.get("/")
    assert str(root.url).endswith("/console")


async def test_sign_in_in_a_browser_by_keyboard_on_a_phone(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"], name="Phone Admin")
    tab = await open_tab("sign-in-", phone=True)
    await tab.goto("/console")
    await tab.check("page")
    for _ in range(3):  # the skip link, the brand's link home, the email field
        await tab.page.keyboard.press("Tab")
    await tab.page.keyboard.type(staff.email)
    await tab.page.keyboard.press("Tab")
    await tab.page.keyboard.type(staff.password)
    async with tab.page.expect_navigation():
        await tab.page.keyboard.press("Enter")
    assert tab.page.url.endswith("/console"), tab.page.url
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Home")
    await tab.check("home")
    tab.assert_clean()


# ---------------------------------------------------------------------------- second factor


def totp_secret_of(html: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)
    assert found, "no TOTP secret on the page"
    return found.group(1).replace(" ", "")


def code_at(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


async def test_totp_is_enabled_with_a_code_and_asked_at_every_sign_in(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "admin", org["uic"], name="Tom Totp")
    await console.sign_in(staff)
    await console.post("/console/account/totp/start")
    page = await console.get("/console/account")
    assert "<svg" in page.text and "QR code" in page.text
    secret = totp_secret_of(page.text)
    wrong = await console.post("/console/account/totp/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "This code is not right" in wrong.text
    on = await console.post("/console/account/totp/confirm", {"code": code_at(secret)})
    assert "The second factor is on" in on.text
    async with transaction(app.state.sessionmaker) as session:
        account = (
            await session.scalars(select(StaffAccount).where(StaffAccount.email == staff.email))
        ).one()
        assert account.totp_secret is not None and secret not in account.totp_secret

    await console.post("/console/sign-out")
    pending = await console.http.post(
        "/console/sign-in", data={"email": staff.email, "password": PASSWORD}
    )
    assert str(pending.url).endswith("/console/sign-in/code?next=%2Fconsole")
    assert "Enter your code" in pending.text
    # a pending session opens no page
    assert "/console/sign-in/code" in str((await console.get("/console/candidates")).url)
    # the code just used to confirm is refused (a code works once), the next one passes
    replay = await console.http.post("/console/sign-in/code", data={"code": code_at(secret)})
    assert replay.status_code == 401 and "used already" in replay.text
    ok = await console.http.post("/console/sign-in/code", data={"code": code_at(secret, 1)})
    assert ok.status_code == 200 and str(ok.url).endswith("/console")
    assert "Tom Totp" in ok.text

    # off again, with a code; then the password alone signs in
    await console.get("/console/account")
    off = await console.post("/console/account/totp/disable", {"code": "123"})
    assert off.status_code == 422
    # the next step's code was used to sign in: a minute later, the code of that time works
    async with transaction(app.state.sessionmaker) as session:
        account = (
            await session.scalars(select(StaffAccount).where(StaffAccount.email == staff.email))
        ).one()
        assert account.totp_last_step is not None
        account.totp_last_step -= 3
    off = await console.post("/console/account/totp/disable", {"code": code_at(secret)})
    assert "The second factor is off." in off.text


async def test_an_admin_removes_a_members_lost_second_factor(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    org = await create_org(client, su)
    admin = await make_staff(app, "admin", org["uic"])
    member = await make_staff(app, "viewer", org["uic"])
    async with transaction(app.state.sessionmaker) as session:
        account = (
            await session.scalars(select(StaffAccount).where(StaffAccount.email == member.email))
        ).one()
        staff_service.start_totp(app.state.settings, account)
        account.totp_enabled_at = account.created_at
        member_id = account.id
    await console.sign_in(admin)
    page = await console.get(f"/console/staff/{member_id}")
    assert "Remove the second factor" in page.text
    done = await console.post(f"/console/staff/{member_id}/reset-second-factor")
    assert "The second factor is removed" in done.text
    await console.post("/console/sign-out")
    await console.sign_in(member)


async def test_browser_enable_totp_and_sign_in_with_a_code(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "support", org["uic"], name="Tessa Two")
    tab = await open_tab("sign-in-totp-")
    await tab.sign_in(staff)
    await tab.goto("/console/account")
    await tab.submit("Set up a second factor")
    await expect(tab.page.locator("svg.qr")).to_be_visible()
    secret = (await tab.page.locator("#totp-secret").inner_text()).replace(" ", "")
    await tab.check("totp-setup")
    await tab.page.get_by_label("Code from your app").fill(code_at(secret))
    await tab.submit("Turn the second factor on")
    await expect(tab.page.get_by_role("status")).to_contain_text("The second factor is on")
    await tab.submit("Sign out")

    await tab.goto("/console/sign-in")
    await tab.page.get_by_label("Email").fill(staff.email)
    await tab.page.get_by_label("Password").fill(staff.password)
    await tab.submit("Sign in")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    await tab.check("code")
    await tab.page.get_by_label("Code").fill(code_at(secret, 1))
    await tab.submit("Continue")
    assert tab.page.url.endswith("/console"), tab.page.url
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Home")
    tab.assert_clean()


# ---------------------------------------------------------------------------- rate limits


async def test_sign_in_failures_are_limited_per_email_and_address(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    org = await create_org(client, su)
    staff = await make_staff(app, "viewer", org["uic"])
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=(f"10.9.{uuid.uuid4().int % 250}.7", 5000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for _ in range(10):
            wrong = await c.post(
                "/console/sign-in", data={"email": staff.email, "password": "not it at all"}
            )
            assert wrong.status_code == 401
        limited = await c.post(
            "/console/sign-in", data={"email": staff.email, "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert "<h1>Too many tries</h1>" in limited.text
        # another email from the same address is still let through (per email + address) ...
        other = await make_staff(app, "viewer", org["uic"])
        ok = await c.post("/console/sign-in", data={"email": other.email, "password": PASSWORD})
        assert ok.status_code == 303
        # ... until the address itself has failed 50 times
        for n in range(40):
            await c.post(
                "/console/sign-in",
                data={"email": f"guess-{n}@example.test", "password": "not it at all"},
            )
        blocked = await c.post(
            "/console/sign-in", data={"email": other.email, "password": PASSWORD}
        )
        assert blocked.status_code == 429
        forgot = [
            (await c.post("/console/password/forgot", data={"email": staff.email})).status_code
            for _ in range(6)
        ]
        assert forgot[:5] == [303] * 5 and forgot[5] == 429


# ---------------------------------------------------------------------------- OpenID Connect


@pytest.fixture
def oidc_provider() -> Iterator[OidcProvider]:
    with OidcServer() as provider:
        yield provider


@pytest.fixture
def with_providers(app: FastAPI) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
    """Configure the in-process app's OIDC providers for one test (restored after)."""
    original = app.state.settings

    def configure(entries: list[dict[str, Any]]) -> None:
        app.state.settings = original.model_copy(
            update={"oidc_providers": [OidcProviderSettings(**e) for e in entries]}
        )

    yield configure
    app.state.settings = original


async def oidc_round_trip(
    console: ConsoleClient, name: str, next: str = "/console"
) -> httpx.Response:
    """What the browser does: to the provider (which signs in at once) and back."""
    start = await console.http.get(
        f"/console/sign-in/oidc/{name}", params={"next": next}, follow_redirects=False
    )
    assert start.status_code == 303, start.text[:300]
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = httpx.URL(at_provider.headers["location"])
    assert back.host == "testserver"
    return await console.get(f"{back.path}?{back.query.decode()}")


async def test_oidc_sign_in_for_an_invited_account_of_the_providers_organizations(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    oidc_provider: OidcProvider,
    with_providers: Callable[[list[dict[str, Any]]], None],
) -> None:
    school = await create_org(client, su)
    branch = await create_org(client, su, parent=school["uic"])
    other = await create_org(client, su)
    with_providers([oidc_provider.settings_entry("school", "School SSO", [school["uic"]])])
    member = await make_staff(app, "admin", branch["uic"], name="Olga Oidc")
    outsider = await make_staff(app, "admin", other["uic"])

    page = await console.get("/console/sign-in")
    assert "Sign in with School SSO" in page.text

    oidc_provider.user = {"sub": "u-olga", "email": member.email.upper(), "email_verified": True}
    home = await oidc_round_trip(console, "school", "/console/account")
    assert str(home.url).endswith("/console/account"), home.text[:500]
    assert "Olga Oidc" in home.text
    (token_request,) = oidc_provider.token_requests
    assert len(token_request["code_verifier"]) >= 43  # PKCE
    async with transaction(app.state.sessionmaker) as session:
        account = (
            await session.scalars(select(StaffAccount).where(StaffAccount.email == member.email))
        ).one()
        assert (account.oidc_issuer, account.oidc_subject) == (oidc_provider.issuer, "u-olga")
    await console.post("/console/sign-out")

    # linked by subject now: a changed email at the provider still signs Olga in
    oidc_provider.user = {"sub": "u-olga", "email": "olga@elsewhere.test", "email_verified": True}
    again = await oidc_round_trip(console, "school")
    assert "Olga Oidc" in again.text
    await console.post("/console/sign-out")

    refusals = {
        "unverified email": {"sub": "u-x", "email": member.email, "email_verified": False},
        "no account": {"sub": "u-y", "email": "ghost@example.test", "email_verified": True},
        "another tree": {"sub": "u-z", "email": outsider.email, "email_verified": True},
        "another subject": {"sub": "u-evil", "email": member.email, "email_verified": True},
    }
    for why, user in refusals.items():
        oidc_provider.user = user
        refused = await oidc_round_trip(console, "school")
        assert refused.status_code == 401, why
        assert "Signing in with your organization did not work" in refused.text, why


@pytest.mark.parametrize("tamper", ["nonce", "audience", "issuer", "expired", "signature"])
async def test_oidc_refuses_an_id_token_that_does_not_verify(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    oidc_provider: OidcProvider,
    with_providers: Callable[[list[dict[str, Any]]], None],
    tamper: str,
) -> None:
    school = await create_org(client, su)
    with_providers([oidc_provider.settings_entry("school", "School SSO", [school["uic"]])])
    member = await make_staff(app, "viewer", school["uic"])
    oidc_provider.user = {"sub": "u-1", "email": member.email, "email_verified": True}
    oidc_provider.tamper = tamper
    refused = await oidc_round_trip(console, "school")
    assert refused.status_code == 401
    assert "etest_console" not in console.http.cookies


async def test_oidc_callback_without_this_browsers_state_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    console: ConsoleClient,
    oidc_provider: OidcProvider,
    with_providers: Callable[[list[dict[str, Any]]], None],
) -> None:
    school = await create_org(client, su)
    with_providers([oidc_provider.settings_entry("school", "School SSO", [school["uic"]])])
    refused = await console.get("/console/sign-in/oidc/school/callback?code=abc&state=forged")
    assert refused.status_code == 401
    assert (await console.get("/console/sign-in/oidc/nosuch")).status_code == 404


class OidcWebServer(Server):
    """The console's server with an OIDC provider configured (and links on its own port)."""

    def __init__(self, *args: Any, providers: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.providers = providers

    def _env(self) -> dict[str, str]:
        return {
            **super()._env(),
            "ETEST_OIDC_PROVIDERS": json.dumps(self.providers),
            "ETEST_BASE_URL": self.base,
        }

    def wait_ready(self, started: float) -> float:
        """As ``Server.wait_ready``, but patient: this second server starts while the shared
        one runs, on a machine other test runs may load heavily."""
        assert self.proc is not None
        while time.monotonic() < started + 120 and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the OIDC test server did not become ready:\n{self.log_tail()}")


async def test_browser_oidc_sign_in_with_the_local_provider(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    settings: Settings,
    browser: Any,
    console_artifacts: Path,
    oidc_provider: OidcProvider,
    tmp_path: Path,
) -> None:
    school = await create_org(client, su)
    member = await make_staff(app, "viewer", school["uic"], name="Sam Sso")
    oidc_provider.user = {"sub": "u-sam", "email": member.email, "email_verified": True}
    server = OidcWebServer(
        settings,
        tmp_path,
        providers=[oidc_provider.settings_entry("school", "School SSO", [school["uic"]])],
    )
    await server.astart()
    try:
        ctx = await browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
        page = await ctx.new_page()
        tab = ConsoleTab(page, server.base, console_artifacts, "sign-in-oidc-")
        await tab.goto("/console/sign-in")
        await tab.check("page")
        await page.get_by_role("link", name="Sign in with School SSO").click()
        await page.wait_for_url(f"{server.base}/console")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
        await expect(page.get_by_text("Sam Sso").first).to_be_visible()
        await tab.check("home")
        tab.assert_clean()
        await ctx.close()
    finally:
        server.stop()


async def test_the_limiter_counts_failures_and_forgets_on_success() -> None:
    limiter = Limiter()
    rule = Rule("3/15 minutes", "test-rule")
    check = (rule, ("someone", "10.0.0.1"))
    assert await limiter.blocked(check) == 0
    for _ in range(3):
        await limiter.fail(check)
    wait = await limiter.blocked(check)
    assert 0 < wait <= 15 * 60
    assert await limiter.blocked((rule, ("someone else", "10.0.0.1"))) == 0
    await limiter.forget(check)
    assert await limiter.blocked(check) == 0
