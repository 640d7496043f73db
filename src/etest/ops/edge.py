"""Size limits at the edge, before anything is decoded (issue 13, part 1).

Two layers, because each sees what the other cannot:

* :class:`HeadLimitedHttpTools` (the HTTP protocol ``etest serve`` runs): bounds the request
  line plus headers while they arrive. httptools accumulates a header value by concatenating
  every network read to it (quadratic) and has no limit of its own, and uvicorn's
  ``h11_max_incomplete_event_size`` does nothing with httptools: a 21 MB bearer token cost 6 s
  of CPU before any ASGI code ran. A head past ``max_request_head_bytes`` is refused 431 and the
  connection closed, so it costs at most that many bytes plus one read.
* :class:`Edge` (pure ASGI middleware, the innermost of the service's, inside the access log):
  refuses an ``Authorization`` header over ``max_auth_header_bytes`` (431, before routing or any
  JWT decoding), and caps every request body by route (:data:`ROUTE_CAPS`): a ``Content-Length``
  over the cap is refused 413 at once and the body never read; a body without one (chunked) is
  counted as it arrives and refused 413 when it passes the cap, so the application never sees
  more than the cap. A request within its limits only pays one pass over its headers: no task,
  no copy, no wrapper around ``receive`` when the length is declared.

Both refusals are RFC 9457 problem+json with the stable codes ``header-too-large`` and
``payload-too-large``. A 413 closes the connection (``Connection: close``): the rest of the body
is still on the wire and the connection cannot carry another request; a 431 from the middleware
leaves a keep-alive connection usable (the request had no body to skip, or a declared one that
uvicorn discards).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from etest.config import Settings
from etest.errors import HeaderTooLarge, PayloadTooLarge, problem

log = structlog.get_logger(__name__)

#: Room for a multipart envelope around an upload (boundaries, part headers, the small form
#: fields beside the file such as ``override_reason``): the upload caps below are the file's
#: size, and the endpoint refuses a file over it with its own message; the edge only makes sure
#: nothing much larger is ever read.
FORM_SLACK = 64 * 1024


@dataclass(frozen=True)
class RouteCap:
    """Requests whose method is ``method`` and whose path matches ``pattern`` (whole path) may
    carry a body of at most ``settings.<setting>`` (+ :data:`FORM_SLACK` for multipart)."""

    method: str
    pattern: str
    setting: str
    why: str


#: The one table of body caps. Every route not listed here (the candidate API, the admin API,
#: the /take and /console forms) gets ``max_json_body_bytes``. An upload route added elsewhere
#: must be added here, or its uploads are capped at the JSON size.
ROUTE_CAPS: tuple[RouteCap, ...] = (
    RouteCap("POST", r"/api/v1/content/import", "max_content_bytes", "content import (API)"),
    RouteCap("POST", r"/console/content", "max_content_bytes", "content import (console)"),
    RouteCap("POST", r"/api/v1/candidates/import", "max_upload_bytes", "candidate import (API)"),
    RouteCap("POST", r"/console/candidates/import", "max_upload_bytes", "candidate import"),
    RouteCap("PUT", r"/api/v1/candidates/[^/]+/photo", "max_upload_bytes", "candidate photo"),
    RouteCap("POST", r"/console/organizations/[^/]+/logo", "max_upload_bytes", "logo"),
)


def _body(error: HeaderTooLarge | PayloadTooLarge) -> bytes:
    return bytes(problem(error.status, error.code, error.title, error.detail).body)


def _response_start(status: int, body: bytes) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            # a 413 leaves body bytes on the wire: the connection cannot carry another request
            *([(b"connection", b"close")] if status == 413 else []),
        ],
    }


class _BodyTooLarge(Exception):
    """Raised into whoever reads a body past its cap; :class:`Edge` answers 413 instead."""


class Edge:
    """The middleware (see the module docstring). ``caps`` is :data:`ROUTE_CAPS` resolved
    against the settings."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_auth_header_bytes: int,
        default_cap: int,
        caps: list[tuple[str, re.Pattern[str], int]],
    ) -> None:
        self.app = app
        self.max_auth = max_auth_header_bytes
        self.default_cap = default_cap
        self.caps = caps
        self.auth_refusal = _body(
            HeaderTooLarge(
                f"The Authorization header is longer than {max_auth_header_bytes} bytes."
            )
        )

    def cap_of(self, method: str, path: str) -> int:
        for cap_method, pattern, cap in self.caps:
            if method == cap_method and pattern.fullmatch(path):
                return cap
        return self.default_cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                if len(value) > self.max_auth:
                    log.info("header_too_large", header="authorization", bytes=len(value))
                    await _answer(send, 431, self.auth_refusal)
                    return
            elif name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:
            # no body (GET, HEAD, a bodiless POST): nothing to count
            await self.app(scope, receive, send)
            return
        cap = self.cap_of(scope["method"], scope["path"])
        if declared is not None and not chunked:
            # the protocol parser already checked it is a number and frames the body by it
            if int(declared) > cap:
                await self._too_large(send, cap, int(declared))
                return
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, cap)

    async def _too_large(self, send: Send, cap: int, size: int | None) -> None:
        log.info("payload_too_large", cap=cap, declared=size)
        await _answer(
            send, 413, _body(PayloadTooLarge(f"The request body is larger than {cap} bytes."))
        )

    async def _counted(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """A body of unknown length: count it as it arrives; past the cap, stop the reader (an
        exception out of ``receive``), drop whatever the application answers to that, and
        answer 413."""
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the application's answer to a body it never got in full
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(send, cap, None)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(_response_start(status, body))
    await send({"type": "http.response.body", "body": body})


def resolve_caps(settings: Settings) -> list[tuple[str, re.Pattern[str], int]]:
    """:data:`ROUTE_CAPS` with their byte counts from ``settings`` (uploads get the form's
    envelope on top)."""
    return [
        (c.method, re.compile(c.pattern), int(getattr(settings, c.setting)) + FORM_SLACK)
        for c in ROUTE_CAPS
    ]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the edge's middleware to ``app`` (called once by the app factory)."""
    app.add_middleware(
        Edge,
        max_auth_header_bytes=settings.max_auth_header_bytes,
        default_cap=settings.max_json_body_bytes,
        caps=resolve_caps(settings),
    )


# --- the HTTP protocol ------------------------------------------------------------------------


class HeadLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head (request line + headers):
    past ``config.h11_max_incomplete_event_size`` bytes (``etest serve`` sets it from
    ``max_request_head_bytes``, so the one setting bounds both of uvicorn's parsers) the
    request is refused 431 problem+json and the connection closed.

    Why not switch to h11, which has that bound built in: h11 parses in Python; httptools is
    uvicorn's default for speed. ``bench/hostile_input.py --throughput`` (bench/README.md,
    "Hostile input") found this subclass within the noise of plain httptools and h11 no
    faster (lower median) on the shared 2-core machine. The subclass keeps httptools and adds
    the bound, counting only while a head is incomplete (one integer add per network read).
    A pipelined request whose head starts inside a read is counted from that read's start:
    it may be refused up to one read (64 KiB) early; no browser pipelines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head: int = int(self.config.h11_max_incomplete_event_size or 32 * 1024)
        self.head_bytes = 0
        self.in_head = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_bytes = 0

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        # The whole read is counted when a head is in progress before or after it: a read that
        # completes a head counts nothing (in_head is false after the parser saw its end).
        super().data_received(data)
        if self.in_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head:
                self.in_head = False
                self.send_431()

    def send_431(self) -> None:
        body = _body(
            HeaderTooLarge(f"The request line and headers are longer than {self.max_head} bytes.")
        )
        log.info("head_too_large", bytes=self.head_bytes, limit=self.max_head)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
