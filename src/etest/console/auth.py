"""Signing in and out of the console with email and password. (Invitations, password resets,
the TOTP step and OpenID Connect: ``console/accounts.py``.)"""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from etest.attempt.device import client_ip
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import MaybeStaffDep, StaffDep, clear_cookie, write_cookie
from etest.deps import SessionDep, SettingsDep
from etest.staff import service

router = APIRouter(route_class=ConsoleRoute)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


@router.get("/sign-in")
async def sign_in_page(request: Request, staff: MaybeStaffDep, next: str | None = None) -> Response:
    if staff is not None and staff.second_factor_ok:
        return redirect(safe_next(next))
    return render(request, None, "console/sign_in.html", next=safe_next(next), error=None, email="")


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    account = await service.authenticate(session, email, password)
    if account is None:
        return render(
            request,
            None,
            "console/sign_in.html",
            status=401,
            next=safe_next(next),
            email=email,
            error=N_("The email or the password is not right."),
        )
    pending = service.needs_second_factor(account)
    value = await service.open_session(
        session,
        settings,
        account,
        second_factor_ok=not pending,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    target = safe_next(next)
    if pending:
        target = "/console/sign-in/code?" + urllib.parse.urlencode({"next": target})
    response = redirect(target)
    write_cookie(request, response, value)
    return response


@router.post("/sign-out")
async def sign_out(session: SessionDep, staff: StaffDep) -> Response:
    await service.close_session(session, staff.session_id)
    response = redirect("/console/sign-in", N_("You have signed out."))
    clear_cookie(response)
    return response
