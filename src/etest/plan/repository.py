"""Every query of the reference data: levels and plans (public, so no actor filter)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import Level, Plan


async def levels(session: AsyncSession) -> list[Level]:
    """Every level, in scale order."""
    return list((await session.scalars(select(Level).order_by(Level.seq))).all())


async def level_names(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Level.name))).all())


async def plans(session: AsyncSession) -> list[Plan]:
    """Every plan, by code."""
    return list((await session.scalars(select(Plan).order_by(Plan.code))).all())


async def plans_except(session: AsyncSession, code: str) -> Sequence[Plan]:
    """Every plan but the one with this code."""
    return (await session.scalars(select(Plan).where(Plan.code != code))).all()
