"""The service's rate limits, by name, in one place (docs/operations.md, "Rate limits").

Only what a guesser or a flood needs is counted, so legitimate load is never slowed: failed
credentials and failed token codes per client address, attempt starts per token, imports per
staff member. A rule is checked *before* the guarded work (:func:`guard`, which raises 429
``too-many-requests`` with ``Retry-After``) and charged (:func:`charge`) only for what it counts
(a failure, a start, an import). Where the failure itself costs less than reading a counter (a
wrong attempt secret is one HMAC, no database), the rule is read on the failure path only
(:func:`refuse`): a right answer then costs nothing at all, and a candidate who shares an
address with a flood keeps working.

Counts live in the app's one :class:`~etest.kit.ratelimit.Limiter` (the console's sign-in rules
use it too): this process's memory by default, Redis when ``ETEST_REDIS_URL`` is set (every
process of a deployment then counts together; while Redis is unreachable each process counts in
its memory, see :mod:`etest.kit.ratelimit`). ``ETEST_RATE_LIMITS`` overrides a limit by name;
``ETEST_RATE_LIMIT_ENABLED=false`` turns these rules off (not the console's sign-in rules). The
client address is the socket peer, or the ``X-Forwarded-For`` of a trusted proxy
(``ETEST_TRUSTED_PROXIES``, applied by :mod:`etest.ops.security` before the app sees the
request).
"""

from __future__ import annotations

from functools import cache

import structlog
from limits import parse
from starlette.requests import Request

from etest.config import Settings
from etest.errors import TooManyRequests
from etest.kit.ratelimit import Check, Limiter, Rule

log = structlog.get_logger(__name__)

#: The rules' names (the keys of ``ETEST_RATE_LIMITS``): wrong API keys, SSO tokens and attempt
#: secrets from one address; wrong test-token codes (``POST /api/v1/attempts`` and ``/take``)
#: from one address; attempts started (or resumed) with one token; content and candidate imports
#: by one staff member or API key.
CREDENTIAL_FAILURES = "credential-failures-address"
TOKEN_FAILURES = "token-failures-address"  # noqa: S105 (a rule name)
STARTS_PER_TOKEN = "attempt-starts-token"  # noqa: S105 (a rule name)
IMPORTS = "imports-actor"
#: Registrations through open links (``/join``), tried from one address and on one link: a
#: flood that would fill a link's cap, or guess its access code (docs/open-links.md).
JOIN_ADDRESS = "open-link-registrations-address"
JOIN_LINK = "open-link-registrations-link"

#: name -> default limit (``limits`` notation).
DEFAULTS: dict[str, str] = {
    CREDENTIAL_FAILURES: "60/minute",
    TOKEN_FAILURES: "30/minute",
    STARTS_PER_TOKEN: "30/hour",
    IMPORTS: "30/hour",
    JOIN_ADDRESS: "60/hour",
    JOIN_LINK: "600/hour",
}

TOO_MANY = "Too many tries: wait {seconds} seconds, then try again."


@cache
def _rule(name: str, limit: str) -> Rule:
    return Rule(limit, name)


def rule(settings: Settings, name: str) -> Rule:
    """The rule ``name`` with its limit from the settings (or the default)."""
    return _rule(name, settings.rate_limits.get(name, DEFAULTS[name]))


def check(settings: Settings) -> None:
    """Refuse ``ETEST_RATE_LIMITS`` with an unknown name or a limit ``limits`` cannot read, at
    start-up (not at the first request that needs the rule)."""
    for name, limit in settings.rate_limits.items():
        if name not in DEFAULTS:
            raise ValueError(
                f"ETEST_RATE_LIMITS: unknown rule {name!r} (known: {', '.join(DEFAULTS)})"
            )
        try:
            parse(limit)
        except ValueError as exc:
            raise ValueError(
                f"ETEST_RATE_LIMITS: {name}: {limit!r} is not a limit such as '60/minute'"
            ) from exc


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
        log.info("rate_limited", rule=name, path=request.url.path, retry_after=wait)
        raise TooManyRequests(TOO_MANY.format(seconds=wait), retry_after=wait)


async def charge(request: Request, name: str, *keys: str) -> None:
    """Count one against rule ``name`` (a failure, a start, an import)."""
    settings: Settings = request.app.state.settings
    if settings.rate_limit_enabled:
        await limiter(request).fail(_checks(request, name, keys))


async def spend(request: Request, name: str, *keys: str) -> None:
    """:func:`guard`, then :func:`charge`: 429 when rule ``name`` is already full, otherwise one
    is counted (a start, an import; or a failure checked on the failure path only, which the
    caller then answers as it would have: 401, 404)."""
    await guard(request, name, *keys)
    await charge(request, name, *keys)
