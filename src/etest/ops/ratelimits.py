"""The service's rate limits, by name, in one place (docs/operations.md, "Rate limits").

Only what a guesser or a flood needs is counted, so legitimate load is never slowed: failed
credentials and failed token codes per client address, attempt starts per token, imports per
staff member. A rule is checked *before* the guarded work (:func:`guard`, which raises 429
``too-many-requests`` with ``Retry-After``) and charged (:func:`charge`) only for what it counts
(a failure, a start, an import).

Counts live in the app's one :class:`~etest.kit.ratelimit.Limiter`: this process's memory by
default, Redis when ``ETEST_REDIS_URL`` is set (every process of a deployment then counts
together). ``ETEST_RATE_LIMITS`` overrides a limit by name; ``ETEST_RATE_LIMIT_ENABLED=false``
turns them all off. The client address is the socket peer, or the ``X-Forwarded-For`` of a
trusted proxy (``ETEST_TRUSTED_PROXIES``, applied by :mod:`etest.ops.security`).
"""

from __future__ import annotations

from functools import cache

from starlette.requests import Request

from etest.config import Settings
from etest.errors import TooManyRequests
from etest.kit.ratelimit import Check, Limiter, Rule

#: name -> default limit (``limits`` notation). The names are the keys of ``ETEST_RATE_LIMITS``.
DEFAULTS: dict[str, str] = {
    # wrong API keys, SSO tokens and attempt secrets from one address
    "credential-failures-address": "60/minute",
    # wrong test-token codes (POST /api/v1/attempts and the /take page) from one address
    "token-failures-address": "30/minute",
    # attempts started (or resumed) with one token
    "attempt-starts-token": "30/hour",
    # content and candidate imports by one staff member or API key
    "imports-actor": "30/hour",
}

TOO_MANY = "Too many tries: wait {seconds} seconds, then try again."


@cache
def _rule(name: str, limit: str) -> Rule:
    return Rule(limit, name)


def rule(settings: Settings, name: str) -> Rule:
    """The rule ``name`` with its limit from the settings (or the default)."""
    return _rule(name, settings.rate_limits.get(name, DEFAULTS[name]))


def limiter(request: Request) -> Limiter:
    """The app's one limiter, made on first use (Redis when ``ETEST_REDIS_URL`` is set)."""
    state = request.app.state
    found: Limiter | None = getattr(state, "limiter", None)
    if found is None:
        found = Limiter(state.settings.redis_url)
        state.limiter = found
    return found


def client_address(request: Request) -> str:
    """The address counts are kept under (after a trusted proxy's ``X-Forwarded-For``)."""
    return request.client.host if request.client else "unknown"


def _checks(request: Request, name: str, keys: tuple[str, ...]) -> Check:
    return (rule(request.app.state.settings, name), keys or (client_address(request),))


async def wait_for(request: Request, name: str, *keys: str) -> int:
    """Seconds until rule ``name`` has room for one more (0: it has room now). ``keys``
    default to the client address."""
    settings: Settings = request.app.state.settings
    if not settings.rate_limit_enabled:
        return 0
    return await limiter(request).blocked(_checks(request, name, keys))


async def guard(request: Request, name: str, *keys: str) -> None:
    """Raise 429 ``too-many-requests`` (with ``Retry-After``) when rule ``name`` is full."""
    wait = await wait_for(request, name, *keys)
    if wait:
        raise TooManyRequests(TOO_MANY.format(seconds=wait), retry_after=wait)


async def charge(request: Request, name: str, *keys: str) -> None:
    """Count one against rule ``name`` (a failure, a start, an import)."""
    settings: Settings = request.app.state.settings
    if settings.rate_limit_enabled:
        await limiter(request).fail(_checks(request, name, keys))
