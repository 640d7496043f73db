"""Signing in and out of the console: email and password, the TOTP code of an account with a
second factor, and single sign-on with an organization's OpenID Connect provider; each under
rate limits (docs/console/accounts.md). (Invitations, password resets and the own account's
page: ``console/accounts.py``.)"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from etest.attempt.device import client_ip
from etest.config import OidcProvider, Settings
from etest.console import fields
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, error_page, redirect, render
from etest.console.session import PATH, MaybeStaffDep, StaffDep, clear_cookie, write_cookie
from etest.deps import SessionDep, SettingsDep
from etest.kit.ratelimit import Check, Limiter, Rule
from etest.kit.sealed import seal, unseal
from etest.models import StaffAccount
from etest.ops import ratelimits
from etest.staff import oidc, service

log = structlog.get_logger(__name__)
router = APIRouter(route_class=ConsoleRoute)

# -- rate limits: failures counted per email and client address, and per address alone (a
# guesser trying many emails); the code step per account and per address. A success clears
# the email's (or account's) counter.
SIGN_IN_EMAIL = Rule("10/15 minutes", "console-sign-in-email")
SIGN_IN_ADDRESS = Rule("50/15 minutes", "console-sign-in-address")
CODE_ACCOUNT = Rule("10/15 minutes", "console-code-account")
#: forgotten passwords: every request counts (each may send an email)
FORGOT_EMAIL = Rule("5/15 minutes", "console-forgot-email")
FORGOT_ADDRESS = Rule("20/15 minutes", "console-forgot-address")

TOO_MANY = N_(
    "There were too many tries from here. Please wait a few minutes, then try again. If you "
    "forgot your password, ask for a new one or ask your administrator."
)

OIDC_COOKIE = "etest_oidc"
OIDC_SEAL = "console-oidc"
OIDC_MINUTES = 10
OIDC_FAILED = N_(
    "Signing in with your organization did not work. Your account may not be allowed to use "
    "it: ask your administrator, or sign in with your email and password."
)


def limiter(request: Request) -> Limiter:
    """The app's one limiter, shared with the API's rate limits (etest.ops.ratelimits): Redis
    when ``ETEST_REDIS_URL`` is set. The console's rules keep namespaces of their own, and
    ``ETEST_RATE_LIMIT_ENABLED`` does not turn them off."""
    return ratelimits.limiter(request)


def address(request: Request) -> str:
    return client_ip(request) or "unknown"


def too_many(request: Request, wait: int) -> Response:
    log.info("console_rate_limited", path=request.url.path, retry_after=wait)
    return render(
        request,
        None,
        "console/error.html",
        status=429,
        headers={"Retry-After": str(wait)},
        title=N_("Too many tries"),
        detail=TOO_MANY,
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    return fields.console_path(target)


def _providers(settings: Settings) -> list[OidcProvider]:
    return list(settings.oidc_providers)


def _sign_in_page(
    request: Request,
    settings: Settings,
    *,
    next: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        None,
        "console/sign_in.html",
        status=status,
        next=safe_next(next),
        email=email,
        error=error,
        providers=_providers(settings),
        next_query=urllib.parse.urlencode({"next": safe_next(next)}),
    )


@router.get("/sign-in")
async def sign_in_page(
    request: Request, staff: MaybeStaffDep, settings: SettingsDep, next: str | None = None
) -> Response:
    if staff is not None and staff.second_factor_ok:
        return redirect(safe_next(next))
    return _sign_in_page(request, settings, next=safe_next(next))


async def start_session(
    request: Request,
    session: SessionDep,
    settings: Settings,
    account: StaffAccount,
    target: str,
    *,
    second_factor_ok: bool,
) -> Response:
    value = await service.open_session(
        session,
        settings,
        account,
        second_factor_ok=second_factor_ok,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    if not second_factor_ok:
        target = "/console/sign-in/code?" + urllib.parse.urlencode({"next": target})
    response = redirect(target)
    write_cookie(request, response, value)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    ip = address(request)
    checks: list[Check] = [
        (SIGN_IN_ADDRESS, (ip,)),
        (SIGN_IN_EMAIL, (service.normalise_email(email), ip)),
    ]
    limits = limiter(request)
    wait = await limits.blocked(*checks)
    if wait:
        return too_many(request, wait)
    account = await service.authenticate(session, email, password)
    if account is None:
        await limits.fail(*checks)
        return _sign_in_page(
            request,
            settings,
            next=next,
            email=email,
            status=401,
            error=N_("The email or the password is not right."),
        )
    await limits.forget(checks[1])
    return await start_session(
        request,
        session,
        settings,
        account,
        safe_next(next),
        second_factor_ok=not service.needs_second_factor(account),
    )


# ---------------------------------------------------------------------------- the TOTP step


@router.get("/sign-in/code")
async def code_page(request: Request, staff: MaybeStaffDep, next: str | None = None) -> Response:
    if staff is None:
        return redirect("/console/sign-in")
    if staff.second_factor_ok:
        return redirect(safe_next(next))
    return render(request, None, "console/accounts/code.html", next=safe_next(next), error=None)


@router.post("/sign-in/code")
async def code_given(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: MaybeStaffDep,
    code: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    # No CSRF field: a pending session opens no page, and the cookie is SameSite=Lax.
    if staff is None:
        return redirect("/console/sign-in")
    if staff.second_factor_ok:
        return redirect(safe_next(next))
    ip = address(request)
    checks: list[Check] = [(SIGN_IN_ADDRESS, (ip,)), (CODE_ACCOUNT, (str(staff.account.id),))]
    limits = limiter(request)
    wait = await limits.blocked(*checks)
    if wait:
        return too_many(request, wait)
    if not await service.check_code(session, settings, staff.account, code):
        await limits.fail(*checks)
        return render(
            request,
            None,
            "console/accounts/code.html",
            status=401,
            next=safe_next(next),
            error=N_("This code is not right, or it was used already. Enter the current code."),
        )
    await limits.forget(checks[1])
    # a new session for the full sign-in: the pending one's value is never promoted
    await service.close_session(session, staff.session_id)
    return await start_session(
        request, session, settings, staff.account, safe_next(next), second_factor_ok=True
    )


@router.post("/sign-out")
async def sign_out(session: SessionDep, staff: StaffDep) -> Response:
    await service.close_session(session, staff.session_id)
    response = redirect("/console/sign-in", N_("You have signed out."))
    clear_cookie(response)
    return response


# ---------------------------------------------------------------------------- OpenID Connect


def _provider(settings: Settings, name: str) -> OidcProvider | None:
    return next((p for p in settings.oidc_providers if p.name == name), None)


def _redirect_uri(settings: Settings, provider: OidcProvider) -> str:
    return f"{settings.base_url}/console/sign-in/oidc/{provider.name}/callback"


@router.get("/sign-in/oidc/{name}")
async def oidc_start(
    request: Request, settings: SettingsDep, name: str, next: str | None = None
) -> Response:
    """To the provider, with this sign-in's state, nonce and PKCE verifier kept in a sealed,
    short-lived cookie."""
    provider = _provider(settings, name)
    if provider is None:
        return error_page(request, 404, "")
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    try:
        url = await oidc.authorization_url(
            provider,
            _redirect_uri(settings, provider),
            state=state,
            nonce=nonce,
            verifier=verifier,
        )
    except oidc.OidcFailed as exc:
        log.warning("oidc_unavailable", provider=name, error=str(exc))
        return _sign_in_page(request, settings, next=next or "", status=503, error=OIDC_FAILED)
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    kept = {
        "p": name,
        "s": state,
        "n": nonce,
        "v": verifier,
        "next": safe_next(next),
        "t": int(time.time()),
    }
    response.set_cookie(
        OIDC_COOKIE,
        seal(settings.pepper(), OIDC_SEAL, json.dumps(kept)),
        max_age=OIDC_MINUTES * 60,
        path=PATH,
        httponly=True,
        # Lax: the provider's redirect back is a top-level GET, which carries it
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _kept(request: Request, settings: Settings, name: str) -> dict[str, str] | None:
    raw = request.cookies.get(OIDC_COOKIE)
    opened = unseal(settings.pepper(), OIDC_SEAL, raw) if raw else None
    if opened is None:
        return None
    kept = json.loads(opened)
    if kept.get("p") != name or time.time() - int(kept.get("t", 0)) > OIDC_MINUTES * 60:
        return None
    return {k: str(v) for k, v in kept.items()}


@router.get("/sign-in/oidc/{name}/callback")
async def oidc_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    name: str,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    provider = _provider(settings, name)
    if provider is None:
        return error_page(request, 404, "")
    ip = address(request)
    checks: list[Check] = [(SIGN_IN_ADDRESS, (ip,))]
    limits = limiter(request)
    wait = await limits.blocked(*checks)
    if wait:
        return too_many(request, wait)
    kept = _kept(request, settings, name)
    target = kept["next"] if kept else "/console"

    async def failed(reason: str) -> Response:
        log.info("oidc_refused", provider=name, reason=reason)
        await limits.fail(*checks)
        response = _sign_in_page(request, settings, next=target, status=401, error=OIDC_FAILED)
        response.delete_cookie(OIDC_COOKIE, path=PATH)
        return response

    if error or not code or not state:
        return await failed(f"the provider answered error={error!r}")
    if kept is None or not secrets.compare_digest(kept["s"], state):
        return await failed("no sign-in of this browser waits for this answer (state)")
    try:
        identity = await oidc.sign_in(
            provider,
            _redirect_uri(settings, provider),
            code=code,
            verifier=kept["v"],
            nonce=kept["n"],
        )
    except oidc.OidcFailed as exc:
        return await failed(str(exc))
    account = await service.oidc_account(
        session,
        provider,
        issuer=identity.issuer,
        subject=identity.subject,
        email=identity.email,
        email_verified=identity.email_verified,
    )
    if account is None:
        return await failed(f"no account may sign in as {identity.subject!r} of {name}")
    response = await start_session(
        request, session, settings, account, safe_next(target), second_factor_ok=True
    )
    response.delete_cookie(OIDC_COOKIE, path=PATH)
    return response
