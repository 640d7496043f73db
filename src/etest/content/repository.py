"""Every query of the content bank: items, assessments and their versions, imports, can-do
statements and review lessons. Content is global (no actor filter): the endpoints check who may
read it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, case, cast, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.models import (
    Assessment,
    AssessmentVersion,
    BackgroundTask,
    CanDoStatement,
    ContentImport,
    Item,
    Response,
    ReviewLesson,
)

#: Items that can still be served: a right answer to one of them is its key, so a candidate's
#: answer to one is shown only to roles that read keys (content managers, superadmins);
#: correctness to every role (docs/roles.md "Answers in reports"). The reports, the results'
#: answer log and the console share this rule.
LIVE_ITEM_STATUSES = ("pilot", "active")


def answer_unless_live() -> ColumnElement[Any]:
    """``responses.answer``, or null for an item that can still be served."""
    return case((Item.status.in_(LIVE_ITEM_STATUSES), null()), else_=Response.answer)


async def is_item_media(session: AsyncSession, sha256: str) -> bool:
    """Some item (any version) shows or plays the media object ``sha256``: a stimulus, option or
    target names it (``{"media": "<sha256>", ...}`` in their JSON). Only such objects are public
    at ``/media``; a candidate's photo, stored in the same place, is not."""
    quoted = f'%"{sha256}"%'  # a hex digest: no LIKE wildcard can hide in it
    stmt = (
        select(Item.id)
        .where(
            or_(
                cast(Item.stimulus, Text).like(quoted),
                cast(Item.options, Text).like(quoted),
                cast(Item.targets, Text).like(quoted),
            )
        )
        .limit(1)
    )
    return (await session.scalar(stmt)) is not None


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


async def versions_of_item(session: AsyncSession, code: str) -> Sequence[Item]:
    """Every stored version of the item ``code``, newest first."""
    return (
        await session.scalars(select(Item).where(Item.code == code).order_by(Item.version.desc()))
    ).all()


async def items_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Item]:
    """The items with these ids (missing ids are absent)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Item).where(Item.id.in_(list(ids))))
    return {item.id: item for item in rows}


async def assessment(session: AsyncSession, assessment_id: uuid.UUID) -> Assessment | None:
    return await session.get(Assessment, assessment_id)


async def versions_of_assessment(
    session: AsyncSession, assessment_id: uuid.UUID
) -> Sequence[AssessmentVersion]:
    """The versions of one assessment, newest first."""
    return (
        await session.scalars(
            select(AssessmentVersion)
            .where(AssessmentVersion.assessment_id == assessment_id)
            .order_by(AssessmentVersion.version.desc())
        )
    ).all()


async def versions_using(
    session: AsyncSession, item_id: uuid.UUID
) -> list[tuple[Assessment, AssessmentVersion]]:
    """The assessment versions whose engine names this item version (operational or pilot),
    newest first. Engines are JSON of every dialect's own kind, so the ids are looked for in
    Python over the versions (a few hundred rows at most)."""
    needle = str(item_id)
    rows = await session.execute(
        select(Assessment, AssessmentVersion)
        .join(AssessmentVersion, AssessmentVersion.assessment_id == Assessment.id)
        .order_by(Assessment.code, AssessmentVersion.version.desc())
    )
    return [(a, v) for a, v in rows.all() if needle in json.dumps(v.engine)]


async def recent_imports(session: AsyncSession, *, limit: int = 30) -> Sequence[ContentImport]:
    """The latest imported flows (one row per (code, version)), newest first."""
    return (
        await session.scalars(
            select(ContentImport).order_by(ContentImport.imported_at.desc()).limit(limit)
        )
    ).all()


async def import_tasks(
    session: AsyncSession, actor: Actor, kind: str, *, limit: int = 20
) -> Sequence[BackgroundTask]:
    """The latest background imports of ``kind`` the actor may see: its own, or every one for
    a global superadmin (a content import belongs to no organization)."""
    stmt = select(BackgroundTask).where(BackgroundTask.kind == kind)
    if not actor.is_global:
        stmt = stmt.where(BackgroundTask.requested_by == actor.subject)
    return (
        await session.scalars(stmt.order_by(BackgroundTask.created_at.desc()).limit(limit))
    ).all()
