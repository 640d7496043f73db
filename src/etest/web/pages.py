"""Rendering of the candidate's pages: one Jinja2 environment, security headers, static URLs
with a content hash, and :class:`PageRoute`, which renders every error of its routes as an HTML
page (problem+json is for the API; a page never shows a stack trace)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from etest.errors import EtestError, unavailable

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

log = structlog.get_logger(__name__)

#: Pages load nothing from elsewhere and run no inline script: the countdown reads its deadline
#: from data attributes. ``no-store`` so that Back re-asks the server for the current item.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "media-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@cache
def static_url(name: str) -> str:
    """``/static/<name>?v=<hash>``: browsers may cache assets forever, a change renames them."""
    data = (STATIC_DIR / name).read_bytes()
    return f"/static/{name}?v={hashlib.sha256(data).hexdigest()[:10]}"


def _plain(html: str | None) -> str:
    """Sanitised item HTML as plain text (for ``<option>``, which cannot hold markup)."""
    return Markup(html or "").striptags()  # noqa: S704 - only stripped to text, then escaped


def duration(seconds: float) -> str:
    """Time left in words a screen reader says well: ``1 h 05 min``, ``4 min 09 s``, ``30 s``
    (the same format as the countdown in ``take.js``)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["static_url"] = static_url


def _untranslated(message: str, **values: Any) -> str:
    """``_()`` until a page's language is known: the English source, ``%``-formatted."""
    return message % values if values else message


_env.globals["_"] = _untranslated
_env.globals["ngettext"] = lambda one, many, n, **values: (one if n == 1 else many) % {
    "n": n,
    **values,
}
_env.filters["plain"] = _plain
_env.filters["duration"] = duration


def render(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


_TITLES = {
    400: "Something is wrong with the request",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Please try again",
    410: "No longer available",
    413: "Too much data",
    422: "Please check your answer",
    429: "Too many tries",
    500: "Something went wrong",
    503: "Please try again in a moment",
}


def error_page(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    back: str = "/take",
    back_text: str = "Enter a test token",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """An error as a page; ``code`` (a problem code, e.g. ``csrf-refused``) is shown as the
    reference a candidate can quote to support."""
    return render(
        "error.html",
        status=status,
        headers=headers,
        title=title or _TITLES.get(status, "Error"),
        detail=detail,
        back=back,
        back_text=back_text,
        code=code,
    )


async def _html_error(request: Request, exc: Exception) -> HTMLResponse:
    if isinstance(exc, EtestError):
        return error_page(exc.status, exc.detail, headers=exc.headers())
    if isinstance(exc, StarletteHTTPException):
        return error_page(exc.status_code, "This page cannot be shown.")
    if isinstance(exc, IntegrityError):
        log.info("page_conflict", path=request.url.path, error=str(exc.orig))
        return error_page(
            409,
            "Your request crossed another one (perhaps from a second tab or "
            "device). Please reload the page.",
        )
    outage = unavailable(request, exc)
    if outage is not None:
        return error_page(
            outage.status,
            "The test service cannot reach its database for a moment. The answers you saw "
            f"saved are kept: reload this page in {outage.retry_after} seconds.",
            code=outage.code,
            headers=outage.headers(),
        )
    log.error("page_error", path=request.url.path, exc_info=exc)
    return error_page(
        500,
        "An unexpected error occurred and has been logged. Please reload "
        "the page in a moment; the answers you saw saved are kept.",
    )


_HANDLERS: dict[Any, Callable[..., Any]] = {Exception: _html_error}


class PageRoute(APIRoute):
    """A route whose errors (raised by the route, its dependencies or the commit that follows
    it) are rendered by :func:`_html_error` instead of the application's problem+json
    handlers. The session still rolls back first: the error leaves the route as usual."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's per-route exception wrapper reads its handlers from this scope key.
        await super().handle(
            {**scope, "starlette.exception_handlers": (_HANDLERS, {})}, receive, send
        )
