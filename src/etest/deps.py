"""``Annotated`` dependency aliases for routes: session (committed at the edge), settings, actor."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth import repository
from etest.auth.actor import GLOBAL_ROLES, ROLES, Actor
from etest.auth.sso import SsoVerifier
from etest.config import Settings
from etest.db import transaction
from etest.errors import Unauthorized
from etest.kit.secrets import digest
from etest.models.base import utcnow
from etest.ops import ratelimits


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # Commit at the edge: after the route function returns and before the response is sent,
    # so a 2xx always means committed.
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    # A snapshot for long reads; it writes nothing, so it is rolled back, never committed.
    async with request.app.state.read_sessionmaker() as session:
        yield session


async def _settings(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, on every request
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]

_bearer = HTTPBearer(auto_error=False, description="An API key (etk_…) or an SSO JWT")


async def _actor_from_api_key(session: AsyncSession, settings: Settings, key: str) -> Actor:
    row = await repository.live_key(session, digest(settings.pepper(), key))
    if row is None:
        raise Unauthorized("The API key is not valid.")
    api_key, path = row
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        api_key.last_used_at = now
    return Actor(
        subject=f"apikey:{api_key.prefix}",
        role=api_key.role,  # type: ignore[arg-type]
        organization_id=api_key.organization_id,
        org_path=path,
    )


async def _actor_from_jwt(session: AsyncSession, verifier: SsoVerifier, token: str) -> Actor:
    """An issuer keeps to its powers: global roles only when its configuration grants them,
    organizations only of its region (the organization and every ancestor)."""
    claims = await verifier.verify(token)
    role = next((r for r in ROLES if r == claims.role), None)
    if role is None:
        raise Unauthorized("The bearer token's role is not an eTest role.")
    subject = f"sso:{claims.issuer}|{claims.subject}"
    if claims.uic is None or role == "content_manager":
        if role not in GLOBAL_ROLES or claims.uic is not None:
            raise Unauthorized(
                f"The role {role!r} needs an organization."
                if claims.uic is None
                else f"The role {role!r} belongs to no organization."
            )
        if role not in claims.global_roles:
            raise Unauthorized(f"The bearer token's issuer may not grant the role {role!r}.")
        return Actor(subject=subject, role=role, organization_id=None, org_path=None)
    org = await repository.organization_for_sso(session, claims.uic)
    if org is None or not await _of_region(session, org.path, org.region, claims.region):
        # one answer for unknown and out of region: no oracle for UICs
        raise Unauthorized("The bearer token's organization is not known.")
    return Actor(subject=subject, role=role, organization_id=org.id, org_path=org.path)


async def _of_region(session: AsyncSession, path: str, region: str, wanted: str) -> bool:
    """The organization (``path``, ``region``) and every ancestor are of region ``wanted``."""
    if region != wanted:
        return False
    # the ancestors' ids are the other segments of the path: looked up by primary key
    ancestors = [uuid.UUID(part) for part in path.strip("/").split("/")[:-1]]
    return not ancestors or not await repository.count_outside_region(session, ancestors, wanted)


async def _actor(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller of the admin API. Failed credentials (a wrong or revoked API key, an SSO token
    that does not verify or grants nothing) are counted per client address; once the address
    has too many, it is refused (429) before the key's digest is looked up or the token's
    signature verified, so a flood costs one counter read a request. A caller who gets it right
    pays that one read too (microseconds in memory; one round trip with Redis): the check has
    to come first to spare the database and the JWT verification. No credential at all is not
    a guess and is not counted."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send 'Authorization: Bearer <API key or SSO token>'.")
    await ratelimits.guard(request, ratelimits.CREDENTIAL_FAILURES)
    token = credentials.credentials
    try:
        if token.startswith("etk_"):
            actor = await _actor_from_api_key(session, settings, token)
        else:
            actor = await _actor_from_jwt(session, request.app.state.sso, token)
    except Unauthorized:
        await ratelimits.charge(request, ratelimits.CREDENTIAL_FAILURES)
        raise
    request.state.actor = actor.subject
    return actor


ActorDep = Annotated[Actor, Depends(_actor)]


def no_store(response: Response) -> None:
    """A response that carries a secret (a token's code, an attempt's secret) is never kept by
    a browser or a proxy cache."""
    response.headers["Cache-Control"] = "no-store"
