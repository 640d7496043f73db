"""Every organization query; the actor's subtree is a filter, so a foreign UIC is a 404."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from etest.auth.actor import Actor
from etest.auth.scope import in_subtree
from etest.errors import NotFound
from etest.models import Organization


def visible(actor: Actor) -> Select[Organization]:
    return select(Organization).where(in_subtree(actor))


def in_organization(
    org: Organization,
    org_id: QueryableAttribute[uuid.UUID | None],
    *,
    include_descendants: bool,
) -> ColumnElement[bool]:
    """A filter on rows joined to their owning :class:`Organization` (``auth.scope.scoped``):
    those of ``org``'s subtree, or with ``include_descendants`` false those whose ``org_id``
    is ``org`` itself. The ``uic`` filter of every list."""
    if include_descendants:
        return Organization.path.startswith(org.path, autoescape=True)
    return org_id == org.id


def filtered(
    actor: Actor,
    *,
    q: str | None = None,
    children_of: Organization | None = None,
    subtree_of: Organization | None = None,
) -> Select[Organization]:
    """The actor's organizations matching every filter given, for ``paginate``: ``q`` in the
    UIC or name (case-insensitive), the children of ``children_of``, ``subtree_of`` and
    everything below it."""
    stmt = visible(actor)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(or_(Organization.uic.ilike(pattern), Organization.name.ilike(pattern)))
    if children_of is not None:
        stmt = stmt.where(Organization.parent_id == children_of.id)
    if subtree_of is not None:
        stmt = stmt.where(in_organization(subtree_of, Organization.id, include_descendants=True))
    return stmt


async def get_by_uic(session: AsyncSession, actor: Actor, uic: str) -> Organization:
    org = (await session.scalars(visible(actor).where(Organization.uic == uic))).first()
    if org is None:
        raise NotFound(f"No organization {uic!r}.")
    return org


async def uics_by_id(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Organization.id, Organization.uic).where(Organization.id.in_(ids))
    )
    return {row.id: row.uic for row in rows}


def ancestor_ids(org: Organization) -> list[uuid.UUID]:
    """The ids on the organization's path, root first, the organization itself last."""
    return [uuid.UUID(part) for part in org.path.strip("/").split("/") if part]


#: A row of an organization's name (path or UIC), plan and allowed plans.
Contract = Row[str, str | None, list[str] | None]


async def contracts_of(session: AsyncSession, ids: Collection[uuid.UUID]) -> Sequence[Contract]:
    """``path``, ``plan_code`` and ``allowed_plans`` of these organizations."""
    if not ids:
        return []
    return (
        await session.execute(
            select(Organization.path, Organization.plan_code, Organization.allowed_plans).where(
                Organization.id.in_(ids)
            )
        )
    ).all()


async def contracts_below(session: AsyncSession, org: Organization) -> Sequence[Contract]:
    """``uic``, ``plan_code`` and ``allowed_plans`` of every organization below ``org``, by
    path."""
    return (
        await session.execute(
            select(Organization.uic, Organization.plan_code, Organization.allowed_plans)
            .where(
                Organization.path.startswith(org.path, autoescape=True), Organization.id != org.id
            )
            .order_by(Organization.path)
        )
    ).all()


async def top_level_named(
    session: AsyncSession, uics: Collection[str], other_than_root: uuid.UUID | None = None
) -> str | None:
    """The UIC of a top-level organization among ``uics`` (other than ``other_than_root``),
    or None."""
    if not uics:
        return None
    stmt = select(Organization.uic).where(
        Organization.parent_id.is_(None), Organization.uic.in_(uics)
    )
    if other_than_root is not None:
        stmt = stmt.where(Organization.id != other_than_root)
    return await session.scalar(stmt.limit(1))


async def uic_starting(session: AsyncSession, prefix: str) -> str | None:
    """A UIC that starts with ``prefix``, or None."""
    return await session.scalar(
        select(Organization.uic)
        .where(Organization.uic.startswith(prefix, autoescape=True))
        .limit(1)
    )


async def uic_taken(session: AsyncSession, uic: str) -> bool:
    return await session.scalar(select(Organization.id).where(Organization.uic == uic)) is not None


async def liveness_of(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> list[tuple[bool, datetime | None]]:
    """``is_active`` and ``expires_at`` of these organizations."""
    rows = await session.execute(
        select(Organization.is_active, Organization.expires_at).where(Organization.id.in_(ids))
    )
    return [(active, expires) for active, expires in rows]


async def find_by_uic(session: AsyncSession, uic: str) -> Organization | None:
    """The organization ``uic`` whoever asks, or None: for the operator's tools (``etest
    demo``), never for a request."""
    return await session.scalar(select(Organization).where(Organization.uic == uic))
