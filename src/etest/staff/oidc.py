"""OpenID Connect sign-in for the console: the protocol with a configured provider
(``Settings.oidc_providers``), authorization code flow with PKCE (S256) through Authlib's
httpx client, and the ID token verified with PyJWT against the provider's JWKS: signature
(asymmetric algorithms only), ``iss``, ``aud`` (and ``azp`` when several), ``exp``/``iat``
and the ``nonce`` of this sign-in.

Who may sign in with what the provider says is the service's rule
(:func:`etest.staff.service.oidc_account`). The discovery document and the key set are cached
per issuer for an hour; an unknown ``kid`` fetches the key set again (at most every 30 s)."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

with warnings.catch_warnings():
    # Authlib 1.9 announces, on import, that its httpx client will move to the httpx2 package;
    # the client works as documented, and the notice would be printed by every process start.
    # (authlib.deprecate installs an "always" filter for its warnings when imported: ours goes
    # in front of it)
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )

from etest.config import OidcProvider

CACHE_SECONDS = 3600.0
REFETCH_SECONDS = 30.0
TIMEOUT = 10.0
LEEWAY = 60
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class OidcFailed(Exception):
    """The provider refused, answered nonsense, or its token did not verify (logged; the
    person is shown one sentence)."""


@dataclass(frozen=True)
class Identity:
    """What a verified ID token says about the person."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str


@dataclass
class _Cached:
    value: dict[str, Any]
    at: float


_DISCOVERY: dict[str, _Cached] = {}
_JWKS: dict[str, _Cached] = {}


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            resp = await client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OidcFailed(f"{url} unreachable: {type(exc).__name__}") from exc
    if resp.status_code != 200:
        raise OidcFailed(f"{url} answered {resp.status_code}")
    try:
        data = resp.json()
    except ValueError as exc:
        raise OidcFailed(f"{url} did not answer JSON") from exc
    if not isinstance(data, dict):
        raise OidcFailed(f"{url} did not answer a JSON object")
    return data


async def discovery(provider: OidcProvider) -> dict[str, Any]:
    """The provider's ``/.well-known/openid-configuration`` (cached); its ``issuer`` must be
    the configured one exactly (OpenID Connect Discovery 1.0, section 4.3)."""
    found = _DISCOVERY.get(provider.issuer)
    if found is not None and time.monotonic() - found.at < CACHE_SECONDS:
        return found.value
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    data = await _get_json(url)
    if data.get("issuer") != provider.issuer:
        raise OidcFailed(f"the discovery document names issuer {data.get('issuer')!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(key), str):
            raise OidcFailed(f"the discovery document has no {key}")
    _DISCOVERY[provider.issuer] = _Cached(data, time.monotonic())
    return data


async def _key_set(provider: OidcProvider, *, fresh: bool) -> dict[str, Any]:
    found = _JWKS.get(provider.issuer)
    now = time.monotonic()
    if found is not None and (now - found.at < (REFETCH_SECONDS if fresh else CACHE_SECONDS)):
        return found.value
    data = await _get_json((await discovery(provider))["jwks_uri"])
    _JWKS[provider.issuer] = _Cached(data, now)
    return data


def _client(provider: OidcProvider, redirect_uri: str) -> AsyncOAuth2Client:
    secret = provider.client_secret.get_secret_value() if provider.client_secret else None
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=secret,
        scope=" ".join(provider.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        timeout=TIMEOUT,
    )


async def authorization_url(
    provider: OidcProvider, redirect_uri: str, *, state: str, nonce: str, verifier: str
) -> str:
    """Where to send the browser to sign in at the provider."""
    endpoint = (await discovery(provider))["authorization_endpoint"]
    async with _client(provider, redirect_uri) as client:
        url, _state = client.create_authorization_url(
            endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    return str(url)


async def _signing_key(provider: OidcProvider, token: str) -> tuple[Any, str]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise OidcFailed(f"the ID token is malformed: {exc}") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise OidcFailed(f"the ID token is signed with {alg!r}")
    for fresh in (False, True):
        keys = (await _key_set(provider, fresh=fresh)).get("keys", [])
        for jwk in keys if isinstance(keys, list) else []:
            if isinstance(jwk, dict) and (kid is None or jwk.get("kid") == kid):
                try:
                    return jwt.PyJWK.from_dict(jwk, algorithm=alg).key, alg
                except jwt.PyJWTError:
                    continue
    raise OidcFailed(f"no key {kid!r} in the provider's key set")


async def verify_id_token(provider: OidcProvider, token: str, nonce: str) -> Identity:
    key, alg = await _signing_key(provider, token)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=provider.client_id,
            issuer=provider.issuer,
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise OidcFailed(f"the ID token does not verify: {exc}") from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise OidcFailed("the ID token is for several audiences and not authorized for us")
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise OidcFailed("the ID token's nonce is not this sign-in's")
    verified = claims.get("email_verified")
    return Identity(
        issuer=provider.issuer,
        subject=str(claims["sub"]),
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        email_verified=verified is True or verified == "true",
        name=str(claims.get("name") or ""),
    )


async def sign_in(
    provider: OidcProvider, redirect_uri: str, *, code: str, verifier: str, nonce: str
) -> Identity:
    """Exchange the code (with the PKCE verifier) and verify the ID token it brings."""
    endpoint = (await discovery(provider))["token_endpoint"]
    async with _client(provider, redirect_uri) as client:
        try:
            token = await client.fetch_token(endpoint, code=code, code_verifier=verifier)
        except Exception as exc:  # Authlib raises OAuthError, httpx errors, ValueError ...
            raise OidcFailed(f"the token endpoint refused: {type(exc).__name__}: {exc}") from exc
    id_token = token.get("id_token") if isinstance(token, dict) else None
    if not isinstance(id_token, str):
        raise OidcFailed("the token endpoint sent no ID token")
    return await verify_id_token(provider, id_token, nonce)
