"""API keys: created by the operator (``etest apikey create``), shown once, stored as digests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth import repository
from etest.auth.actor import GLOBAL_ROLES, ROLES, Actor
from etest.config import Settings
from etest.errors import InvalidValue, NotFound
from etest.kit.secrets import digest, new_api_key
from etest.kit.text import check_name
from etest.models import ApiKey
from etest.models.base import utcnow


async def create_api_key(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    *,
    role: str,
    uic: str | None,
    name: str = "",
) -> str:
    """Create a key for ``role`` in organization ``uic``; returns the plaintext key. A
    ``content_manager`` key belongs to no organization; a ``superadmin`` key may or may not."""
    if role not in ROLES:
        raise InvalidValue(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    org_id = None
    if uic is not None:
        if role == "content_manager":
            raise InvalidValue("A content_manager key belongs to no organization: omit --uic.")
        org_id = await repository.organization_id(session, uic)
        if org_id is None:
            raise NotFound(f"No organization {uic!r}.")
    elif role not in GLOBAL_ROLES:
        raise InvalidValue(
            f"A {role} key needs an organization (--uic); only "
            f"{' and '.join(GLOBAL_ROLES)} keys have none."
        )
    try:
        name = check_name(name)  # printed by `etest apikey list` and in the audit log
    except ValueError as exc:
        raise InvalidValue(f"API key name: {exc}.") from None
    key, prefix = new_api_key()
    api_key = ApiKey(
        organization_id=org_id,
        role=role,
        name=name,
        prefix=prefix,
        digest=digest(settings.pepper(), key),
        created_by=actor.subject,
    )
    session.add(api_key)
    await session.flush()
    record(
        session,
        actor,
        "apikey.create",
        target_type="api_key",
        target_id=prefix,
        organization_id=org_id,
        details={"role": role, "name": name},
    )
    return key


async def revoke_api_key(session: AsyncSession, actor: Actor, prefix: str) -> None:
    api_key = await repository.live_key_by_prefix(session, prefix)
    if api_key is None:
        raise NotFound(f"No active API key with prefix {prefix!r}.")
    api_key.revoked_at = utcnow()
    record(
        session,
        actor,
        "apikey.revoke",
        target_type="api_key",
        target_id=prefix,
        organization_id=api_key.organization_id,
    )
