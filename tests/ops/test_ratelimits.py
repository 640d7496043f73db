"""Rate limits (etest.ops.ratelimits over etest.kit.ratelimit): failed credentials per client
address (API keys, SSO tokens, attempt secrets), wrong token codes per address and starts per
token on ``POST /api/v1/attempts``; every refusal a 429 ``too-many-requests`` problem with
``Retry-After``.

In process, on apps of their own with small limits (an ``httpx.ASGITransport`` names the peer
address); in memory and in Redis. Redis: two real server processes on one Redis database share
their counts, and a Redis that goes away (a ``redis-server`` of the test's own, killed) leaves
the limits counting in memory, then back in Redis when it returns.

Redis must be running (CI starts it; locally: ``redis-server --daemonize yes --bind 127.0.0.1
-::1 --port 6379 --save "" --appendonly no``): these tests fail, they do not skip, without it.
They use Redis database ``ETEST_TEST_REDIS_DB`` alone (default 13 on SQLite, 12 on PostgreSQL),
flushed before and after.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import coredis
import httpx
import pytest
import structlog
from fastapi import FastAPI
from starlette.requests import Request

from etest.app import create_app
from etest.config import Settings
from etest.console import auth as console_auth
from etest.kit import ratelimit
from etest.kit.ratelimit import Limiter, Rule
from etest.ops import ratelimits
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers, create_candidate
from tests.support.server import Server, free_port

#: CI runs the suite on SQLite and on PostgreSQL side by side, against one Redis: each run has a
#: database of its own (the flush of one must not empty the other's counts, nor their failures
#: from 127.0.0.1 add up)
REDIS_DB = int(
    os.environ.get(
        "ETEST_TEST_REDIS_DB", "12" if os.environ.get("ETEST_TEST_DATABASE_URL") else "13"
    )
)
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
SMALL = {
    "credential-failures-address": "3/minute",
    "token-failures-address": "3/minute",
    "attempt-starts-token": "2/hour",
}


# ---------------------------------------------------------------------------- fixtures


async def _flush(url: str) -> None:
    redis = coredis.Redis.from_url(url)
    try:
        await redis.flushdb()
    except coredis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"Redis is not running at {url} ({exc}); start it: redis-server --daemonize yes "
            '--bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
        )


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """This module's Redis database, empty."""
    await _flush(REDIS_URL)
    yield REDIS_URL
    await _flush(REDIS_URL)


@pytest.fixture(scope="module")
async def course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(app, client, su)


async def fresh_token(client: httpx.AsyncClient, course: Course, type_: str = "PT") -> str:
    """A token of a new candidate (a candidate has one live token of a kind)."""
    candidate = await create_candidate(client, course.admin, uic=course.uic)
    return await course.token(client, type_, "A1" if type_ == "CT" else None, candidate)


@asynccontextmanager
async def running(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """Another app on the session's database, the limits on and small (unless ``changes``
    says otherwise)."""
    changes = {"rate_limit_enabled": True, "rate_limits": SMALL, **changes}
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        yield application


def client_of(application: FastAPI, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=application, client=(peer, 40000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_too_many(resp: httpx.Response) -> int:
    """A 429 problem ``too-many-requests`` with a ``Retry-After`` in seconds; returns it."""
    assert resp.status_code == 429, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"] == "/errors/too-many-requests"
    wait = int(resp.headers["retry-after"])
    assert 1 <= wait <= 3600
    return wait


WRONG_KEY = {"Authorization": "Bearer etk_wrong0000000000000000000000"}


# ---------------------------------------------------------------------------- the limiter


@pytest.mark.parametrize("where", ["memory", "redis"])
async def test_the_limiter_counts_failures_and_forgets(where: str, redis_url: str) -> None:
    limiter = Limiter(redis_url if where == "redis" else None)
    rule = Rule("3/minute", f"test-{uuid.uuid4().hex}")
    check = (rule, ("10.0.0.1",))
    assert await limiter.blocked(check) == 0
    for _ in range(3):
        await limiter.fail(check)
    assert 1 <= await limiter.blocked(check) <= 60
    assert await limiter.blocked((rule, ("10.0.0.2",))) == 0
    await limiter.forget(check)
    assert await limiter.blocked(check) == 0
    if where == "redis":  # counted in Redis, not in this process
        redis = coredis.Redis.from_url(redis_url)
        await limiter.fail(check)
        assert [k async for k in redis.scan_iter(match=f"{ratelimit.KEY_PREFIX}:*")]


def test_rate_limits_settings_are_checked(settings: Settings) -> None:
    ratelimits.check(settings.model_copy(update={"rate_limits": SMALL}))
    with pytest.raises(ValueError, match="unknown rule 'api-calls'"):
        ratelimits.check(settings.model_copy(update={"rate_limits": {"api-calls": "5/minute"}}))
    with pytest.raises(ValueError, match="not a limit"):
        ratelimits.check(
            settings.model_copy(update={"rate_limits": {"attempt-starts-token": "lots"}})
        )


async def test_the_console_counts_in_the_apps_one_limiter(settings: Settings) -> None:
    async with running(settings) as application:
        request = Request({"type": "http", "app": application, "headers": []})
        assert console_auth.limiter(request) is ratelimits.limiter(request)


# ---------------------------------------------------------------------------- credentials


async def test_wrong_api_keys_from_one_address_are_refused_before_the_lookup(
    settings: Settings, su: Headers
) -> None:
    async with (
        running(settings) as application,
        client_of(application) as guesser,
        client_of(application, "198.51.100.9") as other,
    ):
        for _ in range(3):
            resp = await guesser.get("/api/v1/organizations", headers=WRONG_KEY)
            assert resp.status_code == 401, resp.text
        assert_too_many(await guesser.get("/api/v1/organizations", headers=WRONG_KEY))
        # checked before the key is looked up: a right key from that address waits too
        assert_too_many(await guesser.get("/api/v1/organizations", headers=su))
        # another address is not affected, and a right key is never counted
        for _ in range(5):
            assert (await other.get("/api/v1/organizations", headers=su)).status_code == 200
        resp = await other.get("/api/v1/organizations", headers=WRONG_KEY)
        assert resp.status_code == 401
        # no credential at all is no guess: not counted, still 401
        assert (await guesser.get("/api/v1/organizations")).status_code == 401


async def test_wrong_sso_tokens_count_against_the_address(settings: Settings) -> None:
    async with running(settings) as application, client_of(application) as guesser:
        bad = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}
        for _ in range(2):
            assert (await guesser.get("/api/v1/organizations", headers=bad)).status_code == 401
        # API keys and SSO tokens share the address's count
        resp = await guesser.get("/api/v1/organizations", headers=WRONG_KEY)
        assert resp.status_code == 401
        assert_too_many(await guesser.get("/api/v1/organizations", headers=bad))


async def test_wrong_attempt_secrets_are_counted_and_a_right_one_always_works(
    settings: Settings, course: Course
) -> None:
    async with running(settings) as application, client_of(application) as candidate:
        token = await fresh_token(candidate, course, "CT")
        started = await candidate.post("/api/v1/attempts", json={"token": token})
        assert started.status_code == 201, started.text
        attempt = started.json()["attempt_id"]
        right = {"Authorization": f"Bearer {started.json()['secret']}"}
        wrong = {"Authorization": "Bearer " + "A" * 32}
        paths = [
            ("GET", f"/api/v1/attempts/{attempt}"),
            ("GET", f"/api/v1/attempts/{attempt}/item"),
            ("POST", f"/api/v1/attempts/{attempt}/responses"),
        ]
        for method, path in paths:
            body = {"position": 1, "answer": "x"} if method == "POST" else None
            resp = await candidate.request(method, path, headers=wrong, json=body)
            assert resp.status_code == 404, resp.text
        resp = await candidate.post(f"/api/v1/attempts/{attempt}/finish", headers=wrong)
        assert_too_many(resp)
        # read on the failure path only: the candidate with the right secret is served
        assert (await candidate.get(f"/api/v1/attempts/{attempt}/item", headers=right)).is_success
        assert (await candidate.get(f"/api/v1/attempts/{attempt}", headers=right)).is_success
        # and the same address's API calls with a wrong key are refused (one count)
        assert_too_many(await candidate.get("/api/v1/organizations", headers=WRONG_KEY))


# ---------------------------------------------------------------------------- token entry


async def test_wrong_token_codes_from_one_address_are_refused(
    settings: Settings, course: Course
) -> None:
    async with (
        running(settings) as application,
        client_of(application) as guesser,
        client_of(application, "198.51.100.9") as other,
    ):
        for n in range(3):
            resp = await guesser.post("/api/v1/attempts", json={"token": f"WRONG{n:017d}"})
            assert resp.json()["type"] == "/errors/token-not-found", resp.text
        assert_too_many(await guesser.post("/api/v1/attempts", json={"token": "W" * 22}))
        # checked before the lookup: a right code from that address waits as well
        token = await fresh_token(other, course)
        assert_too_many(await guesser.post("/api/v1/attempts", json={"token": token}))
        assert (await other.post("/api/v1/attempts", json={"token": token})).status_code == 201


async def test_starts_per_token_are_limited(settings: Settings, course: Course) -> None:
    async with (
        running(settings) as application,
        client_of(application) as phone,
        client_of(application, "198.51.100.9") as laptop,
    ):
        token = await fresh_token(phone, course)
        assert (await phone.post("/api/v1/attempts", json={"token": token})).status_code == 201
        assert (await laptop.post("/api/v1/attempts", json={"token": token})).status_code == 200
        # the token's count, whatever the address
        assert_too_many(await phone.post("/api/v1/attempts", json={"token": token}))
        assert_too_many(await laptop.post("/api/v1/attempts", json={"token": " " + token}))
        other = await fresh_token(phone, course)
        assert (await phone.post("/api/v1/attempts", json={"token": other})).status_code == 201


async def test_limits_off_refuse_nothing(settings: Settings, course: Course) -> None:
    async with (
        running(settings, rate_limit_enabled=False) as application,
        client_of(application) as guesser,
    ):
        for _ in range(6):
            resp = await guesser.get("/api/v1/organizations", headers=WRONG_KEY)
            assert resp.status_code == 401
            resp = await guesser.post("/api/v1/attempts", json={"token": "W" * 22})
            assert resp.status_code == 404
        token = await fresh_token(guesser, course)
        for _ in range(4):
            assert (await guesser.post("/api/v1/attempts", json={"token": token})).is_success


# ---------------------------------------------------------------------------- Redis


class RedisServer(Server):
    """A real eTest process counting in ``redis_url``, with the small limits."""

    def __init__(self, settings: Settings, log_dir: Path, redis_url: str) -> None:
        super().__init__(settings, log_dir)
        self.redis_url = redis_url

    def _env(self) -> dict[str, str]:
        import json

        return {
            **super()._env(),
            "ETEST_REDIS_URL": self.redis_url,
            "ETEST_RATE_LIMIT_ENABLED": "true",
            "ETEST_RATE_LIMITS": json.dumps(SMALL),
        }


async def test_two_processes_share_their_counts_in_redis(
    settings: Settings, app: FastAPI, redis_url: str, tmp_path: Path
) -> None:
    one = RedisServer(settings, tmp_path, redis_url)
    two = RedisServer(settings, tmp_path, redis_url)
    try:
        await asyncio.gather(one.astart(), two.astart())
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(3):
                resp = await http.get(f"{one.base}/api/v1/organizations", headers=WRONG_KEY)
                assert resp.status_code == 401, resp.text
            # the other process never saw a failure from this address, yet refuses it
            assert_too_many(await http.get(f"{two.base}/api/v1/organizations", headers=WRONG_KEY))
            assert_too_many(await http.get(f"{one.base}/api/v1/organizations", headers=WRONG_KEY))
    finally:
        one.stop()
        two.stop()


class OwnRedis:
    """A ``redis-server`` of a test's own on a free port, which the test may kill and start
    again (empty: it keeps nothing)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install redis-server)"
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        self.argv += ["--appendonly", "no", "--dir", str(directory)]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


async def _until_up(url: str) -> None:
    redis = coredis.Redis.from_url(url)
    for _ in range(100):
        try:
            await redis.ping()
            return
        except coredis.exceptions.ConnectionError:
            await asyncio.sleep(0.05)
    pytest.fail(f"redis-server at {url} did not start")


async def test_without_redis_the_limits_count_in_memory_and_come_back(
    own_redis: OwnRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_redis.url
    await _until_up(url)
    monkeypatch.setattr(ratelimit, "RETRY_REDIS_AFTER", 0.0)  # try Redis again at once
    limiter = Limiter(url)
    rule = Rule("3/minute", "outage")
    check = (rule, ("10.0.0.1",))
    await limiter.fail(check)  # one failure in Redis
    # Redis goes away: requests are neither refused nor let through unlimited
    own_redis.kill()
    with structlog.testing.capture_logs() as logs:
        assert await limiter.blocked(check) == 0
        for _ in range(3):
            await limiter.fail(check)
        assert await limiter.blocked(check) >= 1  # the memory's count (3) is full
        await limiter.fail(check)
    down = [e for e in logs if e["event"] == "rate_limit_redis_down"]
    assert len(down) == 1, logs  # one warning for the whole outage
    assert down[0]["log_level"] == "warning"
    # Redis is back (empty: it kept nothing): counted there again, and that is said once
    own_redis.start()
    await _until_up(url)
    with structlog.testing.capture_logs() as logs:
        assert await limiter.blocked(check) == 0  # the memory's full count is not used
        for _ in range(3):
            await limiter.fail(check)
        assert await limiter.blocked(check) >= 1
    assert [e["event"] for e in logs] == ["rate_limit_redis_back"]


async def test_an_app_whose_redis_is_down_still_limits(settings: Settings) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with running(settings, redis_url=dead) as application, client_of(application) as guesser:
        for _ in range(3):
            resp = await guesser.get("/api/v1/organizations", headers=WRONG_KEY)
            assert resp.status_code == 401, resp.text
        assert_too_many(await guesser.get("/api/v1/organizations", headers=WRONG_KEY))
