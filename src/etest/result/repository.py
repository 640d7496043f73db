"""Every results query. Attempts are scoped by the organization they were taken in (a candidate
who moves away leaves their results with the organization that ran the test), so an attempt
outside the actor's subtree is never listed and its id reads as missing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.content import repository as content_repository
from etest.kit.pagination import Pagination, paginate
from etest.models import (
    Attempt,
    AttemptItem,
    Candidate,
    Item,
    Organization,
    OutboxEvent,
    Response,
    TestToken,
)
from etest.models.attempt import AttemptStatus, Kind, PtStatus
from etest.models.token import LIVE_STATUSES
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
    #: a candidate search: part of the email, first or last name (case-insensitive)
    search: str | None = None


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
    if f.search:
        needle = f.search.lower()
        stmt = stmt.where(
            or_(
                func.lower(Candidate.email).contains(needle, autoescape=True),
                func.lower(Candidate.first_name).contains(needle, autoescape=True),
                func.lower(Candidate.last_name).contains(needle, autoescape=True),
                func.lower(Candidate.first_name + " " + Candidate.last_name).contains(
                    needle, autoescape=True
                ),
            )
        )
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
                Response.points,
                Response.max_points,
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


#: the reports' rule (``content.repository``): answers to items still in use for key readers
LIVE_ITEM_STATUSES = content_repository.LIVE_ITEM_STATUSES


async def answer_log(
    session: AsyncSession, attempt_id: uuid.UUID, *, reads_keys: bool
) -> Sequence[Any]:
    """Every served position with its item (code, skill, level, type, options and targets),
    the order its options were shown in, and the response: one query. ``answer`` is the
    candidate's answer, null for an item still in use unless ``reads_keys``; ``key`` is the
    item's key for ``reads_keys`` only (null otherwise: it is never read)."""
    answer = Response.answer if reads_keys else content_repository.answer_unless_live()
    key = Item.key if reads_keys else null()
    return (
        await session.execute(
            select(
                AttemptItem.position,
                AttemptItem.served_at,
                AttemptItem.option_order,
                Item.code,
                Item.skill,
                Item.level,
                Item.type,
                Item.status.label("item_status"),
                Item.options,
                Item.targets,
                Item.gaps,
                Response.correct,
                Response.points,
                Response.max_points,
                Response.timed_out,
                Response.time_spent_ms,
                Response.answered_at,
                answer.label("answer"),
                key.label("key"),
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


# ---------------------------------------------------------------------------- the home page
# The counts of the console's home page (result/dashboard.py), each one scoped query.

#: The outbox topic of callback deliveries (``etest.webhook.tasks.TOPIC``: that package sits
#: above this one, so the name is repeated here and a test holds them equal).
WEBHOOK_TOPIC = "webhook.deliver"


async def count_in_progress(session: AsyncSession, actor: Actor) -> int:
    """Attempts of the actor's subtree running now."""
    stmt = scoped(
        select(func.count(Attempt.id)).where(Attempt.status == AttemptStatus.in_progress),
        actor,
        Attempt.organization_id,
    )
    return int(await session.scalar(stmt) or 0)


async def finished_by_kind(session: AsyncSession, actor: Actor, since: datetime) -> dict[str, int]:
    """Attempts of the actor's subtree finished (with a result) since ``since``, by kind."""
    stmt = scoped(
        select(Attempt.kind, func.count(Attempt.id))
        .where(Attempt.status == AttemptStatus.completed, Attempt.finished_at >= since)
        .group_by(Attempt.kind),
        actor,
        Attempt.organization_id,
    )
    return {kind: int(n) for kind, n in (await session.execute(stmt)).all()}


async def placement_levels(
    session: AsyncSession, actor: Actor, since: datetime
) -> dict[str | None, int]:
    """Finished placement tests since ``since`` by placed level (None: unplaced)."""
    stmt = scoped(
        select(Attempt.level_result, func.count(Attempt.id))
        .where(
            Attempt.status == AttemptStatus.completed,
            Attempt.kind == Kind.PT,
            Attempt.finished_at >= since,
        )
        .group_by(Attempt.level_result),
        actor,
        Attempt.organization_id,
    )
    return {level: int(n) for level, n in (await session.execute(stmt)).all()}


async def certification_by_level(
    session: AsyncSession, actor: Actor, since: datetime
) -> dict[str, tuple[int, int]]:
    """Finished certification tests since ``since`` by level: (taken, passed)."""
    passed = func.sum(case((Attempt.passed.is_(True), 1), else_=0))
    stmt = scoped(
        select(Attempt.level, func.count(Attempt.id), passed)
        .where(
            Attempt.status == AttemptStatus.completed,
            Attempt.kind == Kind.CT,
            Attempt.finished_at >= since,
        )
        .group_by(Attempt.level),
        actor,
        Attempt.organization_id,
    )
    return {
        str(level): (int(n), int(p or 0)) for level, n, p in (await session.execute(stmt)).all()
    }


async def count_pending_reviews(session: AsyncSession, actor: Actor) -> int:
    """``needs_review`` certification results of the subtree no decision followed yet."""
    stmt = scoped(
        select(func.count(Attempt.id)).where(
            Attempt.status == AttemptStatus.completed, pending_review()
        ),
        actor,
        Attempt.organization_id,
    )
    return int(await session.scalar(stmt) or 0)


async def failing_callbacks(session: AsyncSession, actor: Actor) -> tuple[int, int]:
    """Callback deliveries of the subtree that failed: (given up — ``dead``, retrying — due
    again after a failed try)."""
    dead = func.sum(case((OutboxEvent.status == "dead", 1), else_=0))
    retrying = func.sum(
        case(
            (and_(OutboxEvent.status.in_(("pending", "running")), OutboxEvent.tries > 0), 1),
            else_=0,
        )
    )
    stmt = scoped(
        select(dead, retrying).where(OutboxEvent.topic == WEBHOOK_TOPIC),
        actor,
        OutboxEvent.organization_id,
    )
    row = (await session.execute(stmt)).one()
    return int(row[0] or 0), int(row[1] or 0)


async def count_expiring_tokens(
    session: AsyncSession, actor: Actor, now: datetime, until: datetime
) -> int:
    """Live tokens (issued, started) of the subtree's candidates whose expiry falls in
    ``(now, until]``: still usable, not for long."""
    stmt = scoped(
        select(func.count(TestToken.id))
        .join(Candidate, Candidate.id == TestToken.candidate_id)
        .where(
            TestToken.status.in_(LIVE_STATUSES),
            TestToken.expires_at > now,
            TestToken.expires_at <= until,
        ),
        actor,
        Candidate.organization_id,
    )
    return int(await session.scalar(stmt) or 0)


async def item_counts(session: AsyncSession) -> Sequence[Any]:
    """Item versions of the bank by (status, level, count): the bank is global content, read by
    every role; the home page shows it to content managers."""
    return (
        await session.execute(
            select(Item.status, Item.level, func.count(Item.id))
            .group_by(Item.status, Item.level)
            .order_by(Item.status, Item.level)
        )
    ).all()
