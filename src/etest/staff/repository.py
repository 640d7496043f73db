"""Queries of the staff package."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import in_subtree
from etest.errors import NotFound
from etest.models import Organization, StaffAccount, StaffSession, StaffTicket


async def account_by_email(session: AsyncSession, email: str) -> StaffAccount | None:
    return (
        await session.execute(select(StaffAccount).where(StaffAccount.email == email.lower()))
    ).scalar_one_or_none()


async def session_with_account(
    session: AsyncSession, session_id: str
) -> tuple[StaffSession, StaffAccount, str | None] | None:
    """A session row, its account and the account's organization path."""
    row = (
        await session.execute(
            select(StaffSession, StaffAccount, Organization.path)
            .join(StaffAccount, StaffAccount.id == StaffSession.account_id)
            .outerjoin(Organization, Organization.id == StaffAccount.organization_id)
            .where(StaffSession.id == session_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


async def organization_path(session: AsyncSession, organization_id: uuid.UUID | None) -> str | None:
    if organization_id is None:
        return None
    path: str | None = (
        await session.execute(select(Organization.path).where(Organization.id == organization_id))
    ).scalar_one_or_none()
    return path


async def drop_sessions(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.account_id == account_id))


# ---------------------------------------------------------------------------- staff management


def _scope(actor: Actor) -> ColumnElement[bool]:
    """The accounts an actor sees: every account for the operator (a global superadmin);
    otherwise the accounts of organizations in its subtree (none of the global accounts)."""
    if actor.is_global:
        return true()
    return and_(StaffAccount.organization_id.is_not(None), in_subtree(actor))


def _visible(actor: Actor) -> Select[StaffAccount, str, str]:
    return (
        select(StaffAccount, Organization.uic, Organization.path)
        .outerjoin(Organization, Organization.id == StaffAccount.organization_id)
        .where(_scope(actor))
    )


def filtered(
    actor: Actor,
    *,
    q: str | None = None,
    role: str | None = None,
    status: str | None = None,
    within: Organization | None = None,
) -> Select[StaffAccount, str, str]:
    """The accounts ``actor`` sees matching every filter, for ``paginate``: ``q`` in the email
    or name, a role, a status (``active``, ``invited``, ``disabled``), an organization's
    subtree."""
    stmt = _visible(actor)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(or_(StaffAccount.email.ilike(pattern), StaffAccount.name.ilike(pattern)))
    if role:
        stmt = stmt.where(StaffAccount.role == role)
    if status == "disabled":
        stmt = stmt.where(StaffAccount.disabled_at.is_not(None))
    elif status == "invited":
        stmt = stmt.where(
            StaffAccount.disabled_at.is_(None),
            StaffAccount.password_hash.is_(None),
            StaffAccount.oidc_subject.is_(None),
        )
    elif status == "active":
        stmt = stmt.where(
            StaffAccount.disabled_at.is_(None),
            or_(StaffAccount.password_hash.is_not(None), StaffAccount.oidc_subject.is_not(None)),
        )
    if within is not None:
        stmt = stmt.where(Organization.path.startswith(within.path, autoescape=True))
    return stmt


async def visible_account(
    session: AsyncSession, actor: Actor, account_id: uuid.UUID
) -> tuple[StaffAccount, str | None, str | None]:
    """One account the actor sees, with its organization's UIC and path; else NotFound (a
    foreign account reads like a missing one)."""
    row = (
        await session.execute(_visible(actor).where(StaffAccount.id == account_id))
    ).one_or_none()
    if row is None:
        raise NotFound("No such staff account.")
    return row[0], row[1], row[2]


async def account_by_oidc(session: AsyncSession, issuer: str, subject: str) -> StaffAccount | None:
    return (
        await session.execute(
            select(StaffAccount).where(
                StaffAccount.oidc_issuer == issuer, StaffAccount.oidc_subject == subject
            )
        )
    ).scalar_one_or_none()


async def paths_of_uics(session: AsyncSession, uics: list[str]) -> list[str]:
    """The paths of the organizations named (unscoped: the configuration names them)."""
    if not uics:
        return []
    rows = await session.execute(select(Organization.path).where(Organization.uic.in_(uics)))
    return [path for (path,) in rows.all()]


async def claim_totp_step(session: AsyncSession, account_id: uuid.UUID, step: int) -> bool:
    """Record ``step`` as the account's last accepted TOTP step unless it (or a later one) was
    accepted already: one statement, so two requests with one code cannot both pass."""
    result = await session.execute(
        update(StaffAccount)
        .where(
            StaffAccount.id == account_id,
            or_(StaffAccount.totp_last_step.is_(None), StaffAccount.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0) == 1)


# ---------------------------------------------------------------------------- tickets


async def ticket_by_digest(session: AsyncSession, value: str) -> StaffTicket | None:
    return (
        await session.execute(select(StaffTicket).where(StaffTicket.digest == value))
    ).scalar_one_or_none()


async def void_tickets(
    session: AsyncSession, account_id: uuid.UUID, purpose: str, now: datetime
) -> None:
    """Mark the account's unused tickets of ``purpose`` used: only the newest link works."""
    await session.execute(
        update(StaffTicket)
        .where(
            StaffTicket.account_id == account_id,
            StaffTicket.purpose == purpose,
            StaffTicket.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


async def claim_ticket(session: AsyncSession, ticket_id: uuid.UUID, now: datetime) -> bool:
    """Use a ticket once: true for the one request that marks it used."""
    result = await session.execute(
        update(StaffTicket)
        .where(StaffTicket.id == ticket_id, StaffTicket.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
