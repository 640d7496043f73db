"""API keys: created by the operator (``etest apikey create``) or an organization's admin in
the console, shown once, stored as digests.

Who may create or revoke which key (one rule for the command line and the console): the
operator (a global superadmin) any key; an admin or a subtree superadmin only keys of its
subtree, and only of a role no stronger than its own (:func:`grantable_roles`): an admin cannot
mint a superadmin key, nobody but the operator a global or content-manager key."""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth import repository
from etest.auth.actor import GLOBAL_ROLES, ROLES, Actor
from etest.config import Role, Settings
from etest.errors import Forbidden, InvalidValue, NotFound
from etest.kit.secrets import digest, new_api_key
from etest.kit.text import check_name
from etest.models import ApiKey
from etest.models.base import utcnow
from etest.organization import repository as org_repository

#: Organization roles from the strongest down: an organization's admin grants its own role and
#: those below it.
_RANK: tuple[Role, ...] = ("superadmin", "admin", "support", "viewer")


def grantable_roles(actor: Actor) -> tuple[Role, ...]:
    """The roles of the keys ``actor`` may create and revoke (none for a role that may not
    write; every role for the operator)."""
    if actor.is_global:
        return ROLES
    if not actor.can("write") or actor.role not in _RANK:
        return ()
    return _RANK[_RANK.index(actor.role) :]


def _require_grantable(actor: Actor, role: str) -> None:
    actor.require("write")
    if role not in grantable_roles(actor):
        raise Forbidden(f"The role {actor.role!r} may not manage {role} keys.")


def keys(actor: Actor) -> Select[ApiKey, str | None]:
    """The API keys the actor sees (those of its subtree; every key for the operator), revoked
    ones too, with their organization's UIC, for ``paginate``."""
    return repository.keys_visible(actor)


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
    _require_grantable(actor, role)
    org_id = None
    if uic is not None:
        if role == "content_manager":
            raise InvalidValue("A content_manager key belongs to no organization: omit --uic.")
        # the actor's subtree: a UIC outside it is as unknown as a missing one
        org_id = (await org_repository.get_by_uic(session, actor, uic)).id
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
    """Revoke the live key ``prefix`` of the actor's subtree (effective on its next request)."""
    api_key = await repository.live_key_by_prefix(session, prefix, actor)
    if api_key is None:
        raise NotFound(f"No active API key with prefix {prefix!r}.")
    _require_grantable(actor, api_key.role)
    api_key.revoked_at = utcnow()
    record(
        session,
        actor,
        "apikey.revoke",
        target_type="api_key",
        target_id=prefix,
        organization_id=api_key.organization_id,
    )
