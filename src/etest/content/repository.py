"""Every query of the content bank: items, assessments and their versions, imports, can-do
statements and review lessons. Content is global (no actor filter): the endpoints check who may
read it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import (
    Assessment,
    AssessmentVersion,
    CanDoStatement,
    ContentImport,
    Item,
    ReviewLesson,
)


def items(
    *,
    all_versions: bool = False,
    level: str | None = None,
    skill: str | None = None,
    status: str | None = None,
    type_: str | None = None,
    q: str | None = None,
) -> Select[Item]:
    """Items (the latest version of each code unless ``all_versions``), optionally of one
    level, skill, status and type, and with ``q`` in the code or prompt (case aside)."""
    stmt = select(Item)
    if not all_versions:
        latest = select(Item.code, func.max(Item.version).label("v")).group_by(Item.code).subquery()
        stmt = stmt.join(latest, (Item.code == latest.c.code) & (Item.version == latest.c.v))
    if level:
        stmt = stmt.where(Item.level == level)
    for column, value in ((Item.skill, skill), (Item.status, status), (Item.type, type_)):
        if value is not None:
            stmt = stmt.where(column == value)
    if q:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", q.lower()) + "%"
        stmt = stmt.where(
            or_(Item.code.ilike(pattern, escape="\\"), Item.prompt.ilike(pattern, escape="\\"))
        )
    return stmt


async def latest_items(session: AsyncSession) -> Sequence[Item]:
    """The latest stored version of every item code."""
    return (await session.scalars(items())).all()


async def can_do_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(CanDoStatement.code))).all())


async def lesson_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(ReviewLesson.code))).all())


async def imports_of(session: AsyncSession, code: str) -> Sequence[ContentImport]:
    """The imports of the flow ``code``, newest version first."""
    return (
        await session.scalars(
            select(ContentImport)
            .where(ContentImport.code == code)
            .order_by(ContentImport.version.desc())
        )
    ).all()


async def by_code(
    session: AsyncSession, model: type[CanDoStatement] | type[ReviewLesson], code: str
) -> CanDoStatement | ReviewLesson | None:
    """The can-do statement or review lesson with this code, or None."""
    row: CanDoStatement | ReviewLesson | None = await session.scalar(
        select(model).where(model.code == code)
    )
    return row


async def assessment_by_code(session: AsyncSession, code: str) -> Assessment | None:
    return await session.scalar(select(Assessment).where(Assessment.code == code))


async def assessments(
    session: AsyncSession, *, kind: str | None = None, plan_code: str | None = None
) -> Sequence[Assessment]:
    """Assessments by code, optionally of one kind and plan."""
    stmt = select(Assessment).order_by(Assessment.code)
    if kind:
        stmt = stmt.where(Assessment.kind == kind)
    if plan_code:
        stmt = stmt.where(Assessment.plan_code == plan_code)
    return (await session.scalars(stmt)).all()


async def versions_newest_first(session: AsyncSession) -> Sequence[AssessmentVersion]:
    """Every assessment version, newest version first."""
    return (
        await session.scalars(select(AssessmentVersion).order_by(AssessmentVersion.version.desc()))
    ).all()
