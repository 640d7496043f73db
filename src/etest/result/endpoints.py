"""Results API for staff: list outcomes, read one, read a candidate's latest PT result."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from etest.deps import ActorDep, SessionDep
from etest.kit.pagination import PaginationDep
from etest.kit.schemas import TEXT_QUERY, Page, Uic, UtcDatetime
from etest.result import service
from etest.result.schemas import Kind, ResultDetail, ResultSummary, ReviewFilter, Status

router = APIRouter(tags=["results"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found (or outside the caller's organizations)"}
}


@router.get("/api/v1/results", response_model=Page[ResultSummary])
async def list_results(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    kind: Annotated[Kind | None, Query(alias="type")] = None,
    uic: Annotated[Uic | None, Query(description="an organization of the caller's subtree")] = None,
    include_descendants: Annotated[
        bool, Query(description="with uic: also the organizations below it")
    ] = True,
    finished_from: Annotated[
        UtcDatetime | None,
        Query(alias="from", description="finished at or after (ISO 8601; no zone means UTC)"),
    ] = None,
    finished_to: Annotated[
        UtcDatetime | None, Query(alias="to", description="finished before (exclusive)")
    ] = None,
    level: Annotated[
        str | None,
        Query(pattern=TEXT_QUERY, max_length=32, description="PT: placed level; CT: level tested"),
    ] = None,
    passed: Annotated[bool | None, Query(description="CT only")] = None,
    candidate_id: uuid.UUID | None = None,
    email: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=320)] = None,
    status: Annotated[
        Status | None, Query(description="CT: pass, fail, needs_review; PT: placed, unplaced")
    ] = None,
    review: Annotated[
        ReviewFilter | None,
        Query(description="CT needs_review: pending (no decision yet) or decided"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            pattern=TEXT_QUERY,
            max_length=200,
            description="part of the candidate's email, first or last name, or 'first last' "
            "(case-insensitive); the console's candidate search",
        ),
    ] = None,
) -> Page[ResultSummary]:
    """Finished attempts of the caller's subtree as outcome summaries, newest first."""
    return await service.list_results(
        session,
        actor,
        pagination,
        kind=kind,
        uic=uic,
        include_descendants=include_descendants,
        finished_from=finished_from,
        finished_to=finished_to,
        level=level,
        passed=passed,
        candidate_id=candidate_id,
        email=email,
        status=status,
        review=review,
        search=q,
    )


@router.get(
    "/api/v1/results/{attempt_id}",
    response_model=ResultDetail,
    responses={**_PROBLEMS, 409: {"description": "The attempt has not finished"}},
)
async def get_result(actor: ActorDep, session: SessionDep, attempt_id: uuid.UUID) -> ResultDetail:
    """The full result of a finished attempt: per-skill results, Can't-Do and review lists,
    every served position (no item keys, no answers)."""
    return await service.get_result(session, actor, attempt_id)


@router.get(
    "/api/v1/candidates/{candidate_id}/results/pt", response_model=ResultDetail, responses=_PROBLEMS
)
async def get_candidate_pt_result(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID
) -> ResultDetail:
    """The candidate's latest finished placement test (404 ``no-result`` when there is none)."""
    return await service.latest_pt_result(session, actor, candidate_id)
