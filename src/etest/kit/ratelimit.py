"""Counting failures against limits, for sign-in and anything else a guesser could hammer
(the ``limits`` library, moving windows).

A :class:`Limiter` holds its storage: the memory of this process by default, or Redis when a
``redis://`` URL is given (then every process of a deployment counts together; the
``limits[async-redis]`` extra must be installed). A rule is checked *before* the guarded work
with :meth:`Limiter.blocked` and charged only for a failure with :meth:`Limiter.fail`, so people
who get it right are never slowed down, and a guesser is refused before any password is hashed.

Usage::

    PER_ADDRESS = Rule("50/15 minutes", "sign-in-address")
    wait = await limiter.blocked((PER_ADDRESS, (ip,)), (PER_EMAIL, (email, ip)))
    if wait: ... answer 429 with Retry-After: wait
    ... on a failure: await limiter.fail((PER_ADDRESS, (ip,)), (PER_EMAIL, (email, ip)))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True)
class Rule:
    """``limit`` in the ``limits`` notation (``"10/15 minutes"``) under a namespace of its own."""

    limit: str
    namespace: str
    item: RateLimitItem = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", parse(self.limit))


Check = tuple[Rule, tuple[str, ...]]


def _storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    storage = storage_from_string(uri)
    assert isinstance(storage, Storage)
    return storage


class Limiter:
    """Failure counters under moving windows; one per process (the app keeps it)."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.storage = _storage(redis_url)
        self.strategy = MovingWindowRateLimiter(self.storage)

    async def blocked(self, *checks: Check) -> int:
        """0 when every check has room for one more failure; otherwise the seconds until the
        fullest window has room again (at least 1): the ``Retry-After``."""
        wait = 0
        for rule, keys in checks:
            if not await self.strategy.test(rule.item, rule.namespace, *keys):
                stats = await self.strategy.get_window_stats(rule.item, rule.namespace, *keys)
                wait = max(wait, max(1, math.ceil(stats.reset_time - time.time())))
        return wait

    async def fail(self, *checks: Check) -> None:
        """Count one failure against every check."""
        for rule, keys in checks:
            await self.strategy.hit(rule.item, rule.namespace, *keys)

    async def forget(self, *checks: Check) -> None:
        """Clear the counters (e.g. the email's after a successful sign-in)."""
        for rule, keys in checks:
            await self.strategy.clear(rule.item, rule.namespace, *keys)
