"""Review decisions of a candidate: record the oral review's outcome, read the history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from etest.deps import ActorDep, SessionDep
from etest.kit.pagination import PaginationDep
from etest.kit.schemas import TEXT_QUERY
from etest.review import service
from etest.review.schemas import ReviewCreate, ReviewOut, ReviewPage

router = APIRouter(prefix="/api/v1/candidates", tags=["reviews"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found (or outside the caller's organizations)"}
}


@router.post(
    "/{candidate_id}/reviews",
    response_model=ReviewOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **_PROBLEMS,
        403: {"description": "A viewer may not record reviews"},
        409: {"description": "No review pending at this level"},
    },
)
async def record_review(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID, body: ReviewCreate
) -> ReviewOut:
    """Record the oral review after the last failed certification test at a level:
    ``grant`` lets the candidate start one more attempt there, ``confirm`` keeps the lock."""
    return await service.record_decision(session, actor, candidate_id, body)


@router.get("/{candidate_id}/reviews", response_model=ReviewPage, responses=_PROBLEMS)
async def list_reviews(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    candidate_id: uuid.UUID,
    level: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=32)] = None,
) -> ReviewPage:
    """The candidate's review decisions, newest first, and ``pending``: the levels where it
    waits for one."""
    return await service.list_reviews(session, actor, candidate_id, level, pagination)
