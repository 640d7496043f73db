"""Every token query, filtered by the actor's subtree (a foreign id reads as missing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import (
    Assessment,
    AssessmentVersion,
    Candidate,
    Organization,
    Plan,
    TestToken,
)
from etest.models.base import utcnow
from etest.models.token import LIVE_STATUSES
from etest.organization.repository import in_organization


def visible(actor: Actor) -> Select[TestToken, str]:
    stmt = select(TestToken, Organization.uic).join(
        Candidate, Candidate.id == TestToken.candidate_id
    )
    result: Select[TestToken, str] = scoped(stmt, actor, Candidate.organization_id)
    return result


def filtered(
    actor: Actor,
    *,
    now: datetime,
    plan_code: str | None = None,
    candidate_id: uuid.UUID | None = None,
    type_: str | None = None,
    level: str | None = None,
    status: str | None = None,
    within: Organization | None = None,
    include_descendants: bool = True,
) -> Select[TestToken, str]:
    """The actor's tokens matching every filter given, for ``paginate``. ``plan_code`` and
    ``level`` are canonical (an old plan name or level spelling is resolved by the caller);
    ``status`` is the effective status at ``now`` (a live token past its expiry is
    ``expired``, whatever is stored); ``within`` is a visible organization: its subtree, or it
    alone without ``include_descendants``."""
    stmt = visible(actor)
    if plan_code:
        stmt = stmt.where(TestToken.plan_code == plan_code)
    if candidate_id is not None:
        stmt = stmt.where(TestToken.candidate_id == candidate_id)
    if type_ is not None:
        stmt = stmt.where(TestToken.type == type_)
    if level:
        stmt = stmt.where(TestToken.level == level)
    if status is not None:
        live = and_(TestToken.status.in_(LIVE_STATUSES), TestToken.expires_at > now)
        if status in LIVE_STATUSES:
            stmt = stmt.where(TestToken.status == status, TestToken.expires_at > now)
        elif status == "expired":
            stmt = stmt.where(
                or_(TestToken.status == "expired", and_(TestToken.status.in_(LIVE_STATUSES), ~live))
            )
        else:
            stmt = stmt.where(TestToken.status == status)
    if within is not None:
        stmt = stmt.where(
            in_organization(
                within, Candidate.organization_id, include_descendants=include_descendants
            )
        )
    return stmt


async def get(session: AsyncSession, actor: Actor, token_id: uuid.UUID) -> tuple[TestToken, str]:
    row = (await session.execute(visible(actor).where(TestToken.id == token_id))).first()
    if row is None:
        raise NotFound("No such token.")
    return row[0], row[1]


async def expire_stale(session: AsyncSession, candidate_id: uuid.UUID, scope: str) -> None:
    """Store ``expired`` on the candidate's live tokens of ``scope`` past their expiry."""
    await session.execute(
        update(TestToken)
        .where(
            TestToken.candidate_id == candidate_id,
            TestToken.scope == scope,
            TestToken.status.in_(LIVE_STATUSES),
            TestToken.expires_at <= utcnow(),
        )
        .values(status="expired")
    )


async def live_for(session: AsyncSession, candidate_id: uuid.UUID, scope: str) -> uuid.UUID | None:
    """The id of the candidate's live token of ``scope``, if any."""
    return await session.scalar(
        select(TestToken.id).where(
            TestToken.candidate_id == candidate_id,
            TestToken.scope == scope,
            TestToken.status.in_(LIVE_STATUSES),
        )
    )


async def has_content(session: AsyncSession, assessment_code: str) -> bool:
    """Whether any version of the assessment ``assessment_code`` is loaded."""
    found = await session.scalar(
        select(AssessmentVersion.id)
        .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
        .where(Assessment.code == assessment_code)
        .limit(1)
    )
    return found is not None


async def get_by_digest(session: AsyncSession, code_digest: str) -> TestToken | None:
    """The token whose code has this digest, or None."""
    return await session.scalar(select(TestToken).where(TestToken.digest == code_digest))


async def live_tokens(
    session: AsyncSession, candidate_id: uuid.UUID, scope: str
) -> Sequence[TestToken]:
    """The candidate's tokens of ``scope`` stored as live (expired or not)."""
    return (
        await session.scalars(
            select(TestToken).where(
                TestToken.candidate_id == candidate_id,
                TestToken.scope == scope,
                TestToken.status.in_(LIVE_STATUSES),
            )
        )
    ).all()


async def plan_has_pt_content(session: AsyncSession, plan_code: str) -> bool:
    """Whether a version of the plan's placement test is loaded."""
    found = await session.scalar(
        select(AssessmentVersion.id)
        .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
        .join(Plan, Plan.pt_assessment == Assessment.code)
        .where(Plan.code == plan_code)
        .limit(1)
    )
    return found is not None


def listed(
    actor: Actor,
    *,
    now: datetime,
    candidate_id: uuid.UUID | None = None,
    type_: str | None = None,
    level: str | None = None,
    status: str | None = None,
    within: Organization | None = None,
    include_descendants: bool = True,
    expiring_before: datetime | None = None,
    q: str | None = None,
) -> Select[tuple[TestToken, str, Candidate]]:
    """:func:`filtered` with the candidate of each token (the console's list): also only
    live tokens expiring before ``expiring_before`` (and not yet expired), and ``q`` a
    substring of the candidate's names, username or email (case-insensitive, ``%`` and ``_``
    literal)."""
    stmt = filtered(
        actor,
        now=now,
        candidate_id=candidate_id,
        type_=type_,
        level=level,
        status=status,
        within=within,
        include_descendants=include_descendants,
    ).add_columns(Candidate)
    if expiring_before is not None:
        stmt = stmt.where(
            TestToken.status.in_(LIVE_STATUSES),
            TestToken.expires_at > now,
            TestToken.expires_at <= expiring_before,
        )
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                *(
                    col.ilike(pattern, escape="\\")
                    for col in (
                        Candidate.first_name,
                        Candidate.last_name,
                        Candidate.username,
                        Candidate.email,
                    )
                )
            )
        )
    result: Select[tuple[TestToken, str, Candidate]] = stmt
    return result


async def get_with_candidate(
    session: AsyncSession, actor: Actor, token_id: uuid.UUID
) -> tuple[TestToken, str, Candidate]:
    """A visible token with its organization's UIC and its candidate (404 otherwise)."""
    row = (
        await session.execute(visible(actor).add_columns(Candidate).where(TestToken.id == token_id))
    ).first()
    if row is None:
        raise NotFound("No such token.")
    return row[0], row[1], row[2]


async def candidate_label(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID
) -> str | None:
    """How a batch's report names a visible candidate (the email), None when not visible."""
    email: str | None = await session.scalar(
        scoped(select(Candidate.email), actor, Candidate.organization_id).where(
            Candidate.id == candidate_id
        )
    )
    return email
