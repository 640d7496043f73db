"""Proxy headers from trusted addresses, HSTS, ``Secure`` cookies, and the one rule for "is
this request secure" (issue 13, part 4).

Behind a TLS-terminating proxy the socket is plain HTTP from the proxy: without its
``X-Forwarded-Proto`` the app would believe every request is http (no ``Secure`` cookie, no
HSTS) and every client is the proxy (one rate-limit bucket for the whole world). So the
forwarded headers are believed, but only from ``settings.trusted_proxies`` (addresses or CIDR
networks): anyone else could write them and choose their own address and scheme. uvicorn's
``ProxyHeadersMiddleware`` (networks since uvicorn 0.31) rewrites the scope inside the app
(``etest serve`` turns uvicorn's own off), so every way of running the app (uvicorn, gunicorn,
the tests) behaves the same, and the access log, metrics and rate limits see the client.

A request is secure (:func:`is_secure`) when ``ETEST_BASE_URL`` is https or its scheme, after a
trusted proxy, is https. Every response to a secure request carries HSTS, and every cookie it
sets is ``Secure``: the cookies of ``/take`` and of the console ask :func:`is_secure` when they
are written, and :class:`Secured` adds the attribute to any other (a flash notice, a sign-in
state) so that no cookie set over https can later travel over plain http.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from etest.config import Settings

HSTS = b"strict-transport-security"
SET_COOKIE = b"set-cookie"


def secure_scope(settings: Settings, scope: Scope) -> bool:
    """The one rule: the public URL is https, or this request came over https (the socket's
    scheme, or a trusted proxy's ``X-Forwarded-Proto`` already applied to the scope)."""
    return settings.https or scope.get("scheme") in ("https", "wss")


def is_secure(connection: HTTPConnection) -> bool:
    """The request reached the service over https: its cookies must be ``Secure``."""
    return secure_scope(connection.app.state.settings, connection.scope)


def _with_secure(cookie: bytes) -> bytes:
    attributes = {part.strip().lower() for part in cookie.split(b";")[1:]}
    return cookie if b"secure" in attributes else cookie + b"; Secure"


class Secured:
    """HSTS on every response to a secure request (unless a route set its own), and
    ``Secure`` on every cookie such a response sets."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hsts = f"max-age={settings.hsts_max_age}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not secure_scope(self.settings, scope):
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _with_secure(value) if name.lower() == SET_COOKIE else value)
                    for name, value in message.get("headers", [])
                ]
                if self.settings.hsts_max_age and not any(n.lower() == HSTS for n, _ in headers):
                    headers.append((HSTS, self.hsts))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the security middleware to ``app`` (called once by the app factory). The proxy
    headers run first (added last), so everything inside sees the client's scheme and
    address."""
    app.add_middleware(Secured, settings=settings)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
