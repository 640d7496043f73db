"""Queries of the staff package."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import Organization, StaffAccount, StaffSession


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
