"""Every query of the attempt package (the delivery hot path's Core statements, built once,
and the ORM reads of start, finish and the sweeper). Row locks are taken here, where the
statement is built; the service decides what to do with the rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    AttemptItem,
    Candidate,
    CanDoStatement,
    Item,
    Organization,
    Response,
    TestToken,
)
from etest.models import ReviewLesson as LessonRow
from etest.models.attempt import AttemptStatus

# The hot path's statements, built once: Core statements on the tables (not ORM entities) with
# bound parameters skip the ORM's per-call statement construction and compilation context, which
# cost more CPU than the round trips themselves (bench/delivery_queries.py).
ITEMS_T = AttemptItem.metadata.tables[AttemptItem.__tablename__]
RESPONSES_T = Response.metadata.tables[Response.__tablename__]
_SERVED_JOIN = ITEMS_T.outerjoin(
    RESPONSES_T,
    (RESPONSES_T.c.attempt_id == ITEMS_T.c.attempt_id)
    & (RESPONSES_T.c.position == ITEMS_T.c.position),
)
STEPS = (
    select(
        ITEMS_T.c.position,
        ITEMS_T.c.item_id,
        ITEMS_T.c.served_at,
        ITEMS_T.c.deadline,
        RESPONSES_T.c.correct,
        RESPONSES_T.c.points,
    )
    .select_from(_SERVED_JOIN)
    .where(ITEMS_T.c.attempt_id == bindparam("attempt_id"))
    .order_by(ITEMS_T.c.position)
)
AT_POSITION = (
    select(
        ITEMS_T.c.item_id,
        ITEMS_T.c.served_at,
        ITEMS_T.c.deadline,
        ITEMS_T.c.option_order,
        ITEMS_T.c.target_order,
        RESPONSES_T.c.answer,
        RESPONSES_T.c.timed_out,
        RESPONSES_T.c.answered_at,
    )
    .select_from(_SERVED_JOIN)
    .where(
        ITEMS_T.c.attempt_id == bindparam("attempt_id"),
        ITEMS_T.c.position == bindparam("position"),
    )
)
POSITIONS = (
    select(
        ITEMS_T.c.position,
        ITEMS_T.c.item_id,
        RESPONSES_T.c.answer,
        RESPONSES_T.c.correct,
        RESPONSES_T.c.points,
        RESPONSES_T.c.max_points,
        RESPONSES_T.c.timed_out,
        RESPONSES_T.c.answered_at,
    )
    .select_from(_SERVED_JOIN)
    .where(ITEMS_T.c.attempt_id == bindparam("attempt_id"))
    .order_by(ITEMS_T.c.position)
)
_ATTEMPTS_T = Attempt.metadata.tables[Attempt.__tablename__]


class LiveFacts(NamedTuple):
    """What the hot path reads of an attempt (the rest of the row is needed only to finish
    it); see :class:`Facts`."""

    id: uuid.UUID
    status: str
    deadline: datetime | None
    seed: int
    kind: str
    level: str | None
    candidate_id: uuid.UUID
    started_at: datetime
    assessment_version_id: uuid.UUID
    accommodations: dict[str, Any] | None  # recorded at start: the extra-time factor
    organization_id: uuid.UUID  # the pages link its brand (web.brand)


# labelled: the served item's columns (``deadline``) keep their own names in the same row
FACTS = tuple(_ATTEMPTS_T.c[name].label(f"attempt_{name}") for name in LiveFacts._fields)
LIVE_STEPS = (
    select(*FACTS, *STEPS.selected_columns)
    .select_from(_ATTEMPTS_T.outerjoin(_SERVED_JOIN, ITEMS_T.c.attempt_id == _ATTEMPTS_T.c.id))
    .where(_ATTEMPTS_T.c.id == bindparam("attempt_id"))
    .order_by(ITEMS_T.c.position)
)
LIVE_AT_POSITION = (
    select(*FACTS, *AT_POSITION.selected_columns)
    .select_from(
        _ATTEMPTS_T.outerjoin(
            _SERVED_JOIN,
            (ITEMS_T.c.attempt_id == _ATTEMPTS_T.c.id)
            & (ITEMS_T.c.position == bindparam("position")),
        )
    )
    .where(_ATTEMPTS_T.c.id == bindparam("attempt_id"))
)
_ATTEMPTS_SEEN = Attempt.metadata.tables[Attempt.__tablename__].alias("seen")
SEEN_ANY_LEVEL = (
    select(ITEMS_T.c.item_id)
    .join(_ATTEMPTS_SEEN, _ATTEMPTS_SEEN.c.id == ITEMS_T.c.attempt_id)
    .where(
        _ATTEMPTS_SEEN.c.candidate_id == bindparam("candidate_id"),
        _ATTEMPTS_SEEN.c.id != bindparam("attempt_id"),
        _ATTEMPTS_SEEN.c.kind == bindparam("kind"),
        _ATTEMPTS_SEEN.c.started_at < bindparam("started_at"),
    )
)
SEEN_AT_LEVEL = SEEN_ANY_LEVEL.where(_ATTEMPTS_SEEN.c.level == bindparam("level"))


async def items_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> Sequence[Item]:
    """The item rows of these ids (every item an assessment version's engine can serve)."""
    return (await session.scalars(select(Item).where(Item.id.in_(ids)))).all()


async def latest_version(session: AsyncSession, code: str) -> AssessmentVersion | None:
    """The newest loaded version of the assessment ``code``."""
    return await session.scalar(
        select(AssessmentVersion)
        .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
        .where(Assessment.code == code)
        .order_by(AssessmentVersion.version.desc())
        .limit(1)
    )


async def token_with_candidate_and_org(
    session: AsyncSession, token_digest: str
) -> tuple[TestToken, Candidate, Organization] | None:
    """The token of this digest with its candidate and organization; the token's row is locked
    (``FOR NO KEY UPDATE`` on PostgreSQL) so starts of one token queue."""
    found = (
        await session.execute(
            select(TestToken, Candidate, Organization)
            .join(Candidate, Candidate.id == TestToken.candidate_id)
            .join(Organization, Organization.id == Candidate.organization_id)
            .where(TestToken.digest == token_digest)
            .with_for_update(of=TestToken, key_share=True)
        )
    ).first()
    if found is None:
        return None
    return found[0], found[1], found[2]


async def latest_attempt_of(session: AsyncSession, token_id: uuid.UUID) -> Attempt | None:
    """The token's most recently started attempt."""
    return await session.scalar(
        select(Attempt)
        .where(Attempt.token_id == token_id)
        .order_by(Attempt.started_at.desc())
        .limit(1)
    )


async def open_attempt_of(session: AsyncSession, token_id: uuid.UUID) -> Attempt | None:
    """The token's attempt in progress, if any."""
    return await session.scalar(
        select(Attempt).where(Attempt.token_id == token_id, Attempt.status == "in_progress")
    )


async def completed_count(session: AsyncSession, candidate_id: uuid.UUID, kind: str) -> int:
    """How many attempts of this kind the candidate completed."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.candidate_id == candidate_id,
                Attempt.kind == kind,
                Attempt.status == "completed",
            )
        )
        or 0
    )


async def completed_cts(
    session: AsyncSession, candidate_id: uuid.UUID, level: str | None
) -> Sequence[Attempt]:
    """The candidate's completed CT attempts at ``level``, oldest first."""
    return (
        await session.scalars(
            select(Attempt)
            .where(
                Attempt.candidate_id == candidate_id,
                Attempt.kind == "CT",
                Attempt.level == level,
                Attempt.status == "completed",
            )
            .order_by(Attempt.started_at)
        )
    ).all()


async def last_served(session: AsyncSession, attempt_id: uuid.UUID) -> AttemptItem | None:
    """The attempt's highest served position."""
    return await session.scalar(
        select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id)
        .order_by(AttemptItem.position.desc())
        .limit(1)
    )


async def lock_token(session: AsyncSession, token_id: uuid.UUID) -> None:
    """Lock the token's row (``FOR NO KEY UPDATE``: the lock start takes)."""
    await session.execute(
        select(TestToken.id).where(TestToken.id == token_id).with_for_update(key_share=True)
    )


async def status_of(session: AsyncSession, attempt_id: uuid.UUID) -> str | None:
    """The attempt's status as a new statement reads it (not the identity map)."""
    return await session.scalar(select(Attempt.status).where(Attempt.id == attempt_id))


async def can_do_statements(session: AsyncSession, codes: list[str]) -> Sequence[CanDoStatement]:
    """The Can-Do statements of these codes."""
    return (
        await session.scalars(select(CanDoStatement).where(CanDoStatement.code.in_(codes)))
    ).all()


async def can_do_at_level(session: AsyncSession, level: str) -> Sequence[CanDoStatement]:
    """The Can-Do statements of a level, by skill then code (the PT result page lists them)."""
    return (
        await session.scalars(
            select(CanDoStatement)
            .where(CanDoStatement.level == level)
            .order_by(CanDoStatement.skill, CanDoStatement.code)
        )
    ).all()


async def review_lessons(session: AsyncSession, codes: list[str]) -> Sequence[LessonRow]:
    """The review lessons of these codes."""
    return (await session.scalars(select(LessonRow).where(LessonRow.code.in_(codes)))).all()


async def due_attempts(
    session: AsyncSession, before: datetime, limit: int = 500
) -> Sequence[Attempt]:
    """Attempts in progress whose deadline is before ``before`` (at most ``limit``)."""
    return (
        await session.scalars(
            select(Attempt)
            .where(
                Attempt.status == AttemptStatus.in_progress,
                Attempt.deadline.is_not(None),
                Attempt.deadline < before,
            )
            .limit(limit)
        )
    ).all()


async def has_served_items(session: AsyncSession, attempt_id: uuid.UUID) -> bool:
    """Whether any item was served in the attempt."""
    return bool(await session.scalar(select(exists().where(AttemptItem.attempt_id == attempt_id))))


async def any_listening(session: AsyncSession, ids: list[uuid.UUID]) -> bool:
    """Whether any of these items is a listening item."""
    return bool(
        await session.scalar(select(exists().where(Item.id.in_(ids), Item.skill == "listening")))
    )


async def any_timed(session: AsyncSession, ids: list[uuid.UUID]) -> bool:
    """Whether any of these items has its own time limit."""
    return bool(
        await session.scalar(
            select(exists().where(Item.id.in_(ids), Item.time_limit_seconds.is_not(None)))
        )
    )


async def void_open_attempt_of(
    session: AsyncSession, token_id: uuid.UUID, *, reason: str, at: datetime
) -> int:
    """Void the token's attempt in progress (one at most: ``uq_attempts_open_token``), finished
    at ``at`` for ``reason``; returns how many were voided. One conditional ``UPDATE``: an
    attempt a concurrent finish completed first stays completed."""
    attempts = Attempt.metadata.tables[Attempt.__tablename__]
    voided = await session.scalars(
        attempts.update()
        .where(attempts.c.token_id == token_id, attempts.c.status == AttemptStatus.in_progress)
        .values(status=AttemptStatus.voided, finish_reason=reason, finished_at=at)
        .returning(attempts.c.id)
    )
    return len(voided.all())
