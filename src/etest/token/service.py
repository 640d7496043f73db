"""Token rules: a live organization, a plan of its contract, a level of the candidate's plan, a
test with content, at most one live token per candidate and scope, codes shown once, resets
audited.

A reset voids the token's unfinished attempt, but attempts belong to the attempt package, and
``attempt`` imports ``token`` (finishing marks the token completed), so ``token`` cannot import
``attempt`` (tests/test_architecture.py: no package cycle). The reset therefore calls the
:data:`ResetHook` callbacks registered with :func:`on_reset`, synchronously and in its own
transaction (a rolled-back reset voids nothing); the composition at the top registers the
attempt package's (``etest.tasks``, imported by the app). A reset with no hook registered is a
programming error and raises instead of silently leaving the attempt running (issue 12)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.config import Settings
from etest.errors import EtestError, InvalidValue
from etest.kit.secrets import digest, new_token_code
from etest.models import Candidate, Organization, Plan, TestToken
from etest.models.base import utcnow
from etest.models.token import LIVE_STATUSES
from etest.organization import repository as org_repository
from etest.organization.service import allowed_plans, require_live
from etest.plan.errors import PlanNotAllowed
from etest.plan.service import get_plan
from etest.token import repository
from etest.token.errors import (
    AssessmentMissing,
    CandidateDisabled,
    LevelNotInPlan,
    NoPlan,
    TokenExists,
    TokenNotLive,
)
from etest.token.schemas import TokenIssue

ResetHook = Callable[[AsyncSession, TestToken], Awaitable[int]]
"""Called by :func:`reset` in its transaction with the token being reset (already voided or
expired, before its replacement is issued); voids what of that token another package owns
and returns how many attempts it voided (the audit row's ``voided_attempts``)."""

RESET_HOOKS: list[ResetHook] = []


def on_reset(hook: ResetHook) -> ResetHook:
    """Register ``hook`` to run on every token reset (once, however often it is registered)."""
    if hook not in RESET_HOOKS:
        RESET_HOOKS.append(hook)
    return hook


def mark_started(token: TestToken) -> None:
    """An attempt was started with ``token`` (the attempt package calls this: the token's
    state is the token package's)."""
    token.status = "started"


def mark_used(token: TestToken) -> None:
    """An attempt of ``token`` finished: a live token is used up (``completed``); a revoked one
    stays revoked."""
    if token.status in LIVE_STATUSES:
        token.status = "completed"


def effective_status(token: TestToken) -> str:
    """``expired`` for a live token past its expiry, whatever the stored status says."""
    if token.status in LIVE_STATUSES and token.expires_at <= utcnow():
        return "expired"
    return token.status


async def issue(
    session: AsyncSession, actor: Actor, settings: Settings, body: TokenIssue
) -> tuple[TestToken, str, str]:
    """Issue a token; returns it, the candidate's UIC and the one-time code."""
    actor.require("write")
    if body.candidate_id is not None:
        candidate, uic = await candidate_repository.get(session, actor, body.candidate_id)
    else:
        within = (
            None if body.uic is None else await org_repository.get_by_uic(session, actor, body.uic)
        )
        candidate, uic = await candidate_repository.get_by_email(
            session, actor, str(body.email), within
        )
    org = await candidate_repository.get_org(session, candidate)
    await require_live(session, org)
    plan_code = candidate.plan_code or org.plan_code
    if plan_code is None:
        raise NoPlan("Neither the candidate nor the organization has a plan.")
    plan = await get_plan(session, plan_code)
    await check_issuable(session, org, plan, body.type, body.level)
    if body.type == "PT" and candidate.disabled:
        raise CandidateDisabled("The candidate is disabled for further placement tests.")
    token, uic, code = await insert_token(
        session,
        actor,
        settings,
        candidate,
        uic,
        body.type,
        body.level,
        plan.code,
        body.expires_in_days,
        not_before=body.not_before,
    )
    token.accommodations = body.accommodations.stored() if body.accommodations else None
    token.language = body.language
    await session.flush()
    record(  # who issued which token to whom (the API's and the console's issues alike)
        session,
        actor,
        "token.issue",
        target_type="token",
        target_id=token.id,
        organization_id=candidate.organization_id,
        details={
            "type": token.type,
            "level": token.level,
            "candidate_id": str(candidate.id),
            "expires_at": token.expires_at.isoformat(),
            **({"accommodations": token.accommodations} if token.accommodations else {}),
            **({"not_before": token.not_before.isoformat()} if token.not_before else {}),
        },
    )
    return token, uic, code


async def check_issuable(
    session: AsyncSession, org: Organization, plan: Plan, type_: str, level: str | None
) -> None:
    """The plan is in the organization's contract (422 ``plan-not-allowed``: a plan the
    organization no longer has), the level is in the plan (422 ``level-not-in-plan``) and the
    test has content (422 ``assessment-unavailable``): a token that cannot be used is not
    issued."""
    if plan.code not in await allowed_plans(session, org):
        raise PlanNotAllowed(
            f"The plan {plan.code!r} is not (or no longer) part of the contract of {org.uic!r}."
        )
    if type_ == "PT":
        assessment = plan.pt_assessment
    else:
        found = [str(lv["ct_assessment"]) for lv in plan.levels if lv["level"] == level]
        if not found:
            raise LevelNotInPlan(f"The level {level!r} is not part of the plan {plan.code!r}.")
        assessment = found[0]
    if not await repository.has_content(session, assessment):
        raise AssessmentMissing(
            f"No content is loaded for the {type_}"
            f"{f' {level}' if level else ''} test of the plan {plan.code!r} "
            f"(assessment {assessment!r})."
        )


async def insert_token(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    candidate: Candidate,
    uic: str,
    type_: str,
    level: str | None,
    plan_code: str,
    expires_in_days: int | None,
    *,
    not_before: datetime | None = None,
    open_link_id: uuid.UUID | None = None,
) -> tuple[TestToken, str, str]:
    """Insert a token for a checked request (live organization, level in plan); the caller has
    done those checks. Returns the token, the UIC and the one-time code. ``not_before``: a
    test window's start (422 when it is not before the expiry); ``open_link_id``: the open
    link that registered the candidate."""
    scope = "PT" if type_ == "PT" else f"CT:{level}"
    await repository.expire_stale(session, candidate.id, scope)
    live = await repository.live_for(session, candidate.id, scope)
    if live is not None:
        raise TokenExists(f"A live {scope} token exists for this candidate.", token_id=str(live))
    expires_at = utcnow() + timedelta(days=expires_in_days or settings.token_ttl_days)
    if not_before is not None and not_before >= expires_at:
        raise InvalidValue(
            f"not_before ({not_before.isoformat()}) must come before the token expires "
            f"({expires_at.isoformat(timespec='seconds')}): give a later expires_in_days."
        )
    code = new_token_code()
    token = TestToken(
        candidate_id=candidate.id,
        type=type_,
        level=level,
        scope=scope,
        plan_code=plan_code,
        digest=digest(settings.pepper(), code),
        expires_at=expires_at,
        issued_by=actor.subject,
        not_before=not_before,
        open_link_id=open_link_id,
    )
    try:
        async with session.begin_nested():
            session.add(token)
    except IntegrityError as exc:  # a concurrent issue won the race for the live slot
        raise TokenExists(f"A live {scope} token exists for this candidate.") from exc
    return token, uic, code


def _void(token: TestToken, reason: str | None) -> None:
    token.status = "revoked"
    token.revoked_at = utcnow()
    token.revoke_reason = reason


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    token: TestToken,
    reason: str | None,
    **details: Any,
) -> None:
    candidate = await session.get(Candidate, token.candidate_id)
    assert candidate is not None
    record(
        session,
        actor,
        action,
        target_type="token",
        target_id=token.id,
        organization_id=candidate.organization_id,
        reason=reason,
        details={"type": token.type, "level": token.level, **details},
    )


async def revoke(session: AsyncSession, actor: Actor, token: TestToken, reason: str | None) -> None:
    actor.require("write")
    if effective_status(token) not in LIVE_STATUSES:
        raise TokenNotLive(
            f"The token is {effective_status(token)}; only a live token can be revoked."
        )
    _void(token, reason)
    await session.flush()
    await _audit(session, actor, "token.revoke", token, reason)


async def reset(
    session: AsyncSession, actor: Actor, settings: Settings, token: TestToken, uic: str, reason: str
) -> tuple[TestToken, str, str]:
    """Void the token and, through the :data:`ResetHook` callbacks (the attempt package's),
    its unfinished attempt, and issue a new one; one audit row records both.

    Works on a token in any state: a completed or expired token is kept as it is and replaced,
    which is how an admin lets a candidate take the test again."""
    if not RESET_HOOKS:
        raise RuntimeError(
            "token reset has no on_reset hook: the attempt package's must be registered "
            "(etest.tasks does it; import it before resetting a token)"
        )
    actor.require("reset_token")
    candidate = await session.get(Candidate, token.candidate_id)
    assert candidate is not None
    org = await candidate_repository.get_org(session, candidate)
    await require_live(session, org)
    await check_issuable(
        session, org, await get_plan(session, token.plan_code), token.type, token.level
    )
    if token.status in LIVE_STATUSES:
        if effective_status(token) == "expired":
            token.status = "expired"
        else:
            _void(token, reason)
        await session.flush()
    voided = 0
    for hook in RESET_HOOKS:
        voided += await hook(session, token)
    if token.type == "PT":
        candidate.disabled = False  # "disabled after PT" lasts until an admin resets
    new, _, code = await insert_token(
        session, actor, settings, candidate, uic, token.type, token.level, token.plan_code, None
    )
    new.accommodations = token.accommodations  # the new token is for the same test
    new.language = token.language
    await session.flush()
    token.replaced_by_id = new.id
    await _audit(
        session,
        actor,
        "token.reset",
        token,
        reason,
        new_token_id=str(new.id),
        voided_attempts=voided,
    )
    return new, uic, code


def take_url(settings: Settings, code: str) -> str:
    """The link that opens the test with ``code`` (the API's ``take_url``, the handouts')."""
    return f"{settings.base_url.rstrip('/')}/take?token={quote(code)}"


@dataclass(frozen=True)
class Issued:
    """A token just issued (or reset) with its one-time code, and what a handout prints."""

    token: TestToken
    candidate: Candidate
    uic: str
    code: str


@dataclass(frozen=True)
class Refused:
    """A candidate of a batch who got no token, and why (the problem's detail)."""

    candidate_id: uuid.UUID
    label: str
    reason: str


@dataclass
class Batch:
    issued: list[Issued] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


async def issue_many(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    candidate_ids: Sequence[uuid.UUID],
    *,
    type_: str,
    level: str | None,
    expires_in_days: int | None,
    not_before: datetime | None = None,
    accommodations: dict[str, Any] | None = None,
) -> Batch:
    """Issue one token per candidate through :func:`issue` (every rule, one live token per
    scope), each in its own savepoint: a refused candidate (no plan, a live token already,
    outside the actor's subtree: "no such candidate") is reported with the reason and the
    others are issued. The role is checked once, before any candidate."""
    actor.require("write")
    batch = Batch()
    for candidate_id in dict.fromkeys(candidate_ids):
        try:
            async with session.begin_nested():
                token, uic, code = await issue(
                    session,
                    actor,
                    settings,
                    TokenIssue(
                        candidate_id=candidate_id,
                        type=type_,
                        level=level,
                        expires_in_days=expires_in_days,
                        not_before=not_before,
                        accommodations=accommodations,
                    ),
                )
        except EtestError as exc:
            label = await repository.candidate_label(session, actor, candidate_id)
            batch.refused.append(Refused(candidate_id, label or str(candidate_id), exc.detail))
            continue
        candidate = await session.get(Candidate, candidate_id)
        assert candidate is not None
        batch.issued.append(Issued(token, candidate, uic, code))
    return batch
