"""Every open link query: the admin's, filtered by the actor's subtree (a foreign id reads as
missing), and the public page's by slug. The cap is one conditional ``UPDATE``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import Organization
from etest.models.token import OpenLink


def visible(actor: Actor) -> Select[OpenLink, str]:
    stmt = select(OpenLink, Organization.uic)
    result: Select[OpenLink, str] = scoped(stmt, actor, OpenLink.organization_id)
    return result


def filtered(actor: Actor, *, revoked: bool | None = None) -> Select[OpenLink, str]:
    """The actor's links (``revoked`` True/False: only those / only the others)."""
    stmt = visible(actor)
    if revoked is True:
        stmt = stmt.where(OpenLink.revoked_at.is_not(None))
    elif revoked is False:
        stmt = stmt.where(OpenLink.revoked_at.is_(None))
    return stmt


async def get(session: AsyncSession, actor: Actor, link_id: uuid.UUID) -> tuple[OpenLink, str]:
    found = (await session.execute(visible(actor).where(OpenLink.id == link_id))).first()
    if found is None:
        raise NotFound("No such open link.")
    return found[0], found[1]


async def by_slug(session: AsyncSession, slug: str) -> tuple[OpenLink, Organization] | None:
    """The link of a public URL with its organization (unscoped: the slug is the secret)."""
    found = (
        await session.execute(
            select(OpenLink, Organization)
            .join(Organization, Organization.id == OpenLink.organization_id)
            .where(OpenLink.slug == slug)
        )
    ).first()
    return None if found is None else (found[0], found[1])


async def take_use(session: AsyncSession, link_id: uuid.UUID, now: datetime) -> bool:
    """Count one use when the link still has room, in one statement: the row's lock (held to
    the commit on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers) makes the cap
    hold under any number of concurrent registrations. False: full, revoked or closed now."""
    result = await session.execute(
        update(OpenLink)
        .where(
            OpenLink.id == link_id,
            OpenLink.revoked_at.is_(None),
            or_(OpenLink.max_uses.is_(None), OpenLink.uses < OpenLink.max_uses),
            or_(OpenLink.closes_at.is_(None), OpenLink.closes_at > now),
        )
        .values(uses=OpenLink.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
