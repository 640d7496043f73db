"""The language of the candidate's pages: the words of one render (:class:`Words`), how a
request chooses them, and the language switcher.

A page's language is, first to last: the switcher's choice in this browser (cookie
``etest_lang``, path ``/``, a year), the language the attempt started in (cookie
``etest_take_words``, written with the ``/take`` credential: the chain of
:mod:`etest.kit.language` over the token, the candidate and the organization, with the plan's
register and the organization's time zone), the browser's ``Accept-Language``, English. The
attempt's facts ride in a cookie because an item page is served on the hot path without
reading the attempt row; the cookie holds nothing secret (a changed value changes only the
words this browser shows).

:class:`~etest.web.pages.PageRoute` sets the request's :class:`Words` before the route runs;
a route that knows better (the attempt just started) replaces them with :func:`use`."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.requests import cookie_parser
from starlette.types import Scope

from etest.kit import i18n
from etest.kit.language import CATALOGS, DEFAULT, NAMES, SUPPORTED, accepted, direction, normalise
from etest.ops.security import is_secure

DOMAIN = "take"
LOCALE_DIR = CATALOGS

#: The switcher's choice: applied over the chain, on every page of this browser.
CHOICE_COOKIE = "etest_lang"
CHOICE_MAX_AGE = 365 * 24 * 3600
#: The attempt's language, register and time zone (``es young Europe/Madrid``), for ``/take``.
ATTEMPT_COOKIE = "etest_take_words"

#: Registers with their own wording of some messages (``msgctxt``); ``adult`` is the default.
REGISTERS = frozenset({"young"})


@cache
def _timezone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _zone(name: str | None) -> str:
    try:
        _timezone(name or "UTC")
    except (ValueError, KeyError, OSError):
        return "UTC"
    return name or "UTC"


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language.replace("-", "_"))


@dataclass(frozen=True)
class Words:
    """The words, dates and numbers of one page: its language, the plan's register and the
    organization's time zone."""

    language: str = DEFAULT
    register: str | None = None
    timezone: str = "UTC"
    _found: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_found", i18n.translations(LOCALE_DIR, DOMAIN, self.language))

    @property
    def dir(self) -> str:
        return direction(self.language)

    def gettext(self, message: str, **values: Any) -> str:
        return i18n.translator(self._found, self.register)(message, **values)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return i18n.plural_translator(self._found)(singular, plural, n, **values)

    def date(self, moment: datetime | date | None) -> str:
        """A date in words of the language (``6 de diciembre de 2026``), on the organization's
        calendar."""
        if moment is None:
            return ""
        if isinstance(moment, datetime):
            moment = moment.astimezone(_timezone(self.timezone)).date()
        return format_date(moment, format="long", locale=_locale(self.language))

    def datetime(self, moment: datetime | None) -> str:
        """A date and time in the organization's time zone, with the zone named."""
        if moment is None:
            return ""
        return format_datetime(
            moment,
            format="long",
            tzinfo=_timezone(self.timezone),
            locale=_locale(self.language),
        )

    def number(self, value: float | int) -> str:
        """A number as the language writes it (``87,5`` in Spanish), Latin digits."""
        return format_decimal(value, locale=_locale(self.language))


ENGLISH = Words()

_current: contextvars.ContextVar[Words] = contextvars.ContextVar("etest_words", default=ENGLISH)


def current() -> Words:
    """The words of the page being made (English outside a page's request)."""
    return _current.get()


def use(words: Words) -> None:
    """Make ``words`` the current page's (for the rest of this request)."""
    _current.set(words)


def bind(words: Words) -> contextvars.Token[Words]:
    return _current.set(words)


def unbind(token: contextvars.Token[Words]) -> None:
    _current.reset(token)


# ---------------------------------------------------------------------------- the chain


def _cookies(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            found.update(cookie_parser(value.decode("latin-1")))
    return found


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def attempt_words(value: str | None) -> Words | None:
    """The :data:`ATTEMPT_COOKIE`'s words, ``None`` when it names no supported language."""
    parts = (value or "").split()
    language = normalise(parts[0]) if parts else None
    if language is None:
        return None
    register = parts[1] if len(parts) > 1 and parts[1] in REGISTERS else None
    return Words(language, register, _zone(parts[2] if len(parts) > 2 else None))


def chosen(cookies: dict[str, str]) -> str | None:
    """The switcher's choice in this browser, if any."""
    return normalise(cookies.get(CHOICE_COOKIE))


def words_for(scope: Scope) -> Words:
    """The words of a page request: the switcher's choice, the attempt's language, the
    browser's, English (the register and time zone stay the attempt's whatever the language)."""
    cookies = _cookies(scope)
    attempt = (
        attempt_words(cookies.get(ATTEMPT_COOKIE))
        if scope.get("path", "").startswith("/take")
        else None
    )
    choice = chosen(cookies)
    if attempt is not None:
        return Words(choice or attempt.language, attempt.register, attempt.timezone)
    if choice is not None:
        return Words(choice)
    return Words(next(iter(accepted(_header(scope, b"accept-language"))), DEFAULT))


def for_attempt(
    request: Request, language: str, register: str | None, timezone: str | None
) -> Words:
    """The words of an attempt's pages in this browser (the switcher's choice over the
    attempt's language)."""
    reg = register if register in REGISTERS else None
    return Words(chosen(dict(request.cookies)) or language, reg, _zone(timezone))


def remember_attempt(request: Request, response: Response, words: Words, language: str) -> None:
    """Keep the attempt's language (not the switcher's), register and time zone for its
    pages (set with the ``/take`` credential, for as long)."""
    value = " ".join([language, words.register or "adult", words.timezone])
    response.set_cookie(
        ATTEMPT_COOKIE,
        value,
        max_age=24 * 3600,
        path="/take",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


# ---------------------------------------------------------------------------- the switcher

router = APIRouter(include_in_schema=False)


def switch_links(here: str) -> list[tuple[str, str, str]]:
    """The switcher's links from the page at ``here``: (language, its own name, href)."""
    back = quote(here, safe="/")
    return [(lang, NAMES[lang], f"/take/language?lang={lang}&back={back}") for lang in SUPPORTED]


def _local(back: str | None) -> str:
    """Only a path of this site's pages: never another site (``//x``, ``/\\x``, a scheme)."""
    if (
        back
        and back.startswith(("/take", "/verify/"))
        and not back.startswith(("//", "/\\"))
        and "\\" not in back
        and len(back) <= 300
    ):
        return back
    return "/take"


@router.get("/take/language")
async def switch(request: Request, lang: str = "", back: str = "") -> Response:
    """Remember a language for this browser's pages and go back to the page it was chosen on
    (a link, so it works without JavaScript; choosing again replaces it)."""
    response = RedirectResponse(
        _local(back), status_code=303, headers={"Cache-Control": "no-store"}
    )
    language = normalise(lang)
    if language is not None:
        response.set_cookie(
            CHOICE_COOKIE,
            language,
            max_age=CHOICE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_secure(request),
        )
    return response
