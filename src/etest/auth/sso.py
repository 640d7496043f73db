"""SSO bearer JWTs from several trusted issuers (one per region).

The unverified ``iss`` only picks the issuer's configuration; the signature is then checked with
that issuer's JWKS and its pinned algorithms (never the token's own choice, never ``none`` or
HMAC). An unknown ``kid`` triggers one refetch, at most once per ``jwks_refetch_interval``.
A token that lives longer than ``max_lifetime`` is refused, however valid its signature. What
the claims may reach (the issuer's region, its global roles) is checked in :mod:`etest.deps`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import structlog

from etest.config import TrustedIssuer
from etest.errors import Unauthorized
from etest.kit.text import refused_character

log = structlog.get_logger(__name__)
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c")


@dataclass
class _KeySet:
    issuer: TrustedIssuer
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class SsoClaims:
    issuer: str
    subject: str
    role: str
    uic: str | None
    #: The issuer's region and the global roles it may grant (from its configuration).
    region: str
    global_roles: frozenset[str]


class SsoVerifier:
    """Verifies bearer JWTs against the configured issuers' key sets (cached per issuer)."""

    def __init__(
        self,
        issuers: list[TrustedIssuer],
        *,
        refetch_interval: float,
        cache_seconds: float,
        max_lifetime: float = 12 * 3600.0,
    ) -> None:
        self._sets = {i.issuer: _KeySet(i) for i in issuers}
        self._refetch_interval = refetch_interval
        self._cache_seconds = cache_seconds
        self._max_lifetime = max_lifetime
        self.fetch_count = 0

    async def _fetch(self, ks: _KeySet) -> None:
        self.fetch_count += 1
        try:
            async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
                resp = await client.get(str(ks.issuer.jwks_url))
                resp.raise_for_status()
                jwks = jwt.PyJWKSet.from_dict(resp.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            # Keep serving the cached keys while the issuer is down; do not cache the failure.
            log.warning("jwks_fetch_failed", issuer=ks.issuer.issuer, error=str(exc))
            ks.fetched_at = time.monotonic()
            return
        ks.keys = {k.key_id: k for k in jwks.keys if k.key_id}
        ks.fetched_at = time.monotonic()

    async def _key(self, ks: _KeySet, kid: str) -> jwt.PyJWK:
        key = ks.keys.get(kid)
        stale = time.monotonic() - ks.fetched_at > self._cache_seconds
        if key is not None and not stale:
            return key
        async with ks.lock:
            key = ks.keys.get(kid)
            since = time.monotonic() - ks.fetched_at
            if (key is None and since >= self._refetch_interval) or since > self._cache_seconds:
                await self._fetch(ks)
                key = ks.keys.get(kid)
        if key is None:
            raise Unauthorized("The bearer token's signing key is not known.")
        return key

    async def verify(self, token: str) -> SsoClaims:
        try:
            header = jwt.get_unverified_header(token)
            unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is malformed.") from exc
        if any(h in header for h in _FORBIDDEN_HEADERS):
            raise Unauthorized("The bearer token carries key-location headers.")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("The bearer token has no key id (kid).")
        ks = self._sets.get(str(unverified.get("iss", "")))
        if ks is None:
            raise Unauthorized("The bearer token's issuer is not trusted.")
        key = await self._key(ks, kid)
        cfg = ks.issuer
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=cfg.algorithms,
                audience=cfg.audience,
                issuer=cfg.issuer,
                leeway=60,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is invalid.") from exc
        # PyJWT has checked that int() reads exp (and iat, when present): "123" passes too
        issued = int(claims["iat"]) if "iat" in claims else time.time()
        lifetime = int(claims["exp"]) - issued
        if lifetime > self._max_lifetime:
            raise Unauthorized(
                f"The bearer token's lifetime exceeds {self._max_lifetime / 3600:g} hours."
            )
        role = claims.get(cfg.role_claim)
        uic = claims.get(cfg.uic_claim)
        if not isinstance(role, str) or (uic is not None and not isinstance(uic, str)):
            raise Unauthorized("The bearer token lacks the role or organization claim.")
        if refused_character(str(claims["sub"])) is not None:  # it names the actor in audits
            raise Unauthorized("The bearer token's subject holds control or invisible characters.")
        return SsoClaims(
            issuer=cfg.issuer,
            subject=str(claims["sub"]),
            role=role,
            uic=uic,
            region=cfg.region,
            global_roles=frozenset(cfg.global_roles),
        )
