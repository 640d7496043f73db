"""Every token query, filtered by the actor's subtree (a foreign id reads as missing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.errors import NotFound
from etest.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    Candidate,
    Organization,
    Plan,
    TestToken,
)
from etest.models.base import utcnow
from etest.models.token import LIVE_STATUSES


def visible(actor: Actor) -> Select[TestToken, str]:
    stmt = select(TestToken, Organization.uic).join(
        Candidate, Candidate.id == TestToken.candidate_id
    )
    result: Select[TestToken, str] = scoped(stmt, actor, Candidate.organization_id)
    return result


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


async def void_unfinished_attempts(session: AsyncSession, token_id: uuid.UUID) -> int:
    """Void the token's attempt in progress (reason ``reset``); returns how many were voided.

    The statement is on the attempt's table: it moves to the attempt package's repository when
    that one exists (issue 12, "packages own their state")."""
    result = cast(
        "CursorResult[Any]",
        await session.execute(
            update(Attempt)
            .where(Attempt.token_id == token_id, Attempt.status == "in_progress")
            .values(status="voided", finish_reason="reset", finished_at=utcnow())
        ),
    )
    return result.rowcount


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
