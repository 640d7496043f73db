"""Every candidate query, filtered by the actor's subtree (a foreign id reads as missing)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import Candidate, Organization


def visible(actor: Actor) -> Select[Candidate, str]:
    result: Select[Candidate, str] = scoped(select(Candidate, Organization.uic), actor,
                                            Candidate.organization_id)
    return result


async def get(session: AsyncSession, actor: Actor,
              candidate_id: uuid.UUID) -> tuple[Candidate, str]:
    row = (await session.execute(visible(actor).where(Candidate.id == candidate_id))).first()
    if row is None:
        raise NotFound("No such candidate.")
    return row[0], row[1]


async def get_by_email(session: AsyncSession, actor: Actor,
                       email: str) -> tuple[Candidate, str]:
    row = (await session.execute(visible(actor).where(Candidate.email == email.lower()))).first()
    if row is None:
        raise NotFound("No candidate with this email.")
    return row[0], row[1]


async def email_taken(session: AsyncSession, email: str) -> bool:
    """Across every organization: the email is unique in the whole service."""
    return await session.scalar(select(Candidate.id).where(Candidate.email == email.lower())) \
        is not None


async def get_org(session: AsyncSession, candidate: Candidate) -> Organization:
    org = await session.get(Organization, candidate.organization_id)
    assert org is not None  # foreign key
    return org
