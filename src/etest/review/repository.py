"""Every review query. Decisions are read through the actor's subtree by the organization the
candidate belonged to when the decision was recorded; the rule of :mod:`etest.review.service`
reads them unscoped (a lock belongs to the candidate, whoever looks)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.kit.pagination import Pagination, paginate
from etest.models import Attempt, Organization, ReviewDecision
from etest.models.attempt import AttemptStatus, CtStatus, Kind


def visible(actor: Actor) -> Select[Any]:
    """Decisions of the actor's subtree with the UIC they were recorded under."""
    result: Select[Any] = scoped(
        select(ReviewDecision, Organization.uic), actor, ReviewDecision.organization_id
    )
    return result


async def page(
    session: AsyncSession,
    actor: Actor,
    candidate_id: uuid.UUID,
    level: str | None,
    pagination: Pagination,
) -> tuple[int, list[tuple[ReviewDecision, str]]]:
    """A candidate's decisions, newest first."""
    stmt = visible(actor).where(ReviewDecision.candidate_id == candidate_id)
    if level is not None:
        stmt = stmt.where(ReviewDecision.level == level)
    total, rows = await paginate(
        session, stmt, pagination, ReviewDecision.created_at.desc(), ReviewDecision.id
    )
    return total, [(row[0], row[1]) for row in rows]


async def completed_ct(
    session: AsyncSession, candidate_id: uuid.UUID, level: str | None = None
) -> Sequence[Attempt]:
    """The candidate's finished certification attempts (at ``level``, or all), oldest first."""
    stmt = select(Attempt).where(
        Attempt.candidate_id == candidate_id,
        Attempt.kind == Kind.CT,
        Attempt.status == AttemptStatus.completed,
    )
    if level is not None:
        stmt = stmt.where(Attempt.level == level)
    return (await session.scalars(stmt.order_by(Attempt.started_at, Attempt.id))).all()


async def latest_decisions(
    session: AsyncSession, attempt_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ReviewDecision]:
    """The latest decision that followed each of these failed attempts (the latest rules)."""
    if not attempt_ids:
        return {}
    rows = (
        await session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.attempt_id.in_(attempt_ids))
            .order_by(ReviewDecision.created_at, ReviewDecision.id)
        )
    ).all()
    return {row.attempt_id: row for row in rows if row.attempt_id is not None}


async def ct_running(session: AsyncSession, candidate_id: uuid.UUID, level: str) -> bool:
    """Whether a certification attempt of the candidate at ``level`` is in progress."""
    return (
        await session.scalar(
            select(Attempt.id)
            .where(
                Attempt.candidate_id == candidate_id,
                Attempt.kind == Kind.CT,
                Attempt.level == level,
                Attempt.status == AttemptStatus.in_progress,
            )
            .limit(1)
        )
        is not None
    )


async def decision_of(
    session: AsyncSession, attempt_id: uuid.UUID
) -> tuple[ReviewDecision, str, str] | None:
    """The latest decision that followed a failed attempt, with the UIC and path of the
    organization it was recorded under (the caller checks that the actor covers it)."""
    row = (
        await session.execute(
            select(ReviewDecision, Organization.uic, Organization.path)
            .join(Organization, Organization.id == ReviewDecision.organization_id)
            .where(ReviewDecision.attempt_id == attempt_id)
            .order_by(ReviewDecision.created_at.desc(), ReviewDecision.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def pending_review() -> ColumnElement[bool]:
    """A filter on :class:`Attempt` rows: a ``needs_review`` certification attempt that no
    decision followed yet and that is still the candidate's last word at its level (no later
    finished attempt there, no pass there). Correlated subqueries: one query for a whole list."""
    other = aliased(Attempt)
    same_level = and_(
        other.candidate_id == Attempt.candidate_id,
        other.kind == Kind.CT,
        other.level == Attempt.level,
        other.status == AttemptStatus.completed,
    )
    return and_(
        Attempt.kind == Kind.CT,
        Attempt.level_result == CtStatus.needs_review,
        ~exists().where(ReviewDecision.attempt_id == Attempt.id),
        ~exists().where(same_level, other.started_at > Attempt.started_at),
        ~exists().where(same_level, other.passed.is_(True)),
    )


def review_decided() -> ColumnElement[bool]:
    """A filter on :class:`Attempt` rows: a ``needs_review`` attempt some decision followed."""
    return and_(
        Attempt.kind == Kind.CT,
        Attempt.level_result == CtStatus.needs_review,
        exists().where(ReviewDecision.attempt_id == Attempt.id),
    )


async def is_pending(session: AsyncSession, attempt_id: uuid.UUID) -> bool:
    """:func:`pending_review` for one attempt."""
    return (
        await session.scalar(select(Attempt.id).where(Attempt.id == attempt_id, pending_review()))
        is not None
    )
