"""TLS behind a proxy (etest.ops.security): the client's scheme and address come from
``X-Forwarded-*`` only when the peer is a trusted proxy; a secure request gets HSTS and only
``Secure`` cookies (the candidate's and the console's); ``ETEST_BASE_URL=https://…`` makes every
response secure. Against a real ``etest serve`` on loopback for the headers on the wire, and
in process (an ``httpx.ASGITransport`` may name any peer address) for the untrusted peer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest.app import create_app
from etest.config import Settings
from tests.console.conftest import make_staff
from tests.ops.test_edge import Serve
from tests.web.conftest import WebCourse, web_course  # noqa: F401

pytestmark = pytest.mark.asyncio

HSTS = "max-age=31536000; includeSubDomains"
HTTPS = {"X-Forwarded-Proto": "https"}


class ProxiedServe(Serve):
    """``etest serve`` that trusts loopback (as a CIDR network) as its reverse proxy."""

    def _env(self) -> dict[str, str]:
        return {**super()._env(), "ETEST_TRUSTED_PROXIES": '["127.0.0.0/8"]'}


@pytest.fixture(scope="module")
def behind_proxy(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    server = ProxiedServe(settings, tmp_path_factory.mktemp("tls"))
    try:
        server.start()
        yield server.base
    finally:
        server.stop()


@asynccontextmanager
async def serving(
    settings: Settings, *, peer: str = "127.0.0.1", **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of another app on the session's database with some settings changed, seen
    from ``peer``."""
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def cookie_named(resp: httpx.Response, name: str) -> str:
    found = [c for c in resp.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie in {resp.headers.get_list('set-cookie')}"
    return found[0]


def is_secure_cookie(cookie: str) -> bool:
    return "secure" in {part.strip().lower() for part in cookie.split(";")[1:]}


async def test_https_at_a_trusted_proxy_gives_hsts_and_secure_cookies(
    behind_proxy: str,
    web_course: WebCourse,  # noqa: F811
) -> None:
    async with httpx.AsyncClient(base_url=behind_proxy) as c:
        form = await c.get("/take", headers=HTTPS)
        assert form.status_code == 200
        assert form.headers["strict-transport-security"] == HSTS
        assert is_secure_cookie(cookie_named(form, "etest_take_form"))
        token = await web_course.token("PT")
        started = await c.get("/take", params={"token": token}, headers=HTTPS)
        assert started.status_code == 303, started.text[:300]
        assert started.headers["strict-transport-security"] == HSTS
        assert is_secure_cookie(cookie_named(started, "etest_take"))
        # every response, the API's and its errors included
        missing = await c.get("/api/v1/candidates", headers=HTTPS)
        assert missing.status_code == 401
        assert missing.headers["strict-transport-security"] == HSTS
    async with httpx.AsyncClient(base_url=behind_proxy) as plain:
        resp = await plain.get("/take")
        assert "strict-transport-security" not in resp.headers
        assert not is_secure_cookie(cookie_named(resp, "etest_take_form"))


async def test_an_untrusted_peer_cannot_claim_https_or_an_address(settings: Settings) -> None:
    async with serving(settings, peer="203.0.113.9", trusted_proxies=["127.0.0.0/8"]) as c:
        resp = await c.get("/take", headers={**HTTPS, "X-Forwarded-For": "198.51.100.1"})
    assert resp.status_code == 200
    assert "strict-transport-security" not in resp.headers
    assert not is_secure_cookie(cookie_named(resp, "etest_take_form"))


async def _wrong_code(c: httpx.AsyncClient, address: str) -> int:
    resp = await c.get(
        "/take", params={"token": "no-such-token"}, headers={"X-Forwarded-For": address}
    )
    return resp.status_code


@pytest.mark.parametrize(("trusted", "other_address_status"), [(["127.0.0.1"], 404), ([], 429)])
async def test_rate_limits_count_the_forwarded_address_only_from_a_trusted_proxy(
    settings: Settings, trusted: list[str], other_address_status: int
) -> None:
    """Wrong codes are counted per client address: behind a trusted proxy, per forwarded
    address; otherwise X-Forwarded-For is the client's own words and every request counts
    against the peer."""
    async with serving(
        settings,
        trusted_proxies=trusted,
        rate_limit_enabled=True,
        rate_limits={"token-failures-address": "2/minute"},
    ) as c:
        assert [await _wrong_code(c, "198.51.100.7") for _ in range(3)] == [404, 404, 429]
        assert await _wrong_code(c, "198.51.100.8") == other_address_status


async def test_an_https_base_url_makes_every_response_secure(
    settings: Settings,
    web_course: WebCourse,  # noqa: F811
) -> None:
    token = await web_course.token("PT")
    async with serving(settings, base_url="https://etest.example") as c:
        started = await c.get("/take", params={"token": token})
        health = await c.get("/health")
    assert started.status_code == 303
    assert started.headers["strict-transport-security"] == HSTS
    assert is_secure_cookie(cookie_named(started, "etest_take"))
    assert health.headers["strict-transport-security"] == HSTS


async def test_hsts_max_age_zero_sends_none(settings: Settings) -> None:
    async with serving(settings, base_url="https://etest.example", hsts_max_age=0) as c:
        resp = await c.get("/take")
    assert "strict-transport-security" not in resp.headers
    assert is_secure_cookie(cookie_named(resp, "etest_take_form"))


async def test_the_console_cookie_is_secure_behind_a_trusted_proxy(
    settings: Settings, app: FastAPI
) -> None:
    staff = await make_staff(app, "superadmin", None)
    form = {"email": staff.email, "password": staff.password}
    async with serving(settings, trusted_proxies=["127.0.0.1"]) as c:
        await c.get("/console/sign-in", headers=HTTPS)
        signed = await c.post("/console/sign-in", data=form, headers=HTTPS)
        assert signed.status_code == 303, signed.text[:300]
        assert is_secure_cookie(cookie_named(signed, "etest_console"))
        assert signed.headers["strict-transport-security"] == HSTS
        # the same sign-in over plain http (no proxy header) gets a plain cookie
        c.cookies.clear()
        plain = await c.post("/console/sign-in", data=form)
        assert plain.status_code == 303
        assert not is_secure_cookie(cookie_named(plain, "etest_console"))
