"""Every query of the item bank's life cycle: the scored responses a calibration reads, the
items they belong to, exposure counts, and the assessment versions that publishing renews.

The responses of every organization are read (a calibration pools the whole service's data),
so only the global roles that run the item bank may call these: :func:`require_calibrator`.
Nothing of a tenant leaves this module but anonymous (attempt id, item, right/wrong) triples
and counts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.errors import Forbidden
from etest.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    AttemptItem,
    CalibrationRun,
    Item,
    Response,
)
from etest.models.attempt import AttemptStatus


def require_calibrator(actor: Actor) -> None:
    """Content managers and global superadmins: a calibration reads every organization's
    responses, which a superadmin scoped to a subtree may not."""
    actor.require("manage_content")
    if actor.role == "superadmin" and not actor.is_global:
        raise Forbidden("Calibration pools every organization's responses: global roles only.")


@dataclass(frozen=True)
class Scope:
    """Whose responses: attempts of the assessment ``assessment_id`` (any version), or the
    items with ``item_codes`` in any attempt; finished (completed) in ``[start, end)``."""

    assessment_id: uuid.UUID | None
    item_codes: tuple[str, ...]
    start: datetime | None
    end: datetime | None

    def finished(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Attempt.status == AttemptStatus.completed]
        if self.start is not None:
            conditions.append(Attempt.finished_at >= self.start)
        if self.end is not None:
            conditions.append(Attempt.finished_at < self.end)
        if self.assessment_id is not None:
            versions = select(AssessmentVersion.id).where(
                AssessmentVersion.assessment_id == self.assessment_id
            )
            conditions.append(Attempt.assessment_version_id.in_(versions))
        return conditions

    def items(self) -> list[ColumnElement[bool]]:
        return [Item.code.in_(self.item_codes)] if self.item_codes else []


async def assessment_by_code(session: AsyncSession, code: str) -> Assessment | None:
    return await session.scalar(select(Assessment).where(Assessment.code == code))


async def scored_responses(
    session: AsyncSession, scope: Scope
) -> Sequence[tuple[uuid.UUID, uuid.UUID, bool, int | None]]:
    """(attempt id, item id, correct, points) of every scored response in the scope, by
    attempt; ``points`` is None for an item scored 0/1. A timed-out answer is stored as wrong
    (no point) and counts as wrong, as in scoring."""
    stmt = (
        select(Response.attempt_id, Response.item_id, Response.correct, Response.points)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .join(Item, Item.id == Response.item_id)
        .where(*scope.finished(), *scope.items())
        .order_by(Response.attempt_id, Response.position)
    )
    return [(a, i, bool(c), p) for a, i, c, p in (await session.execute(stmt)).all()]


async def response_counts(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Scored responses per item code in the scope (the cheap check before a run is queued)."""
    stmt = (
        select(Item.code, func.count())
        .select_from(Response)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .join(Item, Item.id == Response.item_id)
        .where(*scope.finished(), *scope.items())
        .group_by(Item.code)
    )
    return {code: int(n) for code, n in (await session.execute(stmt)).all()}


async def exposure_counts(session: AsyncSession, scope: Scope) -> tuple[dict[str, int], int]:
    """Finished attempts that were served each item code, and the finished attempts of the
    scope (an assessment's; for a set of items, those served any of them)."""
    served = (
        select(Item.code, func.count(func.distinct(AttemptItem.attempt_id)))
        .select_from(AttemptItem)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(Item, Item.id == AttemptItem.item_id)
        .where(*scope.finished(), *scope.items())
        .group_by(Item.code)
    )
    per_code = {code: int(n) for code, n in (await session.execute(served)).all()}
    if scope.assessment_id is not None:
        total = select(func.count()).select_from(Attempt).where(*scope.finished())
    else:
        total = (
            select(func.count(func.distinct(AttemptItem.attempt_id)))
            .select_from(AttemptItem)
            .join(Attempt, Attempt.id == AttemptItem.attempt_id)
            .join(Item, Item.id == AttemptItem.item_id)
            .where(*scope.finished(), *scope.items())
        )
    return per_code, int(await session.scalar(total) or 0)


async def items_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[Item]:
    if not ids:
        return []
    return (await session.scalars(select(Item).where(Item.id.in_(list(ids))))).all()


async def latest_items(session: AsyncSession, codes: Sequence[str]) -> dict[str, Item]:
    """The latest stored version of each of ``codes`` (missing codes are absent)."""
    if not codes:
        return {}
    latest = (
        select(Item.code, func.max(Item.version).label("v"))
        .where(Item.code.in_(list(codes)))
        .group_by(Item.code)
        .subquery()
    )
    rows = await session.scalars(
        select(Item).join(latest, and_(Item.code == latest.c.code, Item.version == latest.c.v))
    )
    return {item.code: item for item in rows}


async def latest_assessment_versions(
    session: AsyncSession,
) -> Sequence[tuple[Assessment, AssessmentVersion]]:
    """Every assessment with its newest version (the one new attempts get)."""
    newest = (
        select(AssessmentVersion.assessment_id, func.max(AssessmentVersion.version).label("v"))
        .group_by(AssessmentVersion.assessment_id)
        .subquery()
    )
    stmt = (
        select(Assessment, AssessmentVersion)
        .join(AssessmentVersion, AssessmentVersion.assessment_id == Assessment.id)
        .join(
            newest,
            and_(
                AssessmentVersion.assessment_id == newest.c.assessment_id,
                AssessmentVersion.version == newest.c.v,
            ),
        )
        .order_by(Assessment.code)
    )
    return [(a, v) for a, v in (await session.execute(stmt)).all()]


async def calibration_run(
    session: AsyncSession, run_id: uuid.UUID, *, lock: bool = False
) -> CalibrationRun | None:
    """The run, locked for update (PostgreSQL) when ``lock``: publishing twice at once must
    find it published the second time."""
    stmt = select(CalibrationRun).where(CalibrationRun.id == run_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def placed_abilities(
    session: AsyncSession, assessment_code: str
) -> list[tuple[float, float]]:
    """The ability estimate and its SE of every finished placement of this assessment (any
    version) that placed its candidate: what an ``estimated`` prior is computed from."""
    rows = await session.scalars(
        select(Attempt.outcome)
        .join(AssessmentVersion, AssessmentVersion.id == Attempt.assessment_version_id)
        .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
        .where(
            Assessment.code == assessment_code,
            Attempt.kind == "PT",
            Attempt.status == AttemptStatus.completed,
        )
    )
    return [
        (float(o["theta"]), float(o.get("se") or 0.0))
        for o in rows
        if o and o.get("status") == "placed" and o.get("theta") is not None
    ]


def pools_responses(actor: Actor) -> bool:
    """True for the roles :func:`require_calibrator` lets read every organization's responses
    (content managers and global superadmins): they alone see pooled item statistics."""
    return actor.can("manage_content") and not (actor.role == "superadmin" and not actor.is_global)


@dataclass(frozen=True)
class ItemStatistics:
    """One item version on the finished attempts (PT and CT) of every organization: times
    served, answered (not timed out), correct, the mean time of its answers, and the sums a
    point-biserial against the rest score needs (x the item score, y the attempt's other
    correct answers): the item-statistics report's figures (``etest.report``), for one item."""

    n: int
    answered: int
    correct: int
    sy: float
    sxy: float
    syy: float
    mean_ms: float | None

    @property
    def p_value(self) -> float | None:
        return self.correct / self.n if self.n else None


_CORRECT = case((Response.correct.is_(True), 1), else_=0)


async def item_statistics(
    session: AsyncSession, actor: Actor, item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ItemStatistics]:
    """The statistics of these item versions (items never served on a finished attempt are
    absent). Pooled over every organization, so for :func:`require_calibrator`'s roles only."""
    require_calibrator(actor)
    if not item_ids:
        return {}
    ids = list(item_ids)
    finished = Attempt.status == AttemptStatus.completed
    answer = and_(
        Response.attempt_id == AttemptItem.attempt_id, Response.position == AttemptItem.position
    )
    attempts = (
        select(AttemptItem.attempt_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(finished, AttemptItem.item_id.in_(ids))
    )
    totals = (
        select(AttemptItem.attempt_id.label("attempt_id"), func.sum(_CORRECT).label("total"))
        .select_from(AttemptItem)
        .outerjoin(Response, answer)
        .where(AttemptItem.attempt_id.in_(attempts))
        .group_by(AttemptItem.attempt_id)
        .subquery("totals")
    )
    rest = totals.c.total - _CORRECT
    answered = case(
        (and_(Response.attempt_id.is_not(None), Response.timed_out.is_(False)), 1), else_=0
    )
    stmt = (
        select(
            AttemptItem.item_id,
            func.count(),
            func.sum(answered),
            func.sum(_CORRECT),
            func.sum(rest),
            func.sum(_CORRECT * rest),
            func.sum(rest * rest),
            func.avg(Response.time_spent_ms),
        )
        .select_from(AttemptItem)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(totals, totals.c.attempt_id == AttemptItem.attempt_id)
        .outerjoin(Response, answer)
        .where(finished, AttemptItem.item_id.in_(ids))
        .group_by(AttemptItem.item_id)
    )
    return {
        item_id: ItemStatistics(
            n=int(n),
            answered=int(a or 0),
            correct=int(sx or 0),
            sy=float(sy or 0),
            sxy=float(sxy or 0),
            syy=float(syy or 0),
            mean_ms=float(ms) if ms is not None else None,
        )
        for item_id, n, a, sx, sy, sxy, syy, ms in (await session.execute(stmt)).all()
    }
