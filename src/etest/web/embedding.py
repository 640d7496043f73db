"""A test embedded in a platform's page (``docs/embedding.md``).

An organization lists the origins that may frame its tests (``settings.frame_ancestors``; a
child without a list of its own uses its nearest ancestor's). When ``/take?token=…`` is opened
inside a frame (``Sec-Fetch-Dest: iframe``) and the organization has a list, the attempt is
*framed*: its cookie carries the list and the parent's origin, signed with the pepper (so no
page of the attempt needs a database read to know them, and a browser cannot widen them), and
is ``SameSite=None; Secure; Partitioned`` so that the browser sends it inside another site's
frame. Every page of a framed attempt then answers ``frame-ancestors <list>`` instead of
``'none'`` (and no ``X-Frame-Options``), and carries the data ``take.js`` posts to the parent
(``etest:started``, ``etest:answered``, ``etest:finished``), to the parent's origin only.

When the browser drops the cookie anyway (third-party cookies blocked, e.g. Safari), the first
page after the start finds none: with the start's short-lived hand-off in its URL it shows a
button that opens the same attempt in a new window, where the cookie is first-party.

The frame of the request being answered is kept in a context variable, set where the page reads
its cookie, so that :func:`etest.web.pages.render` (and the error pages) can send the headers
without every page passing it along."""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

#: How long the hand-off of a framed start may open the attempt in a new window.
HANDOFF_SECONDS = 15 * 60

#: The page templates and the event each one sends to the parent.
_EVENTS = {
    "start.html": "started",
    "thanks.html": "finished",
    "result_pt.html": "finished",
    "result_ct.html": "finished",
}


@dataclass(frozen=True)
class Frame:
    """Where an attempt may be framed: the organization's list, and the parent that framed
    the start (the only origin events are posted to; None: none is known)."""

    origins: tuple[str, ...]
    parent: str | None = None


@dataclass(frozen=True)
class _Current:
    frame: Frame
    attempt_id: uuid.UUID | None
    answered: int | None


_current: contextvars.ContextVar[_Current | None] = contextvars.ContextVar(
    "etest_frame", default=None
)


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL (None when it has none)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def framed_request(request: Request) -> bool:
    """The browser says this navigation loads a frame (Chromium, Firefox and Safari send
    ``Sec-Fetch-Dest``)."""
    return request.headers.get("sec-fetch-dest") in ("iframe", "frame")


def frame_for(request: Request, origins: list[str]) -> Frame | None:
    """The frame of a start: None unless the request loads a frame and the organization lists
    origins. The parent is the ``parent`` query parameter or the ``Referer``'s origin, when
    listed (else unknown: events are not sent, the page still works)."""
    if not origins or not framed_request(request):
        return None
    claimed = origin_of(request.query_params.get("parent")) or origin_of(
        request.headers.get("referer")
    )
    return Frame(tuple(origins), claimed if claimed in origins else None)


# ---------------------------------------------------------------------------- the cookie part


def _mac(pepper: bytes, attempt_id: uuid.UUID, body: str) -> str:
    mac = hmac.new(pepper, f"frame:{attempt_id}:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def seal(pepper: bytes, attempt_id: uuid.UUID, frame: Frame) -> str:
    """The frame as the cookie's third part: ``<base64 JSON>.<MAC>`` (no ``:`` or ``;``)."""
    data = json.dumps({"o": list(frame.origins), "p": frame.parent}, separators=(",", ":"))
    body = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
    return f"{body}.{_mac(pepper, attempt_id, body)}"


def unseal(pepper: bytes, attempt_id: uuid.UUID, sealed: str | None) -> Frame | None:
    """The frame a cookie carries, when its MAC is right."""
    if not sealed or "." not in sealed or len(sealed) > 3000:
        return None
    body, _, mac = sealed.partition(".")
    if not hmac.compare_digest(_mac(pepper, attempt_id, body), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        origins = tuple(str(o) for o in data["o"])
        parent = data.get("p")
    except (ValueError, KeyError, TypeError):
        return None
    return Frame(origins, str(parent) if parent else None)


# ---------------------------------------------------------------------------- this request


def begin() -> contextvars.Token[_Current | None]:
    """A page request starts unframed (:class:`etest.web.pages.PageRoute`; an in-process test
    client runs every request in one task, so nothing may carry over)."""
    return _current.set(None)


def end(token: contextvars.Token[_Current | None]) -> None:
    _current.reset(token)


def use(frame: Frame | None, attempt_id: uuid.UUID | None, answered: int | None = None) -> None:
    """The pages of this request belong to a framed attempt (``answered``: the position just
    answered, for the ``etest:answered`` event)."""
    _current.set(None if frame is None else _Current(frame, attempt_id, answered))


def answered_position(raw: str | None) -> int | None:
    """The ``a`` query parameter of the page after an answer."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 6 else None


def headers(csp: str) -> dict[str, str]:
    """The framed attempt's headers over the pages' own (``csp``): its origins as
    ``frame-ancestors`` and no ``X-Frame-Options`` (an empty value: dropped by ``render``)."""
    current = _current.get()
    if current is None or not current.frame.origins:
        return {}
    allowed = " ".join(current.frame.origins)
    return {
        "Content-Security-Policy": csp.replace(
            "frame-ancestors 'none'", f"frame-ancestors {allowed}"
        ),
        "X-Frame-Options": "",
    }


def event(template: str, context: dict[str, Any]) -> dict[str, Any] | None:
    """The data ``take.js`` posts to the parent from this page, or None (not framed, parent
    unknown, or a page that is no event)."""
    current = _current.get()
    if current is None or current.frame.parent is None or current.attempt_id is None:
        return None
    name = _EVENTS.get(template)
    if name is None and current.answered is None:
        return None
    attempt = context.get("attempt")
    kind = getattr(attempt, "kind", None)
    return {
        "parent": current.frame.parent,
        "attempt_id": str(current.attempt_id),
        "event": name or "",
        "answered": current.answered if template != "start.html" else None,
        "kind": str(kind) if kind else "",
    }


# ---------------------------------------------------------------------------- the fallback


def handoff(pepper: bytes, attempt_id: uuid.UUID, now: float | None = None) -> str:
    """A short-lived proof that this browser started ``attempt_id`` in a frame:
    ``<until>.<MAC>``, carried in the URL of the first page after the start."""
    until = int((now or time.time()) + HANDOFF_SECONDS)
    mac = hmac.new(pepper, f"handoff:{attempt_id}:{until}".encode(), hashlib.sha256).digest()
    return f"{until}.{base64.urlsafe_b64encode(mac[:18]).decode()}"


def handoff_ok(pepper: bytes, attempt_id: uuid.UUID, value: str | None) -> bool:
    if not value or "." not in value or len(value) > 100:
        return False
    until, _, _ = value.partition(".")
    if not until.isdigit() or int(until) < time.time():
        return False
    mac = hmac.new(pepper, f"handoff:{attempt_id}:{until}".encode(), hashlib.sha256).digest()
    expected = f"{until}.{base64.urlsafe_b64encode(mac[:18]).decode()}"
    return hmac.compare_digest(expected, value)
