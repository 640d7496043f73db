"""Credential flood: how much of a flood of wrong credentials from one address gets through.

The finding (issue 13): 17,363 wrong API keys, test-token codes and attempt secrets in 60 s,
none throttled. This floods a real ``etest serve`` process on loopback (its own SQLite database
in a temporary directory, migrated like ``etest db upgrade``) with ``--flood`` requests of each
kind, ``--concurrency`` at a time, with aiohttp:

- wrong API keys: ``GET /api/v1/organizations`` with ``Authorization: Bearer etk_…``;
- wrong token codes: ``POST /api/v1/attempts`` with a random code;
- wrong attempt secrets: ``GET /api/v1/attempts/<random id>/item`` with a random secret;

once with the rate limits off (``ETEST_RATE_LIMIT_ENABLED=false``, the state of the finding) and
once with them on (the defaults of ``etest.ops.ratelimits``), a fresh server for each kind so
that one kind's count does not refuse the next. Reported per kind: answered as a failure (401,
404: the guess was checked) against refused (429), the flood's rate, and what that rate means
over 60 s. With ``--redis URL`` the server counts in Redis (flushed first: give it a database of
its own, e.g. ``redis://127.0.0.1:6379/14``).

Then the cost the limits add to a request: one counter read (``Limiter.blocked``) in memory and
in Redis (when ``--redis`` is given), averaged over ``--reads`` reads. The candidate's delivery
hot path reads no counter at all (a wrong secret is checked on the failure path only); the
admin API and ``POST /api/v1/attempts`` read one or two.

Run:  .venv/bin/python bench/credential_flood.py                         (2,000 of each, ~1 min)
      .venv/bin/python bench/credential_flood.py --redis redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import httpx

from etest.kit.ratelimit import Limiter, Rule

PEPPER = "bench-pepper-not-secret"
FINDING = 17_363  # wrong credentials in 60 s, none throttled


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[str]:
    """``etest serve`` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    etest = str(Path(sys.executable).with_name("etest"))
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [etest, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"etest serve did not start:\n{log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


Request = Callable[[aiohttp.ClientSession, str], Awaitable[int]]


async def wrong_key(http: aiohttp.ClientSession, base: str) -> int:
    headers = {"Authorization": f"Bearer etk_{secrets.token_urlsafe(24)}"}
    async with http.get(f"{base}/api/v1/organizations", headers=headers) as resp:
        await resp.read()
        return resp.status


async def wrong_code(http: aiohttp.ClientSession, base: str) -> int:
    body = {"token": secrets.token_urlsafe(16)}
    async with http.post(f"{base}/api/v1/attempts", json=body) as resp:
        await resp.read()
        return resp.status


async def wrong_secret(http: aiohttp.ClientSession, base: str) -> int:
    headers = {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}
    async with http.get(f"{base}/api/v1/attempts/{uuid.uuid4()}/item", headers=headers) as resp:
        await resp.read()
        return resp.status


KINDS: dict[str, Request] = {
    "wrong API keys": wrong_key,
    "wrong token codes": wrong_code,
    "wrong attempt secrets": wrong_secret,
}


async def flood(
    base: str, request: Request, n: int, concurrency: int
) -> tuple[dict[int, int], float]:
    """``n`` requests, ``concurrency`` at a time; the count of each status and the seconds."""
    statuses: collections.Counter[int] = collections.Counter()
    left = n

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                statuses[await request(http, base)] += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return dict(statuses), time.monotonic() - started


async def flush(url: str) -> None:
    import coredis

    await coredis.Redis.from_url(url).flushdb()


async def read_cost(reads: int, redis_url: str | None) -> dict[str, float]:
    """Microseconds of one counter read (``Limiter.blocked`` of one rule with room)."""
    rule = Rule("60/minute", "bench-read")
    result: dict[str, float] = {}
    for where, url in (("memory", None), ("redis", redis_url)):
        if where == "redis" and not url:
            continue
        limiter = Limiter(url)
        await limiter.blocked((rule, ("warm-up",)))
        started = time.perf_counter()
        for i in range(reads):
            await limiter.blocked((rule, (f"10.0.{i % 256}.{i // 256 % 256}",)))
        result[where] = (time.perf_counter() - started) / reads * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=2000, help="requests of each kind")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--redis", default=None, help="count in this Redis (flushed first)")
    parser.add_argument("--reads", type=int, default=5000, help="counter reads timed")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    with tempfile.TemporaryDirectory(prefix="etest-flood-") as tmp_name:
        tmp = Path(tmp_name)
        env = {
            "ETEST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'etest.db'}",
            "ETEST_SECRET_KEY": PEPPER,
            "ETEST_VAR_DIR": str(tmp / "var"),
            "ETEST_LOG_LEVEL": "WARNING",
            "ETEST_WORKER_MODE": "external",
            "ETEST_SWEEP_INTERVAL": "0",
        }
        if args.redis:
            env["ETEST_REDIS_URL"] = args.redis
        etest = str(Path(sys.executable).with_name("etest"))
        subprocess.run(
            [etest, "db", "upgrade"], env={**os.environ, **env}, check=True, capture_output=True
        )
        print(
            f"{args.flood:,} requests of each kind, {args.concurrency} at a time, one address, "
            f"one etest serve on SQLite{' counting in ' + args.redis if args.redis else ''}\n"
        )
        print(
            f"{'limits':<7} {'kind':<22} {'checked (401/404)':>17} {'refused (429)':>13} "
            f"{'other':>6} {'req/s':>7} {'checked in 60 s at that rate':>29}"
        )
        for limits in ("off", "on"):
            for kind, request in KINDS.items():
                if args.redis:
                    asyncio.run(flush(args.redis))
                run_env = {**env, "ETEST_RATE_LIMIT_ENABLED": "true" if limits == "on" else "false"}
                with server(run_env, tmp / "server.log") as base:
                    statuses, seconds = asyncio.run(
                        flood(base, request, args.flood, args.concurrency)
                    )
                checked = statuses.get(401, 0) + statuses.get(404, 0)
                refused = statuses.get(429, 0)
                other = args.flood - checked - refused
                rate = args.flood / seconds
                # over 60 s at this rate: every guess checked when nothing is refused; with the
                # limits on, the window lets the limit's count through and refuses the rest
                in_60 = round(rate * 60) if refused == 0 else checked
                print(
                    f"{limits:<7} {kind:<22} {checked:>17,} {refused:>13,} {other:>6,} "
                    f"{rate:>7,.0f} {in_60:>29,}"
                )
        if args.redis:
            asyncio.run(flush(args.redis))
        costs = asyncio.run(read_cost(args.reads, args.redis))
    print(
        f"\nthe finding: {FINDING:,} wrong credentials in 60 s, all checked. One counter read: "
        + ", ".join(f"{where} {us:.1f} µs" for where, us in costs.items())
    )


if __name__ == "__main__":
    main()
