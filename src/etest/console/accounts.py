"""Console pages of staff accounts (docs/console/accounts.md):

* before sign-in: forgotten password (the same answer for every email), the links of the
  emails (``/console/welcome`` for an invitation, ``/console/password/reset``): choose a
  password, and be signed in;
* ``/console/account``: one's own name, password and TOTP second factor;
* ``/console/staff``: the accounts one manages (admins and superadmins): list, invite,
  disable/enable, resend an invitation, reset a second factor.

Every rule is in ``etest.staff.service``; these routes read forms and render."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from markupsafe import Markup

from etest.console.auth import (
    FORGOT_ADDRESS,
    FORGOT_EMAIL,
    address,
    limiter,
    start_session,
    too_many,
)
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep, write_cookie
from etest.deps import SessionDep, SettingsDep
from etest.errors import EtestError, Forbidden, NotFound
from etest.kit.pagination import Pagination
from etest.staff import service
from etest.staff.service import INVITATION, RESET, SignedIn

router = APIRouter(route_class=ConsoleRoute)

ROLE_NAMES = {
    "superadmin": N_("Superadmin"),
    "admin": N_("Admin"),
    "support": N_("Support"),
    "viewer": N_("Viewer"),
    "content_manager": N_("Content manager"),
}
STATUS_NAMES = {
    "active": N_("Active"),
    "invited": N_("Invited"),
    "disabled": N_("Disabled"),
}
PER_PAGE = 50


# ---------------------------------------------------------------------------- before sign-in


@router.get("/password/forgot")
async def forgot_page(request: Request) -> Response:
    return render(request, None, "console/accounts/forgot.html", email="", error=None)


@router.post("/password/forgot")
async def forgot(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    ip = address(request)
    checks = [(FORGOT_ADDRESS, (ip,)), (FORGOT_EMAIL, (service.normalise_email(email), ip))]
    limits = limiter(request)
    wait = await limits.blocked(*checks)
    if wait:
        return too_many(request, wait)
    await limits.fail(*checks)  # every request counts: each may send an email
    if email.strip():
        await service.request_password_reset(session, settings, email)
    return redirect(
        "/console/sign-in",
        N_(
            "If an account has this email, we have sent it a link to choose a new password. "
            "The link works for one hour."
        ),
    )


_LINKS = {
    INVITATION: ("/console/welcome", N_("Welcome to the eTest console"), N_("Set my password")),
    RESET: ("/console/password/reset", N_("Choose a new password"), N_("Save the new password")),
}


def _link_page(
    request: Request,
    purpose: str,
    ticket: str,
    *,
    account_email: str,
    name: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    action, title, button = _LINKS[purpose]
    return render(
        request,
        None,
        "console/accounts/set_password.html",
        status=status,
        purpose=purpose,
        action=action,
        title=title,
        button=button,
        ticket=ticket,
        account_email=account_email,
        name=name,
        error=error,
    )


def _dead_link(request: Request) -> Response:
    return render(
        request,
        None,
        "console/error.html",
        status=410,
        title=N_("This link no longer works"),
        detail=N_(
            "The link was used already, replaced by a newer one, or has expired. Ask for a new "
            "password link on the sign-in page, or ask your administrator to invite you again."
        ),
    )


async def _link_get(
    request: Request, session: SessionDep, settings: SettingsDep, purpose: str, ticket: str
) -> Response:
    account = await service.ticket_account(session, settings, ticket, purpose)
    if account is None:
        return _dead_link(request)
    return _link_page(request, purpose, ticket, account_email=account.email, name=account.name)


async def _link_post(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    purpose: str,
    ticket: str,
    password: str,
    password2: str,
) -> Response:
    account = await service.ticket_account(session, settings, ticket, purpose)
    if account is None:
        return _dead_link(request)
    error = None
    if password != password2:
        error = N_("The two passwords are not the same.")
    else:
        try:
            used = await service.use_ticket(session, settings, ticket, purpose, password)
        except EtestError as exc:
            error = exc.detail
        else:
            if used is None:
                return _dead_link(request)
            return await start_session(
                request,
                session,
                settings,
                used,
                "/console",
                second_factor_ok=not service.needs_second_factor(used),
            )
    return _link_page(
        request,
        purpose,
        ticket,
        account_email=account.email,
        name=account.name,
        error=error,
        status=422,
    )


@router.get("/welcome")
async def welcome_page(
    request: Request, session: SessionDep, settings: SettingsDep, ticket: str = ""
) -> Response:
    return await _link_get(request, session, settings, INVITATION, ticket)


@router.post("/welcome")
async def welcome(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ticket: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    password2: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    return await _link_post(request, session, settings, INVITATION, ticket, password, password2)


@router.get("/password/reset")
async def reset_page(
    request: Request, session: SessionDep, settings: SettingsDep, ticket: str = ""
) -> Response:
    return await _link_get(request, session, settings, RESET, ticket)


@router.post("/password/reset")
async def reset(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ticket: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    password2: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    return await _link_post(request, session, settings, RESET, ticket, password, password2)


# ---------------------------------------------------------------------------- own account


def _qr(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, border=4, light="#fff", title="QR code of the second factor", svgclass="qr"
    )
    return Markup(svg)  # noqa: S704 - segno's own SVG of our own URI


def _account_page(
    request: Request,
    staff: SignedIn,
    settings: SettingsDep,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    account = staff.account
    secret = service.totp_secret(settings, account) if account.totp_enabled_at is None else None
    return render(
        request,
        staff,
        "console/accounts/account.html",
        status=status,
        title=N_("Your account"),
        account=account,
        role_name=ROLE_NAMES.get(account.role, account.role),
        secret=secret,
        secret_spaced=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        if secret
        else "",
        qr=_qr(service.provisioning_uri(secret, account.email)) if secret else None,
        errors=errors or {},
    )


@router.get("/account")
async def account_page(request: Request, staff: StaffDep, settings: SettingsDep) -> Response:
    return _account_page(request, staff, settings)


@router.post("/account/profile")
async def account_profile(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        await service.update_profile(session, staff.account, name=name)
    except EtestError as exc:
        return _account_page(request, staff, settings, errors={"name": exc.detail}, status=422)
    return redirect("/console/account", N_("Your name is saved."))


@router.post("/account/password")
async def account_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    password2: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    error = None
    if password != password2:
        error = N_("The two new passwords are not the same.")
    else:
        try:
            if not await service.change_password(session, staff.account, current, password):
                error = N_("The current password is not right.")
        except EtestError as exc:
            error = exc.detail
    if error:
        return _account_page(request, staff, settings, errors={"password": error}, status=422)
    # every session ended with the old password: this browser gets a new one
    value = await service.open_session(
        session, settings, staff.account, second_factor_ok=True, ip=address(request)
    )
    response = redirect(
        "/console/account",
        N_("Your password is changed. Other browsers signed in as you have been signed out."),
    )
    write_cookie(request, response, value)
    return response


@router.post("/account/totp/start")
async def totp_start(
    request: Request, session: SessionDep, settings: SettingsDep, staff: StaffDep
) -> Response:
    service.start_totp(settings, staff.account)
    return redirect("/console/account#second-factor")


@router.post("/account/totp/confirm")
async def totp_confirm(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if not await service.confirm_totp(session, settings, staff.account, code):
        error = N_("This code is not right. Enter the code your app shows now.")
        return _account_page(request, staff, settings, errors={"totp": error}, status=422)
    return redirect(
        "/console/account",
        N_("The second factor is on: signing in asks for a code from your app from now on."),
    )


@router.post("/account/totp/disable")
async def totp_disable(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if not await service.disable_totp(session, settings, staff.account, code):
        error = N_("This code is not right. Enter the code your app shows now.")
        return _account_page(request, staff, settings, errors={"totp_off": error}, status=422)
    return redirect("/console/account", N_("The second factor is off."))


# ---------------------------------------------------------------------------- staff


def _choices(staff: SignedIn) -> list[tuple[str, str]]:
    return [(r, ROLE_NAMES[r]) for r in service.grantable_roles(staff.actor)]


@router.get("/staff")
async def staff_list(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    q: str = "",
    role: str = "",
    status: str = "",
    uic: str = "",
    page: int = 1,
) -> Response:
    error = None
    pagination = Pagination(page=max(1, min(page, 100_000)), per_page=PER_PAGE)
    try:
        total, rows = await service.list_accounts(
            session,
            staff.actor,
            pagination,
            q=q.strip()[:100],
            role=role,
            status=status,
            uic=uic.strip() or None,
        )
    except NotFound:
        total, rows = 0, []
        error = N_("No organization with this UIC is yours.")
    query = urllib.parse.urlencode(
        [(k, v) for k, v in (("q", q), ("role", role), ("status", status), ("uic", uic)) if v]
    )
    return render(
        request,
        staff,
        "console/accounts/staff_list.html",
        title=N_("Staff"),
        rows=rows,
        total=total,
        pager=_Page(pagination.page, max(1, -(-total // PER_PAGE)), total),
        base_query=query,
        q=q,
        role=role,
        status_value=status,
        uic=uic,
        error=error,
        role_names=ROLE_NAMES,
        status_names=STATUS_NAMES,
        may_invite=bool(service.grantable_roles(staff.actor)),
    )


class _Page:
    def __init__(self, page: int, pages: int, total: int) -> None:
        self.page, self.pages, self.total = page, pages, total


def _invite_page(
    request: Request,
    staff: SignedIn,
    form: dict[str, str],
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        staff,
        "console/accounts/invite.html",
        status=status,
        title=N_("Invite a staff member"),
        form=form,
        roles=_choices(staff),
        errors=errors or [],
        uic_required=not staff.actor.is_global,
    )


async def _own_uic(session: SessionDep, staff: SignedIn) -> str:
    if staff.account.organization_id is None:
        return ""
    view = await service.uic_of(session, staff.account.organization_id)
    return view or ""


@router.get("/staff/invite")
async def invite_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    if not service.grantable_roles(staff.actor):
        raise Forbidden("Your role may not invite staff.")
    form = {"email": "", "name": "", "role": "viewer", "uic": await _own_uic(session, staff)}
    return _invite_page(request, staff, form)


@router.post("/staff/invite")
async def invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    uic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = {"email": email, "name": name, "role": role, "uic": uic}
    try:
        account = await service.invite(
            session,
            settings,
            staff.actor,
            email=email,
            name=name,
            role=role,
            uic=uic.strip() or None,
        )
    except NotFound:
        errors = [N_("No organization with this UIC is yours.")]
        return _invite_page(request, staff, form, errors, status=422)
    except Forbidden:
        raise
    except EtestError as exc:
        return _invite_page(request, staff, form, [exc.detail], status=422)
    return redirect(
        f"/console/staff/{account.id}",
        N_("The invitation is on its way. The link in it works for seven days."),
    )


@router.get("/staff/{account_id}")
async def staff_page(
    request: Request, session: SessionDep, staff: StaffDep, account_id: uuid.UUID
) -> Response:
    view = await service.get_account(session, staff.actor, account_id)
    return render(
        request,
        staff,
        "console/accounts/staff_member.html",
        title=view.account.name or view.account.email,
        view=view,
        role_names=ROLE_NAMES,
        status_names=STATUS_NAMES,
    )


_ACTIONS = {
    "disable": N_("The account is disabled; its sessions have ended."),
    "enable": N_("The account is enabled again."),
    "resend": N_("A new invitation is on its way; the earlier link no longer works."),
    "reset-second-factor": N_("The second factor is removed: the next sign-in needs no code."),
}


@router.post("/staff/{account_id}/{action}")
async def staff_action(
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    account_id: uuid.UUID,
    action: str,
) -> Response:
    if action == "disable":
        await service.disable(session, staff.actor, account_id)
    elif action == "enable":
        await service.enable(session, staff.actor, account_id)
    elif action == "resend":
        await service.resend_invitation(session, settings, staff.actor, account_id)
    elif action == "reset-second-factor":
        await service.reset_second_factor(session, staff.actor, account_id)
    else:
        raise NotFound("No such action.")
    return redirect(f"/console/staff/{account_id}", _ACTIONS[action])
