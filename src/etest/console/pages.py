"""Rendering of the console's pages: one Jinja2 environment (the console's templates first, then
the candidate pages', so an item preview uses the very macros ``/take`` does), the same security
headers and stylesheet as ``/take``, the navigation per role, notices after a redirect, and
:class:`ConsoleRoute`, which renders every error of its routes as a console page.

Rules for templates: no inline ``style`` attributes or scripts (the CSP forbids them: use
classes, SVG presentation attributes, ``<progress>``); every form posts ``csrf``
(``{{ csrf_field() }}``); every page has one ``<h1>``; words go through ``_()``."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import structlog
from babel.dates import format_datetime
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from etest.audit import repository as audit_repository
from etest.auth.actor import Actor
from etest.console.errors import SecondFactorRequired, SignInRequired
from etest.console.i18n import N_, translator
from etest.console.session import PATH, csrf_token
from etest.errors import EtestError, unavailable
from etest.staff.service import SignedIn
from etest.web.pages import HEADERS, TEMPLATES_DIR, duration, static_url
from etest.web.pages import _env as _take_env

log = structlog.get_logger(__name__)

HERE = TEMPLATES_DIR.parent.parent / "console" / "templates"
NOTICE_COOKIE = "etest_notice"
#: ``/take``'s headers, and htmx's requests to the site itself (``default-src 'none'`` would
#: refuse them: ``connect-src`` is the one source the console adds).
CONSOLE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"] + "; connect-src 'self'",
}


@dataclass(frozen=True)
class NavEntry:
    path: str
    label: str
    #: who sees the entry
    shown: Callable[[Actor], bool]


def _tenants(actor: Actor) -> bool:
    return actor.sees_tenants


def _writers(actor: Actor) -> bool:
    return actor.sees_tenants and actor.can("write")


def _content(actor: Actor) -> bool:
    return actor.can("manage_content")


def _operator(actor: Actor) -> bool:
    return actor.is_global


#: The console's sections, in the order of the navigation.
NAV: tuple[NavEntry, ...] = (
    NavEntry("/console", N_("Home"), lambda a: True),
    NavEntry("/console/organizations", N_("Organizations"), _tenants),
    NavEntry("/console/candidates", N_("Candidates"), _tenants),
    NavEntry("/console/tokens", N_("Tokens"), _tenants),
    NavEntry("/console/open-links", N_("Open links"), _writers),
    NavEntry("/console/results", N_("Results"), _tenants),
    NavEntry("/console/reports", N_("Reports"), _tenants),
    NavEntry("/console/certificates", N_("Certificates"), _tenants),
    NavEntry("/console/callbacks", N_("Callbacks"), _tenants),
    NavEntry("/console/audit", N_("Audit log"), audit_repository.may_read),
    NavEntry("/console/api-keys", N_("API keys"), _writers),
    NavEntry("/console/bank", N_("Item bank"), _content),
    NavEntry("/console/content", N_("Content imports"), _content),
    NavEntry("/console/assessments", N_("Assessments"), _content),
    NavEntry("/console/staff", N_("Staff"), lambda a: a.can("write")),
)


def when(value: datetime | None, language: str = "en", tz: str = "UTC") -> str:
    """A moment as people read it: ``6 Dec 2026, 11:40`` in the given time zone."""
    if value is None:
        return "–"
    return format_datetime(value, "d MMM y, HH:mm", tzinfo=ZoneInfo(tz), locale=language)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(HERE), jinja2.FileSystemLoader(TEMPLATES_DIR)]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.globals.update(_take_env.globals)
    env.globals["static_url"] = static_url
    env.filters.update(_take_env.filters)
    env.filters["duration"] = duration
    env.filters["when"] = when
    return env


_ENV = _env()


def take_notice(request: Request) -> str | None:
    raw = request.cookies.get(NOTICE_COOKIE)
    return urllib.parse.unquote(raw)[:300] if raw else None


def render(
    request: Request,
    staff: SignedIn | None,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A console page. ``staff`` None: a page before sign-in (no navigation)."""
    language = staff.account.language if staff else "en"
    _ = translator(language)
    settings = request.app.state.settings
    token = csrf_token(settings, staff.session_id) if staff else ""
    notice = take_notice(request)
    html = _ENV.get_template(template).render(
        _=_,
        gettext=_,
        language=language,
        staff=staff,
        actor=staff.actor if staff else None,
        nav=[e for e in NAV if staff and e.shown(staff.actor)] if staff else [],
        here=request.url.path,
        csrf=token,
        csrf_field=lambda: Markup('<input type="hidden" name="csrf" value="{}">').format(token),
        notice=notice,
        **context,
    )
    response = HTMLResponse(
        html, status_code=status, headers={**CONSOLE_HEADERS, **(headers or {})}
    )
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path=PATH)
    return response


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``url`` (Post/Redirect/Get), with a sentence shown once on the next page."""
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    if notice:
        response.set_cookie(
            NOTICE_COOKIE,
            urllib.parse.quote(notice[:300]),
            max_age=60,
            path=PATH,
            httponly=True,
            samesite="lax",
        )
    return response


def download(data: bytes, filename: str, media_type: str) -> Response:
    quoted = urllib.parse.quote(filename)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


_TITLES = {
    400: N_("Something is wrong with the request"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    409: N_("Please try again"),
    413: N_("Too much data"),
    422: N_("Please check the form"),
    429: N_("Too many tries"),
    500: N_("Something went wrong"),
    503: N_("Please try again in a moment"),
}

#: One sentence for every 404: a page of another organization reads exactly like a missing one.
NOT_FOUND = N_(
    "There is no such page, or it belongs to an organization outside yours. Check the address, "
    "or find what you need from the menu."
)


UNAVAILABLE = N_(
    "The console cannot reach its database for a moment. Try again in a few seconds; if you "
    "were saving a change, check whether it was saved."
)


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        None,
        "console/error.html",
        status=status,
        headers=headers,
        title=_TITLES.get(status, N_("Error")),
        detail=NOT_FOUND if status == 404 else detail,
    )


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        "/console/sign-in?" + urllib.parse.urlencode({"next": target}), status_code=303
    )


async def _console_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        return sign_in_redirect(request)
    if isinstance(exc, SecondFactorRequired):
        return RedirectResponse("/console/sign-in/code", status_code=303)
    if isinstance(exc, EtestError):
        return error_page(request, exc.status, exc.detail, exc.headers())
    if isinstance(exc, RequestValidationError):
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return error_page(request, 422, f"Please check these fields: {fields}.")
    if isinstance(exc, StarletteHTTPException):
        return error_page(request, exc.status_code, "This page cannot be shown.")
    if isinstance(exc, IntegrityError):
        log.info("console_conflict", path=request.url.path, error=str(exc.orig))
        return error_page(
            request, 409, "Your change crossed another one. Reload the page and try again."
        )
    outage = unavailable(request, exc)
    if outage is not None:
        return error_page(request, outage.status, UNAVAILABLE, outage.headers())
    log.error("console_error", path=request.url.path, exc_info=exc)
    return error_page(
        request, 500, "An unexpected error occurred and has been logged. Please try again."
    )


_HANDLERS: dict[Any, Callable[..., Any]] = {Exception: _console_error}


class ConsoleRoute(APIRoute):
    """A console route: its errors (route, dependencies, the commit after it) become console
    pages, a missing session becomes the sign-in page."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().handle(
            {**scope, "starlette.exception_handlers": (_HANDLERS, {})}, receive, send
        )
