"""Counting failures against limits, for sign-in and anything else a guesser could hammer
(the ``limits`` library, moving windows).

A :class:`Limiter` holds its storage: the memory of this process by default, or Redis when a
``redis://`` URL is given (then every process of a deployment counts together; the
``limits[async-redis]`` extra, i.e. coredis, must be installed). A rule is checked *before* the
guarded work with :meth:`Limiter.blocked` and charged only for a failure with
:meth:`Limiter.fail`, so people who get it right are never slowed down, and a guesser is refused
before any password is hashed.

Redis unreachable: the limiter counts in this process's memory meanwhile (it neither lets every
guess through nor refuses everyone), logs one warning per outage and one line when Redis answers
again, and tries Redis again every :data:`RETRY_REDIS_AFTER` seconds. Failing closed would turn
a Redis outage into an outage of every request that carries a credential; failing open would
leave sign-in passwords unthrottled for as long as Redis is down. Per process, a deployment of
N processes allows up to N times a limit during the outage; counts made meanwhile are not copied
to Redis.

Usage::

    PER_ADDRESS = Rule("50/15 minutes", "sign-in-address")
    wait = await limiter.blocked((PER_ADDRESS, (ip,)), (PER_EMAIL, (email, ip)))
    if wait: ... answer 429 with Retry-After: wait
    ... on a failure: await limiter.fail((PER_ADDRESS, (ip,)), (PER_EMAIL, (email, ip)))
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

log = structlog.get_logger(__name__)

#: Seconds a Redis command may take (connecting included) before the limiter counts in memory:
#: a check sits in front of a request, so a Redis that stopped answering must not hold it.
REDIS_TIMEOUT = 0.5
#: Seconds between two tries of a Redis that failed (in between, no request waits on it).
RETRY_REDIS_AFTER = 5.0
#: Prefix of every key in Redis (``limits``' default is ``LIMITS``, shared with other apps).
KEY_PREFIX = "etest-limits"

T = TypeVar("T")
#: one operation of a strategy on one rule and its keys
Op = Callable[["MovingWindowRateLimiter", "Rule", tuple[str, ...]], Awaitable[T]]


@dataclass(frozen=True)
class Rule:
    """``limit`` in the ``limits`` notation (``"10/15 minutes"``) under a namespace of its own."""

    limit: str
    namespace: str
    item: RateLimitItem = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", parse(self.limit))


Check = tuple[Rule, tuple[str, ...]]


def _redis(redis_url: str) -> Storage:
    uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    storage = storage_from_string(
        uri,
        key_prefix=KEY_PREFIX,
        connect_timeout=REDIS_TIMEOUT,
        stream_timeout=REDIS_TIMEOUT,
    )
    assert isinstance(storage, Storage)
    return storage


def _redacted(redis_url: str) -> str:
    """The URL without a password, for the log."""
    scheme, _, rest = redis_url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


class Limiter:
    """Failure counters under moving windows; one per process (the app keeps it)."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.memory = MovingWindowRateLimiter(MemoryStorage())
        self.redis_url = redis_url
        self.redis: MovingWindowRateLimiter | None = None
        #: what a Redis that is down or too slow raises
        self._redis_errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        if redis_url:
            storage = _redis(redis_url)
            self.redis = MovingWindowRateLimiter(storage)
            base = storage.base_exceptions
            self._redis_errors += base if isinstance(base, tuple) else (base,)
        #: monotonic time before which Redis is not tried again (0: Redis is up)
        self._redis_down_until = 0.0
        self._redis_down = False

    @property
    def storage(self) -> Storage:
        """Where the counts are kept (Redis when configured, even while it is down)."""
        return (self.redis or self.memory).storage

    async def _run(self, op: Op[T], rule: Rule, keys: tuple[str, ...]) -> T:
        """``op`` on Redis when configured and up, otherwise on this process's memory."""
        if self.redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                async with asyncio.timeout(2 * REDIS_TIMEOUT):
                    result = await op(self.redis, rule, keys)
            except self._redis_errors as exc:
                self._redis_down_until = time.monotonic() + RETRY_REDIS_AFTER
                if not self._redis_down:
                    self._redis_down = True
                    log.warning(
                        "rate_limit_redis_down",
                        redis=_redacted(self.redis_url or ""),
                        error=f"{type(exc).__name__}: {exc}",
                        fallback="memory of this process",
                        retry_seconds=RETRY_REDIS_AFTER,
                    )
            else:
                if self._redis_down:
                    self._redis_down = False
                    log.warning("rate_limit_redis_back", redis=_redacted(self.redis_url or ""))
                return result
        return await op(self.memory, rule, keys)

    async def blocked(self, *checks: Check) -> int:
        """0 when every check has room for one more failure; otherwise the seconds until the
        fullest window has room again (at least 1): the ``Retry-After``."""
        wait = 0
        for rule, keys in checks:
            wait = max(wait, await self._run(_wait, rule, keys))
        return wait

    async def fail(self, *checks: Check) -> None:
        """Count one failure against every check."""
        for rule, keys in checks:
            await self._run(_hit, rule, keys)

    async def forget(self, *checks: Check) -> None:
        """Clear the counters (e.g. the email's after a successful sign-in)."""
        for rule, keys in checks:
            await self._run(_clear, rule, keys)


async def _wait(strategy: MovingWindowRateLimiter, rule: Rule, keys: tuple[str, ...]) -> int:
    if await strategy.test(rule.item, rule.namespace, *keys):
        return 0
    stats = await strategy.get_window_stats(rule.item, rule.namespace, *keys)
    return max(1, math.ceil(stats.reset_time - time.time()))


async def _hit(strategy: MovingWindowRateLimiter, rule: Rule, keys: tuple[str, ...]) -> bool:
    return await strategy.hit(rule.item, rule.namespace, *keys)


async def _clear(strategy: MovingWindowRateLimiter, rule: Rule, keys: tuple[str, ...]) -> None:
    await strategy.clear(rule.item, rule.namespace, *keys)
