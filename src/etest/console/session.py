"""The console's browser credential and its CSRF token.

The cookie ``etest_console`` holds a random session value (HttpOnly, SameSite=Lax, path
``/console``, Secure when :func:`etest.ops.security.is_secure` says the console is reached over
https); the database keeps its digest (``etest.staff.service``). Every unsafe request (every
form) must carry the session's CSRF token, an HMAC of the session's id, in the field ``csrf`` or
the header ``X-CSRF-Token`` (htmx); without it the request is refused before the route runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request, Response

from etest.config import Settings
from etest.console.errors import SecondFactorRequired, SignInRequired
from etest.deps import SessionDep, SettingsDep
from etest.ops.security import is_secure
from etest.staff.errors import CsrfRefused
from etest.staff.service import SignedIn, signed_in

COOKIE = "etest_console"
PATH = "/console"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def write_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH)


def csrf_token(settings: Settings, session_id: str) -> str:
    mac = hmac.new(settings.pepper(), f"console-csrf:{session_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


async def csrf_ok(request: Request, settings: Settings, session_id: str) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(csrf_token(settings, session_id), sent)


async def _maybe_staff(
    request: Request, session: SessionDep, settings: SettingsDep
) -> SignedIn | None:
    value = request.cookies.get(COOKIE)
    return await signed_in(session, settings, value) if value else None


async def _staff(request: Request, session: SessionDep, settings: SettingsDep) -> SignedIn:
    found = await _maybe_staff(request, session, settings)
    if found is None:
        raise SignInRequired()
    if not found.second_factor_ok:
        raise SecondFactorRequired()
    if request.method not in SAFE and not await csrf_ok(request, settings, found.session_id):
        raise CsrfRefused("This form has expired or came from another site. Please try again.")
    request.state.actor = found.actor.subject
    return found


MaybeStaffDep = Annotated[SignedIn | None, Depends(_maybe_staff)]
#: A signed-in staff member with the second factor done; unsafe requests have passed CSRF.
StaffDep = Annotated[SignedIn, Depends(_staff)]
