"""Every organization query; the actor's subtree is a filter, so a foreign UIC is a 404."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import in_subtree
from etest.errors import NotFound
from etest.models import Organization


def visible(actor: Actor) -> Select[Organization]:
    return select(Organization).where(in_subtree(actor))


async def get_by_uic(session: AsyncSession, actor: Actor, uic: str) -> Organization:
    org = (await session.scalars(visible(actor).where(Organization.uic == uic))).first()
    if org is None:
        raise NotFound(f"No organization {uic!r}.")
    return org


async def uics_by_id(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Organization.id, Organization.uic)
                                 .where(Organization.id.in_(ids)))
    return {row.id: row.uic for row in rows}


def ancestor_ids(org: Organization) -> list[uuid.UUID]:
    """The ids on the organization's path, root first, the organization itself last."""
    return [uuid.UUID(part) for part in org.path.strip("/").split("/") if part]
