"""Every report query. Each one starts from attempts and joins their organization, filtered by
the report's :class:`Window` (an organization's subtree, a UTC time range, a level), so a report
never reads a row of another subtree.

The tabular reports pass their column expressions in (the service keeps each header next to
its expression); the aggregates (Can't-Do, item statistics) are computed by the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, distinct, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from etest.models import (
    Attempt,
    AttemptItem,
    BackgroundTask,
    Candidate,
    CanDoStatement,
    Item,
    Organization,
    Response,
)
from etest.models.attempt import AttemptStatus, Kind

#: Any select: the reports' queries differ in their columns only.
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Window:
    """What a report reads: attempts taken in organizations whose path starts with ``path``
    (None: every organization; ``nowhere``: none, for a content manager) at a time in
    ``[start, end)``, at ``level`` when given."""

    path: str | None
    start: datetime
    end: datetime
    level: str | None = None
    nowhere: bool = False

    def subtree(self) -> ColumnElement[bool]:
        if self.nowhere:
            return false()
        if self.path is None:
            return true()
        return Organization.path.startswith(self.path, autoescape=True)

    def during(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)


def _finished(window: Window, *kinds: str) -> list[ColumnElement[bool]]:
    return [
        Attempt.kind.in_(kinds),
        Attempt.status == AttemptStatus.completed,
        window.during(Attempt.finished_at),
        window.subtree(),
    ]


def count(stmt: AnySelect) -> Select[int]:
    """The number of rows ``stmt`` returns (a report's total, for its progress bar)."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def finished_attempts(
    window: Window, kind: str, columns: Sequence[Any], *, failed_only: bool = False
) -> AnySelect:
    """One row per finished attempt of ``kind`` (by finish time), oldest first. ``level`` is the
    placed level of a PT and the level of a CT."""
    stmt = (
        select(*columns)
        .select_from(Attempt)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .join(Organization, Organization.id == Attempt.organization_id)
        .where(*_finished(window, kind))
    )
    if window.level is not None:
        stmt = stmt.where(
            (Attempt.level_result if kind == Kind.PT else Attempt.level) == window.level
        )
    if failed_only:
        stmt = stmt.where(Attempt.passed.is_(False))
    return stmt.order_by(Attempt.finished_at, Attempt.id)


def served_items(
    window: Window,
    columns: Sequence[Any],
    *,
    emails: Sequence[str] = (),
    ct_level: str | None = None,
) -> AnySelect:
    """One row per served item (with its response, if any) of attempts started in the window:
    the candidates with ``emails`` (any kind), or the CTs at ``ct_level``."""
    stmt = (
        select(*columns)
        .select_from(AttemptItem)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .join(Organization, Organization.id == Attempt.organization_id)
        .join(Item, Item.id == AttemptItem.item_id)
        .outerjoin(
            Response,
            and_(
                Response.attempt_id == AttemptItem.attempt_id,
                Response.position == AttemptItem.position,
            ),
        )
        .where(window.during(Attempt.started_at), window.subtree())
    )
    if emails:
        stmt = stmt.where(Candidate.email.in_(list(emails)))
        order: list[Any] = [Candidate.email]
    else:
        stmt = stmt.where(Attempt.kind == Kind.CT, Attempt.level == ct_level)
        order = []
    return stmt.order_by(*order, Attempt.started_at, Attempt.id, AttemptItem.position)


def ct_levels(window: Window) -> AnySelect:
    """The levels with a CT started in the window (one CT-log sheet each)."""
    stmt = (
        select(Attempt.level)
        .distinct()
        .select_from(Attempt)
        .join(Organization, Organization.id == Attempt.organization_id)
        .where(Attempt.kind == Kind.CT, window.during(Attempt.started_at), window.subtree())
    )
    if window.level is not None:
        stmt = stmt.where(Attempt.level == window.level)
    return stmt


def _served_in_finished(window: Window, *kinds: str) -> AnySelect:
    """Served items of finished attempts with their responses, if any (no columns yet)."""
    return (
        select()
        .select_from(AttemptItem)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(Organization, Organization.id == Attempt.organization_id)
        .join(Item, Item.id == AttemptItem.item_id)
        .outerjoin(
            Response,
            and_(
                Response.attempt_id == AttemptItem.attempt_id,
                Response.position == AttemptItem.position,
            ),
        )
        .where(*_finished(window, *kinds))
    )


# An item is missed unless answered correctly: wrong, timed-out and unanswered served items all
# count, as they do in scoring.
_CORRECT = case((Response.correct.is_(True), 1), else_=0)
_MISSED = case((Response.correct.is_(True), 0), else_=1)


def pt_totals(window: Window) -> AnySelect:
    """Finished PTs and distinct candidates in the window: the denominators of Can't-Do."""
    return (
        select(func.count(Attempt.id), func.count(distinct(Attempt.candidate_id)))
        .select_from(Attempt)
        .join(Organization, Organization.id == Attempt.organization_id)
        .where(*_finished(window, Kind.PT))
    )


def cant_do(window: Window) -> AnySelect:
    """Per Can-Do statement linked to items served on finished PTs: times served, times
    missed, attempts and candidates that missed it; most missed first."""
    missed_attempt = case((Response.correct.is_(True), None), else_=Attempt.id)
    missed_candidate = case((Response.correct.is_(True), None), else_=Attempt.candidate_id)
    stmt = (
        _served_in_finished(window, Kind.PT)
        .join(CanDoStatement, CanDoStatement.code == Item.can_do)
        .add_columns(
            CanDoStatement.code,
            CanDoStatement.level,
            CanDoStatement.skill,
            CanDoStatement.text,
            CanDoStatement.cannot_text,
            func.count().label("served"),
            func.sum(_MISSED).label("missed"),
            func.count(distinct(missed_attempt)).label("attempts"),
            func.count(distinct(missed_candidate)).label("candidates"),
        )
        .group_by(
            CanDoStatement.code,
            CanDoStatement.level,
            CanDoStatement.skill,
            CanDoStatement.text,
            CanDoStatement.cannot_text,
        )
    )
    if window.level is not None:
        stmt = stmt.where(CanDoStatement.level == window.level)
    return stmt.order_by(func.sum(_MISSED).desc(), CanDoStatement.code)


def item_stats(window: Window) -> AnySelect:
    """Per item served on finished attempts (PT and CT): exposures, answered, correct, mean
    time, and the sums a point-biserial needs, all aggregated by the database.

    With x the item score (0/1) and y the rest score (the attempt's correct answers minus x),
    the sums n, Σx, Σy, Σxy and Σy² give r = (nΣxy − ΣxΣy) / √((nΣx − (Σx)²)(nΣy² − (Σy)²))
    (x² = x for a 0/1 score)."""
    totals = (
        _served_in_finished(window, Kind.PT, Kind.CT)
        .add_columns(AttemptItem.attempt_id, func.sum(_CORRECT).label("total"))
        .group_by(AttemptItem.attempt_id)
        .subquery("totals")
    )
    rest = totals.c.total - _CORRECT
    answered = case(
        (and_(Response.attempt_id.is_not(None), Response.timed_out.is_(False)), 1), else_=0
    )
    stats = (
        _served_in_finished(window, Kind.PT, Kind.CT)
        .join(totals, totals.c.attempt_id == AttemptItem.attempt_id)
        .add_columns(
            AttemptItem.item_id.label("item_id"),
            func.count().label("n"),
            func.sum(answered).label("answered"),
            func.sum(_CORRECT).label("sx"),
            func.sum(rest).label("sy"),
            func.sum(_CORRECT * rest).label("sxy"),
            func.sum(rest * rest).label("syy"),
            func.avg(Response.time_spent_ms).label("ms"),
        )
        .group_by(AttemptItem.item_id)
        .subquery("stats")
    )
    stmt = select(
        Item.code,
        Item.version,
        Item.id,
        Item.type,
        Item.skill,
        Item.level,
        Item.can_do,
        Item.irt_model,
        Item.irt_a,
        Item.irt_b,
        Item.irt_c,
        stats.c.n,
        stats.c.answered,
        stats.c.sx,
        stats.c.sy,
        stats.c.sxy,
        stats.c.syy,
        stats.c.ms,
    ).join(stats, stats.c.item_id == Item.id)
    if window.level is not None:
        stmt = stmt.where(Item.level == window.level)
    return stmt.order_by(Item.code, Item.version)


#: The kind of background task that builds a report (``report/tasks.py``).
TASK_KIND = "report.build"


async def recent_tasks(
    session: AsyncSession, subject: str, limit: int = 20
) -> Sequence[BackgroundTask]:
    """The report tasks ``subject`` started, newest first."""
    stmt = (
        select(BackgroundTask)
        .where(BackgroundTask.kind == TASK_KIND, BackgroundTask.requested_by == subject)
        .order_by(BackgroundTask.created_at.desc(), BackgroundTask.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()
