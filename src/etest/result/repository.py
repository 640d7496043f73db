"""Every results query. Attempts are scoped by the organization they were taken in (a candidate
who moves away leaves their results with the organization that ran the test), so an attempt
outside the actor's subtree is never listed and its id reads as missing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.kit.pagination import Pagination, paginate
from etest.models import Attempt, AttemptItem, Candidate, Item, Organization, Response
from etest.models.attempt import AttemptStatus, Kind, PtStatus
from etest.review.repository import pending_review, review_decided

#: Columns of the candidate shown with every result (not the whole row: no phone, no flags).
_CANDIDATE = (Candidate.email, Candidate.first_name, Candidate.last_name)


@dataclass(frozen=True)
class ResultFilter:
    """The list filters, already validated: ``organization`` is a visible organization."""

    kind: str | None = None
    organization: Organization | None = None
    include_descendants: bool = True
    finished_from: datetime | None = None
    finished_to: datetime | None = None
    level: str | None = None
    passed: bool | None = None
    candidate_id: uuid.UUID | None = None
    email: str | None = None
    status: str | None = None
    review: str | None = None


@dataclass(frozen=True)
class ResultRow:
    """A result's attempt with what is shown of its candidate and organization."""

    attempt: Attempt
    email: str
    first_name: str
    last_name: str
    uic: str


def visible(actor: Actor) -> Select[Any]:
    """Attempts of the actor's subtree with their candidate's name and email and the UIC, one
    row each: (Attempt, email, first_name, last_name, uic)."""
    stmt = select(Attempt, *_CANDIDATE, Organization.uic).join(
        Candidate, Candidate.id == Attempt.candidate_id
    )
    result: Select[Any] = scoped(stmt, actor, Attempt.organization_id)
    return result


def _filtered(actor: Actor, f: ResultFilter) -> Select[Any]:
    stmt = visible(actor).where(Attempt.status == AttemptStatus.completed)
    if f.kind is not None:
        stmt = stmt.where(Attempt.kind == f.kind)
    if f.organization is not None:
        stmt = stmt.where(
            Organization.path.startswith(f.organization.path, autoescape=True)
            if f.include_descendants
            else Attempt.organization_id == f.organization.id
        )
    if f.finished_from is not None:
        stmt = stmt.where(Attempt.finished_at >= f.finished_from)
    if f.finished_to is not None:
        stmt = stmt.where(Attempt.finished_at < f.finished_to)
    if f.level is not None:
        # a PT's placed level is in level_result; a CT's level is the level it tested
        stmt = stmt.where(
            or_(
                and_(Attempt.kind == Kind.PT, Attempt.level_result == f.level),
                and_(Attempt.kind == Kind.CT, Attempt.level == f.level),
            )
        )
    if f.passed is not None:
        stmt = stmt.where(Attempt.passed.is_(f.passed))
    if f.candidate_id is not None:
        stmt = stmt.where(Attempt.candidate_id == f.candidate_id)
    if f.email is not None:
        stmt = stmt.where(Candidate.email == f.email.lower())
    if f.status in (PtStatus.placed, PtStatus.unplaced):  # a PT's level_result: level or null
        placed = Attempt.level_result.is_not(None)
        stmt = stmt.where(
            Attempt.kind == Kind.PT, placed if f.status == PtStatus.placed else ~placed
        )
    elif f.status is not None:  # a CT's status is stored in level_result
        stmt = stmt.where(Attempt.kind == Kind.CT, Attempt.level_result == f.status)
    if f.review is not None:
        stmt = stmt.where(pending_review() if f.review == "pending" else review_decided())
    return stmt


async def page(
    session: AsyncSession, actor: Actor, f: ResultFilter, pagination: Pagination
) -> tuple[int, list[ResultRow]]:
    """One count and one page query, newest finish first."""
    total, rows = await paginate(
        session, _filtered(actor, f), pagination, Attempt.finished_at.desc(), Attempt.id
    )
    return total, [ResultRow(*row) for row in rows]


async def get(session: AsyncSession, actor: Actor, attempt_id: uuid.UUID) -> ResultRow | None:
    """The attempt (any status) if it lies in the actor's subtree."""
    row = (await session.execute(visible(actor).where(Attempt.id == attempt_id))).first()
    return None if row is None else ResultRow(*row)


async def latest_pt(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID
) -> ResultRow | None:
    """The candidate's most recently finished placement test within the actor's subtree."""
    row = (
        await session.execute(
            visible(actor)
            .where(
                Attempt.candidate_id == candidate_id,
                Attempt.kind == Kind.PT,
                Attempt.status == AttemptStatus.completed,
            )
            .order_by(Attempt.finished_at.desc(), Attempt.id)
            .limit(1)
        )
    ).first()
    return None if row is None else ResultRow(*row)


async def steps(session: AsyncSession, attempt_id: uuid.UUID) -> Sequence[Any]:
    """Every served position with its item's code, skill and level and its response (if any)
    with the device it came from, in order: one query, and no item key or answer is read."""
    return (
        await session.execute(
            select(
                AttemptItem.position,
                AttemptItem.item_id,
                AttemptItem.served_at,
                Item.code,
                Item.skill,
                Item.level,
                Response.correct,
                Response.timed_out,
                Response.time_spent_ms,
                Response.answered_at,
                Response.ip,
                Response.user_agent,
            )
            .join(Item, Item.id == AttemptItem.item_id)
            .outerjoin(
                Response,
                and_(
                    Response.attempt_id == AttemptItem.attempt_id,
                    Response.position == AttemptItem.position,
                ),
            )
            .where(AttemptItem.attempt_id == attempt_id)
            .order_by(AttemptItem.position)
        )
    ).all()
