"""Review rules: when a candidate is in ``needs_review`` at a level, what a decision changes,
and the one rule "may this candidate start another certification test at this level"
(:func:`ensure_may_start_ct`, called by ``attempt.service.start``). Services flush, never commit.

A level's state is read from the candidate's finished CT attempts there and the plan's retake
policy: in review when ``max_attempts`` of them failed and none passed. The latest decision that
followed the latest failed attempt rules: none (pending) or ``confirm`` keeps the lock, ``grant``
opens it for one attempt — the next finished attempt becomes the latest failure (locked again,
pending) or a pass (the matter ends)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.kit.levels import LEVELS, require_level
from etest.kit.pagination import Pagination
from etest.models import Attempt, Candidate, Plan, ReviewDecision
from etest.models.attempt import CtStatus, Kind
from etest.plan import policy
from etest.review import repository
from etest.review.errors import NeedsReview, NoReviewPending
from etest.review.schemas import (
    PendingReview,
    ResultReview,
    ReviewCreate,
    ReviewOut,
    ReviewPage,
)


@dataclass(frozen=True)
class LevelState:
    """What the retake policy says of one level: failures against ``max_attempts``, a pass,
    and the latest failed attempt (the one a decision follows)."""

    level: str
    plan_code: str
    max_attempts: int
    failures: int
    passed: bool
    last_failed: Attempt | None

    @property
    def in_review(self) -> bool:
        """``needs_review``: the policy's failures are used up and the level is not passed."""
        return (
            not self.passed and self.failures >= self.max_attempts and self.last_failed is not None
        )


def level_state(level: str, plan: Plan, completed: Sequence[Attempt]) -> LevelState:
    """The state of ``level`` from the candidate's finished CT attempts there, oldest first."""
    failures = [a for a in completed if a.passed is False]
    return LevelState(
        level=level,
        plan_code=plan.code,
        max_attempts=policy.max_attempts(plan),
        failures=len(failures),
        passed=any(a.passed for a in completed),
        last_failed=failures[-1] if failures else None,
    )


def _when(decision: ReviewDecision) -> dict[str, Any]:
    return {"decision": decision.decision, "decided_at": decision.created_at.isoformat()}


async def ensure_may_start_ct(
    session: AsyncSession,
    candidate_id: uuid.UUID,
    level: str | None,
    plan: Plan,
    completed: Sequence[Attempt],
) -> None:
    """The one rule for starting a certification attempt at ``level``: allowed until the retake
    policy's failures are used up or after a pass; then only when the latest decision that
    followed the latest failure is a ``grant`` whose attempt has not started yet. Otherwise 403
    ``needs-review``, whose ``review`` member is the decision in force (null: pending).

    ``completed``: the candidate's finished CT attempts at ``level``, oldest first (the caller
    has read them). No query unless the candidate is in review."""
    if level is None:  # a CT token always names its level
        return
    state = level_state(level, plan, completed)
    if not state.in_review:
        return
    assert state.last_failed is not None
    decision = (await repository.latest_decisions(session, [state.last_failed.id])).get(
        state.last_failed.id
    )
    if decision is None:
        raise NeedsReview(
            f"{state.failures} attempts at {level} failed; an oral review by "
            "support is needed before another attempt.",
            review=None,
        )
    day = f"{decision.created_at:%Y-%m-%d}"
    if decision.decision == "confirm":
        raise NeedsReview(
            f"{state.failures} attempts at {level} failed and the oral review "
            f"of {day} confirmed it: no further attempt at this level.",
            review=_when(decision),
        )
    if await repository.ct_running(session, candidate_id, level):
        raise NeedsReview(
            f"The one attempt at {level} that the oral review of {day} granted "
            "has already started.",
            review=_when(decision),
        )


async def _plan(
    session: AsyncSession, candidate: Candidate, completed: Sequence[Attempt]
) -> Plan | None:
    """The candidate's effective plan (its own, else its organization's), else the plan of its
    latest failed attempt: the plan a new token, and so :func:`ensure_may_start_ct`, would use."""
    code = candidate.plan_code
    if code is None:
        code = (await candidate_repository.get_org(session, candidate)).plan_code
    if code is None and completed:
        code = completed[-1].plan_code
    return None if code is None else await session.get(Plan, code)


def _out(decision: ReviewDecision, uic: str) -> ReviewOut:
    return ReviewOut(
        id=decision.id,
        candidate_id=decision.candidate_id,
        uic=uic,
        plan=decision.plan_code,
        level=decision.level,
        decision=decision.decision,
        reason=decision.reason,
        attempt_id=decision.attempt_id,
        actor=decision.actor,
        actor_role=decision.actor_role,
        created_at=decision.created_at,
    )


def _nothing_to_decide(state: LevelState | None, level: str) -> str:
    if state is None or (state.failures == 0 and not state.passed):
        return f"The candidate has no failed certification test at {level}: nothing to review."
    if state.passed:
        return f"The candidate passed {level}: no review is needed."
    return (
        f"{state.failures} of {state.max_attempts} attempts at {level} failed: the retake "
        "policy still allows another attempt, so no review is needed yet."
    )


async def record_decision(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID, body: ReviewCreate
) -> ReviewOut:
    """Record the oral review's outcome at a level where the candidate is in ``needs_review``
    (admin, support, superadmin of the candidate's subtree), audited as ``candidate.review``.

    Refused with 409 ``no-review-pending`` when the candidate is not in review there, or while
    an attempt at the level is running (a granted attempt decides by its outcome). A decision
    may replace an earlier one on the same failure (a confirm reconsidered, a grant not used
    yet): the latest rules."""
    actor.require("record_review")
    candidate, uic = await candidate_repository.get(session, actor, candidate_id)
    completed = await repository.completed_ct(session, candidate.id, body.level)
    plan = await _plan(session, candidate, completed)
    state = None if plan is None else level_state(body.level, plan, completed)
    if state is None or not state.in_review:
        raise NoReviewPending(_nothing_to_decide(state, body.level))
    if await repository.ct_running(session, candidate.id, body.level):
        raise NoReviewPending(
            f"An attempt at {body.level} is in progress: its outcome decides what follows."
        )
    assert state.last_failed is not None
    decision = ReviewDecision(
        candidate_id=candidate.id,
        organization_id=candidate.organization_id,
        plan_code=state.plan_code,
        level=body.level,
        decision=body.decision,
        reason=body.reason,
        attempt_id=state.last_failed.id,
        actor=actor.subject,
        actor_role=actor.role,
    )
    session.add(decision)
    await session.flush()
    record(
        session,
        actor,
        "candidate.review",
        target_type="candidate",
        target_id=candidate.id,
        organization_id=candidate.organization_id,
        reason=body.reason,
        details={
            "level": body.level,
            "plan": state.plan_code,
            "decision": body.decision,
            "attempt_id": str(state.last_failed.id),
            "review_id": str(decision.id),
        },
    )
    return _out(decision, uic)


async def pending_reviews(session: AsyncSession, candidate: Candidate) -> list[PendingReview]:
    """The levels where the candidate is in review and no decision followed the last failure,
    in level order."""
    completed = await repository.completed_ct(session, candidate.id)
    by_level: dict[str, list[Attempt]] = {}
    for attempt in completed:
        if attempt.level is not None:
            by_level.setdefault(attempt.level, []).append(attempt)
    states = []
    for level, attempts in by_level.items():
        plan = await _plan(session, candidate, attempts)
        if plan is not None and (state := level_state(level, plan, attempts)).in_review:
            states.append(state)
    decided = await repository.latest_decisions(
        session, [s.last_failed.id for s in states if s.last_failed is not None]
    )
    pending = [
        PendingReview(
            level=s.level,
            plan=s.plan_code,
            attempt_id=s.last_failed.id,
            failures=s.failures,
            max_attempts=s.max_attempts,
            failed_at=s.last_failed.finished_at,
        )
        for s in states
        if s.last_failed is not None and s.last_failed.id not in decided
    ]
    return sorted(pending, key=lambda p: LEVELS.index(p.level) if p.level in LEVELS else 99)


async def list_reviews(
    session: AsyncSession,
    actor: Actor,
    candidate_id: uuid.UUID,
    level: str | None,
    pagination: Pagination,
) -> ReviewPage:
    """A visible candidate's decisions (of the actor's subtree), newest first, and its
    pending reviews."""
    actor.require("read")
    canonical = require_level(level)
    candidate, _ = await candidate_repository.get(session, actor, candidate_id)
    total, rows = await repository.page(session, actor, candidate.id, canonical, pagination)
    pending = await pending_reviews(session, candidate)
    return ReviewPage(
        items=[_out(d, uic) for d, uic in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
        pending=[p for p in pending if canonical in (None, p.level)],
    )


async def result_review(
    session: AsyncSession, actor: Actor, attempt: Attempt
) -> ResultReview | None:
    """The review of a ``needs_review`` result (null for any other): the latest decision that
    followed it (shown when recorded in the actor's subtree), or whether it is still pending."""
    if attempt.kind != Kind.CT or attempt.level_result != CtStatus.needs_review:
        return None
    found = await repository.decision_of(session, attempt.id)
    if found is not None:
        decision, uic, path = found
        return ResultReview(
            pending=False, decision=_out(decision, uic) if actor.covers(path) else None
        )
    return ResultReview(pending=await repository.is_pending(session, attempt.id), decision=None)
