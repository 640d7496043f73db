"""The queries that turn credentials into an actor (API keys, an SSO token's organization) and
that manage API keys. They run before any actor exists, so no subtree filter applies."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import in_subtree
from etest.models import ApiKey, Organization


async def live_key(session: AsyncSession, key_digest: str) -> tuple[ApiKey, str | None] | None:
    """The unrevoked API key with this digest and its organization's path (None for a key of no
    organization), or None."""
    row = (
        await session.execute(
            select(ApiKey, Organization.path)
            .outerjoin(Organization, Organization.id == ApiKey.organization_id)
            .where(ApiKey.digest == key_digest, ApiKey.revoked_at.is_(None))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def live_key_by_prefix(
    session: AsyncSession, prefix: str, actor: Actor | None = None
) -> ApiKey | None:
    """The unrevoked API key with this prefix, or None; with ``actor`` only a key the actor
    sees (:func:`keys_visible`)."""
    stmt = select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    if actor is not None and not actor.is_global:
        stmt = stmt.join(Organization, Organization.id == ApiKey.organization_id).where(
            in_subtree(actor)
        )
    return await session.scalar(stmt)


def keys_visible(actor: Actor) -> Select[ApiKey, str | None]:
    """The API keys of the actor's subtree with their organization's UIC (for the operator
    every key, those of no organization too), revoked ones included; the caller orders and
    pages."""
    stmt: Select[ApiKey, str | None] = select(ApiKey, Organization.uic)
    if actor.is_global:
        return stmt.outerjoin(Organization, Organization.id == ApiKey.organization_id)
    return stmt.join(Organization, Organization.id == ApiKey.organization_id).where(
        in_subtree(actor)
    )


async def organization_id(session: AsyncSession, uic: str) -> uuid.UUID | None:
    """The id of the organization ``uic``, or None."""
    return await session.scalar(select(Organization.id).where(Organization.uic == uic))


async def organization_for_sso(session: AsyncSession, uic: str) -> Row[uuid.UUID, str, str] | None:
    """``id``, ``path`` and ``region`` of the organization ``uic``, or None."""
    return (
        await session.execute(
            select(Organization.id, Organization.path, Organization.region).where(
                Organization.uic == uic
            )
        )
    ).first()


async def count_outside_region(
    session: AsyncSession, ids: Collection[uuid.UUID], region: str
) -> int:
    """How many of these organizations are not of ``region``."""
    count = await session.scalar(
        select(func.count()).where(Organization.id.in_(ids), Organization.region != region)
    )
    return count or 0


async def keys_with_uic(session: AsyncSession) -> Sequence[Row[ApiKey, str | None]]:
    """Every API key, revoked ones too, oldest first, with its organization's UIC (None for a
    key of no organization)."""
    return (
        await session.execute(
            select(ApiKey, Organization.uic)
            .outerjoin(Organization, Organization.id == ApiKey.organization_id)
            .order_by(ApiKey.created_at)
        )
    ).all()
