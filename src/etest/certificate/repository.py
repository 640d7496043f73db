"""Every certificate query. Admin reads go through :func:`visible` (the actor's subtree), so a
certificate of another organization is simply not found."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import Candidate, Certificate, Organization


def visible(actor: Actor) -> Select[Certificate, str]:
    stmt = select(Certificate, Organization.uic)
    result: Select[Certificate, str] = scoped(stmt, actor, Certificate.organization_id)
    return result


def filtered(
    actor: Actor,
    *,
    org_path: str | None = None,
    level: str | None = None,
    issued_from: datetime | None = None,
    issued_to: datetime | None = None,
) -> Select[Certificate, str]:
    stmt = visible(actor)
    if org_path is not None:
        stmt = stmt.where(Organization.path.startswith(org_path, autoescape=True))
    if level is not None:
        stmt = stmt.where(Certificate.level == level)
    if issued_from is not None:
        stmt = stmt.where(Certificate.issued_at >= issued_from)
    if issued_to is not None:
        stmt = stmt.where(Certificate.issued_at < issued_to)
    return stmt


async def get(
    session: AsyncSession, actor: Actor, certificate_id: uuid.UUID
) -> tuple[Certificate, str]:
    row = (await session.execute(visible(actor).where(Certificate.id == certificate_id))).first()
    if row is None:
        raise NotFound("No such certificate.")
    return row[0], row[1]


async def by_attempt(session: AsyncSession, attempt_id: uuid.UUID) -> Certificate | None:
    return await session.scalar(select(Certificate).where(Certificate.attempt_id == attempt_id))


async def by_code(session: AsyncSession, code: str) -> Certificate | None:
    return await session.scalar(select(Certificate).where(Certificate.code == code))


def listed(
    actor: Actor,
    *,
    org_path: str | None = None,
    level: str | None = None,
    issued_from: datetime | None = None,
    issued_to: datetime | None = None,
    status: str | None = None,
    candidate_id: uuid.UUID | None = None,
    q: str | None = None,
) -> Select[tuple[Certificate, str, Candidate]]:
    """:func:`filtered` with each certificate's candidate (the console's list): also
    ``status`` ``valid`` or ``revoked``, one candidate, and ``q`` a substring of the holder's
    name or the candidate's email (case-insensitive, ``%`` and ``_`` literal) or the code."""
    stmt = (
        filtered(
            actor, org_path=org_path, level=level, issued_from=issued_from, issued_to=issued_to
        )
        .add_columns(Candidate)
        .join(Candidate, Candidate.id == Certificate.candidate_id)
    )
    if status == "valid":
        stmt = stmt.where(Certificate.revoked_at.is_(None))
    elif status == "revoked":
        stmt = stmt.where(Certificate.revoked_at.is_not(None))
    if candidate_id is not None:
        stmt = stmt.where(Certificate.candidate_id == candidate_id)
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                Certificate.holder_name.ilike(pattern, escape="\\"),
                Candidate.email.ilike(pattern, escape="\\"),
                Certificate.code == q.strip().upper(),
            )
        )
    result: Select[tuple[Certificate, str, Candidate]] = stmt
    return result


async def get_with_candidate(
    session: AsyncSession, actor: Actor, certificate_id: uuid.UUID
) -> tuple[Certificate, str, Candidate]:
    """A visible certificate with its organization's UIC and its candidate (404 otherwise)."""
    row = (
        await session.execute(
            visible(actor)
            .add_columns(Candidate)
            .join(Candidate, Candidate.id == Certificate.candidate_id)
            .where(Certificate.id == certificate_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such certificate.")
    return row[0], row[1], row[2]
