"""Rendering of the candidate's pages: one Jinja2 environment, security headers, static URLs
with a content hash, and :class:`PageRoute`, which renders every error of its routes as an HTML
page (problem+json is for the API; a page never shows a stack trace)."""

from __future__ import annotations

import contextvars
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
from etest.kit.i18n import N_
from etest.web import embedding, language

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


#: The countdown's formats, translated on the page and handed to ``take.js`` as data.
DURATION_FORMATS = {
    "hm": N_("%(h)s h %(m)s min"),
    "ms": N_("%(m)s min %(s)s s"),
    "s": N_("%(s)s s"),
}


def duration(seconds: float) -> str:
    """Time left in words a screen reader says well: ``1 h 05 min``, ``4 min 09 s``, ``30 s``
    in the page's language (the same formats as the countdown in ``take.js``)."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    say = language.current().gettext
    if hours:
        return say(DURATION_FORMATS["hm"], h=hours, m=f"{minutes:02d}")
    if minutes:
        return say(DURATION_FORMATS["ms"], m=minutes, s=f"{secs:02d}")
    return say(DURATION_FORMATS["s"], s=secs)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["static_url"] = static_url


def _ltr(value: object) -> str:
    """A level or code (Latin letters and signs: ``A1+``) kept left to right inside the words
    of a right-to-left page (Unicode isolates; else it shows as ``+A1``)."""
    text = str(value)
    return f"\u2066{text}\u2069" if language.current().dir == "rtl" and text else text


def _gettext(message: str, **values: Any) -> str:
    """``_()`` of the templates: the message in the page's language (``web.language``)."""
    return language.current().gettext(message, **values)


def _ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    return language.current().ngettext(singular, plural, n, **values)


_env.globals["_"] = _gettext
_env.globals["gettext"] = _gettext
_env.globals["ngettext"] = _ngettext
_env.filters["plain"] = _plain
_env.filters["ltr"] = _ltr
_env.filters["duration"] = duration


def render(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    words = language.current()
    here = _here.get()
    page = {
        "lang": words.language,
        "dir": words.dir,
        "words": words,
        "languages": language.switch_links(here) if here else [],
        "embed": embedding.event(template, context),  # a framed attempt's event, if any
        **context,
    }
    html = _env.get_template(template).render(**page)
    sent = {
        **HEADERS,
        "Content-Language": words.language,
        # a framed attempt's frame-ancestors, without X-Frame-Options (docs/embedding.md)
        **embedding.headers(HEADERS["Content-Security-Policy"]),
        **(headers or {}),
    }
    return HTMLResponse(html, status_code=status, headers={k: v for k, v in sent.items() if v})


#: The path of the page being made, for the language switcher's way back.
_here: contextvars.ContextVar[str | None] = contextvars.ContextVar("etest_here", default=None)


_TITLES = {
    400: N_("Something is wrong with the request"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    409: N_("Please try again"),
    410: N_("No longer available"),
    413: N_("Too much data"),
    422: N_("Please check your answer"),
    429: N_("Too many tries"),
    500: N_("Something went wrong"),
    503: N_("Please try again in a moment"),
}


def error_page(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    back: str = "/take",
    back_text: str = N_("Enter a test token"),
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """An error as a page; ``code`` (a problem code, e.g. ``csrf-refused``) is shown as the
    reference a candidate can quote to support. The words are translated here: callers pass
    catalog messages (a service's English detail without a catalog entry stays English)."""
    say = language.current().gettext
    return render(
        "error.html",
        status=status,
        headers=headers,
        title=say(title or _TITLES.get(status, N_("Error"))),
        detail=say(detail),
        back=back,
        back_text=say(back_text),
        code=code,
    )


async def _html_error(request: Request, exc: Exception) -> HTMLResponse:
    if isinstance(exc, EtestError):
        return error_page(exc.status, exc.detail, headers=exc.headers())
    if isinstance(exc, StarletteHTTPException):
        return error_page(exc.status_code, N_("This page cannot be shown."))
    if isinstance(exc, IntegrityError):
        log.info("page_conflict", path=request.url.path, error=str(exc.orig))
        return error_page(
            409,
            N_(
                "Your request crossed another one (perhaps from a second tab or "
                "device). Please reload the page."
            ),
        )
    outage = unavailable(request, exc)
    if outage is not None:
        return error_page(
            outage.status,
            language.current().gettext(
                "The test service cannot reach its database for a moment. The answers you "
                "saw saved are kept: reload this page in %(seconds)s seconds.",
                seconds=outage.retry_after,
            ),
            code=outage.code,
            headers=outage.headers(),
        )
    log.error("page_error", path=request.url.path, exc_info=exc)
    return error_page(
        500,
        N_(
            "An unexpected error occurred and has been logged. Please reload "
            "the page in a moment; the answers you saw saved are kept."
        ),
    )


_HANDLERS: dict[Any, Callable[..., Any]] = {Exception: _html_error}


class PageRoute(APIRoute):
    """A route whose errors (raised by the route, its dependencies or the commit that follows
    it) are rendered by :func:`_html_error` instead of the application's problem+json
    handlers. The session still rolls back first: the error leaves the route as usual."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the page's words (web.language) and its path for the language switcher, set for
        # the route, its dependencies and its error page alike
        words = language.bind(language.words_for(scope))
        # the path only: a query may hold a token's code (``/take?token=``)
        here = _here.set(scope.get("path", "/"))
        frame = embedding.begin()  # a framed attempt's pages set it (web.embedding)
        try:
            # Starlette's per-route exception wrapper reads its handlers from this scope key.
            await super().handle(
                {**scope, "starlette.exception_handlers": (_HANDLERS, {})}, receive, send
            )
        finally:
            embedding.end(frame)
            _here.reset(here)
            language.unbind(words)
