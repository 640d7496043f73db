"""The life of an attempt around its items: start or resume with a token, finish (idempotently)
with an outcome and the ``attempt.finished`` outbox event in the same transaction, the sweeper of
expired attempts, and what the start page shows. Serving and answering items:
:mod:`etest.attempt.delivery`; the rules they decide by: :mod:`etest.attempt.rules`.

Every function works from rows only (attempt, served items, responses) and the pinned assessment
version, so any process can serve any attempt; services flush, the caller commits."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import pinned, repository, rules
from etest.attempt.device import Device
from etest.attempt.engines import Decision, Version
from etest.attempt.errors import (
    AssessmentUnavailable,
    TokenNotFound,
)
from etest.attempt.live import session_live
from etest.attempt.outcome import (
    AttemptStatus,
    CantDo,
    Kind,
    Outcome,
    PtStatus,
    ReviewLesson,
    Sitting,
    Step,
    compute,
    dump,
    wanted_codes,
)
from etest.attempt.repository import POSITIONS
from etest.attempt.secret import check_secret
from etest.candidate import accommodations
from etest.config import Settings
from etest.errors import Conflict, NotFound
from etest.kit.secrets import digest
from etest.models import (
    AssessmentVersion,
    Attempt,
    Candidate,
    Organization,
    Plan,
    TestToken,
)
from etest.models.base import utcnow
from etest.organization.service import require_live
from etest.outbox.jobs import enqueue, outbox_id
from etest.review.service import ensure_may_start_ct
from etest.token import service as token_service

# ---------------------------------------------------------------------------- start / resume


async def _latest_version(session: AsyncSession, code: str) -> AssessmentVersion:
    version = await repository.latest_version(session, code)
    if version is None:
        raise AssessmentUnavailable(f"No content is loaded for the assessment {code!r}.")
    return version


async def _assessment_and_number(
    session: AsyncSession, token: TestToken, candidate_id: uuid.UUID, plan: Plan
) -> tuple[str, int]:
    """The assessment a new attempt of ``token`` takes and the attempt's number (its kind's, and
    for a CT its level's); a CT only where the retake policy and the review decisions allow
    (403 ``needs-review``: docs/review.md)."""
    if token.type == Kind.PT:
        return plan.pt_assessment, 1 + await repository.completed_count(
            session, candidate_id, Kind.PT
        )
    code = next(str(lv["ct_assessment"]) for lv in plan.levels if lv["level"] == token.level)
    previous = await repository.completed_cts(session, candidate_id, token.level)
    await ensure_may_start_ct(session, candidate_id, token.level, plan, previous)
    return code, len(previous) + 1


def _new_attempt(
    token: TestToken,
    candidate_id: uuid.UUID,
    organization_id: uuid.UUID,
    plan_code: str,
    version_id: uuid.UUID,
    number: int,
    device: Device,
) -> Attempt:
    """The attempt row a token starts. Its deadline is set when the first item is served
    (etest.attempt.rules.Serve): time on the start page and the sound check does not count."""
    return Attempt(
        token_id=token.id,
        candidate_id=candidate_id,
        organization_id=organization_id,
        assessment_version_id=version_id,
        kind=token.type,
        level=token.level,
        plan_code=plan_code,
        seed=secrets.randbits(62),
        attempt_number=number,
        started_at=utcnow(),
        **device.columns(),
    )


async def _started_meanwhile(
    session: AsyncSession, token_id: uuid.UUID, exc: IntegrityError
) -> Attempt:
    """Not expected behind the token's lock: should a writer that skipped the lock have created
    the open attempt meanwhile, its attempt is the one to resume."""
    winner = await repository.open_attempt_of(session, token_id)
    if winner is None:
        raise Conflict("The test is being started on another device; try again.") from exc
    return winner


async def start(
    session: AsyncSession, settings: Settings, code: str, *, device: Device
) -> tuple[Attempt, bool]:
    """Start an attempt with a token, or resume its open one; returns (attempt, resumed).

    Idempotent under races: the token's row is locked (``FOR NO KEY UPDATE`` on PostgreSQL;
    SQLite's ``BEGIN IMMEDIATE`` serialises the whole transaction), so devices starting one
    token at once queue here and every one after the first resumes the attempt it created."""
    found = await repository.token_with_candidate_and_org(
        session, digest(settings.pepper(), code.strip())
    )
    if found is None:
        raise TokenNotFound("No test token with this code.")
    token, candidate, org = found
    existing = await repository.latest_attempt_of(session, token.id)
    opening = rules.opening(token, existing.status if existing else None, utcnow())
    if opening == rules.Opening.show:
        assert existing is not None
        return existing, True
    await require_live(session, org)
    if opening == rules.Opening.resume:
        assert existing is not None
        await expire_if_due(session, existing)
        return existing, True
    rules.require_may_start(token.type, candidate.disabled)
    plan = await session.get(Plan, token.plan_code)
    assert plan is not None
    code_, number = await _assessment_and_number(session, token, candidate.id, plan)
    version = await _latest_version(session, code_)
    attempt = _new_attempt(token, candidate.id, org.id, plan.code, version.id, number, device)
    # what the test runs under is recorded once: a later change to the candidate or token
    # changes no attempt already started (docs/take.md, Accommodations)
    attempt.accommodations = accommodations.effective(
        candidate.accommodations, token.accommodations
    )
    try:
        async with session.begin_nested():
            session.add(attempt)
    except IntegrityError as exc:
        return await _started_meanwhile(session, token.id, exc), True
    token_service.mark_started(token)
    return attempt, False


# ---------------------------------------------------------------------------- finishing


async def positions(session: AsyncSession, attempt_id: uuid.UUID) -> Sequence[Any]:
    """Every served position in order with its item and answer (``answered_at`` None: not
    answered): ``position``, ``item_id``, ``answer``, ``correct``, ``points``,
    ``max_points``, ``timed_out``, ``answered_at``. One Core query, plain rows: what finishing
    and the state read."""
    return await session_live(session).rows(POSITIONS, {"attempt_id": attempt_id})


async def expire_if_due(session: AsyncSession, attempt: Attempt) -> bool:
    """Finish an attempt past its deadline, with finish time = deadline (the sweeper's rule)."""
    at = rules.expiry(attempt, utcnow())
    if at is None:
        return False
    await finish(session, attempt, reason="deadline", at=at)
    return True


async def finish(
    session: AsyncSession,
    attempt: Attempt,
    *,
    reason: str = "finished",
    at: datetime | None = None,
    decided: rules.Stop | None = None,
) -> Attempt:
    """Finish the attempt (idempotent), compute its outcome and write ``attempt.finished``.
    ``decided``: the engine's stop, taken by the caller on the answers it read; reused while
    they are still the answers (else the engine decides again on what is stored now).

    Idempotent under races too: see :func:`_still_open`."""
    if not rules.may_finish(attempt) or not await _still_open(session, attempt):
        return attempt
    served = await positions(session, attempt.id)
    version = await pinned.load_version(session, attempt.assessment_version_id)
    decision = await _stop(session, attempt, version, served, decided)
    finished_at = at or utcnow()
    plan = await session.get(Plan, attempt.plan_code)
    assert plan is not None
    result = await _outcome(session, attempt, plan, version, decision, served, finished_at, reason)
    outcome = dump(result)
    attempt.status = AttemptStatus.completed
    attempt.finished_at = finished_at
    attempt.finish_reason = reason
    attempt.outcome = outcome
    attempt.level_result = result.level if result.kind == Kind.PT else result.status
    attempt.passed = None if result.kind == Kind.PT else result.passed
    attempt.score = None if result.kind == Kind.PT else result.score
    org = await _apply_effects(session, attempt, result)
    await _announce(session, attempt, org, outcome)
    await session.flush()
    return attempt


async def _announce(
    session: AsyncSession, attempt: Attempt, org: Organization, outcome: dict[str, Any]
) -> None:
    """``attempt.finished`` in the outbox, in the finishing transaction."""
    finished_at = attempt.finished_at
    assert finished_at is not None
    # the event's id is the outbox's rule for (topic, key): one event per attempt
    key = str(attempt.id)
    await enqueue(
        session,
        "attempt.finished",
        {
            "event_id": str(outbox_id("attempt.finished", key)),
            "attempt_id": str(attempt.id),
            "candidate_id": str(attempt.candidate_id),
            "uic": org.uic,
            "kind": attempt.kind,
            "level": attempt.level,
            "finished_at": finished_at.isoformat(),
            "outcome": outcome,
        },
        key=key,
        organization_id=org.id,
    )


async def _stop(
    session: AsyncSession,
    attempt: Attempt,
    version: Version,
    served: Sequence[Any],
    decided: rules.Stop | None,
) -> Decision:
    """The engine's last decision on the answers stored: the caller's stop while they are the
    answers it was decided on, else asked again."""
    trial = pinned.pilots(version)
    history = tuple(rules.operational(served, trial.ids if trial else frozenset()))
    if decided is not None and decided.history == history:
        return decided.decision
    seen = await pinned.seen_before(session_live(session), attempt)
    return version.engine.decide(attempt.seed, list(history), set(seen))


async def _apply_effects(session: AsyncSession, attempt: Attempt, result: Outcome) -> Organization:
    """What finishing changes outside the attempt (:func:`etest.attempt.rules.effects`): its
    token, and the candidate of a placed PT. Returns the attempt's organization."""
    token = await session.get(TestToken, attempt.token_id)
    candidate = await session.get(Candidate, attempt.candidate_id)
    org = await session.get(Organization, attempt.organization_id)
    assert token is not None and candidate is not None and org is not None
    placed = result.level if result.kind == Kind.PT and result.status == PtStatus.placed else None
    effects = rules.effects(
        attempt.kind, placed, bool(org.settings.get("disable_candidate_after_pt"))
    )
    token_service.mark_used(token)
    if effects.pt_level is not None:
        candidate.pt_level = effects.pt_level
    if effects.disable_candidate:
        candidate.disabled = True
    return org


async def _still_open(session: AsyncSession, attempt: Attempt) -> bool:
    """Whether ``attempt`` is still open once this transaction holds the right to finish it.

    PostgreSQL: the token's row is locked (``FOR NO KEY UPDATE``, the lock :func:`start` takes,
    so both take the token before the attempt and cannot deadlock) and the attempt's status is
    read again by a new statement, which sees what a concurrent finisher committed while this
    one waited; then ``attempt`` is refreshed to that finished state. SQLite: ``BEGIN
    IMMEDIATE`` already serialises the whole transaction that read ``attempt``."""
    assert session.bind is not None
    if session.bind.dialect.name != "postgresql":
        return True
    await repository.lock_token(session, attempt.token_id)
    status = await repository.status_of(session, attempt.id)
    if status == AttemptStatus.in_progress:
        return True
    await session.refresh(attempt)
    return False


async def _outcome(
    session: AsyncSession,
    attempt: Attempt,
    plan: Plan,
    version: Version,
    decision: Decision,
    served: Sequence[Any],
    finished_at: datetime,
    reason: str,
) -> Outcome:
    """Load what the outcome is computed from (the served operational items: pilot items count
    for nothing; for a failed CT the Can't-Do statements and review lessons of the missed ones)
    and compute it (:func:`etest.attempt.outcome.compute`)."""
    trial = pinned.pilots(version)
    steps = []
    for s in served:
        if trial is not None and s.item_id in trial.ids:
            continue
        item = await pinned.item(session, s.item_id)
        steps.append(
            Step(
                skill=item.skill,
                level=item.level,
                answered=s.answered_at is not None,
                correct=bool(s.correct),
                timed_out=bool(s.timed_out),
                can_do=item.can_do,
                review_lessons=tuple(item.review_lessons),
                points=s.points,
                max_points=s.max_points,
            )
        )
    sitting = _sitting(attempt, version, finished_at, reason)
    early = (
        _early_placement(version, decision)
        if sitting.kind == Kind.PT and decision.level is None
        else None
    )
    result = compute(sitting, plan, decision, steps, early=early)
    if result.kind == Kind.CT and not result.passed:
        statements, lessons = await _cant_do_and_review(session, *wanted_codes(steps))
        result = compute(sitting, plan, decision, steps, statements=statements, lessons=lessons)
    return result


def _sitting(attempt: Attempt, version: Version, finished_at: datetime, reason: str) -> Sitting:
    """What the outcome needs of the attempt and its pinned version."""
    return Sitting(
        kind=Kind(attempt.kind),
        level=attempt.level,
        attempt_number=attempt.attempt_number,
        started_at=attempt.started_at,
        finished_at=finished_at,
        reason=reason,
        assessment=version.assessment.code,
        assessment_version=version.version.version,
        min_answers=version.engine.min_answers,
    )


def _early_placement(version: Version, decision: Decision) -> tuple[str, float | None]:
    from etest import irt

    if (
        decision.theta is not None
        and decision.se is not None
        and version.version.engine["type"] == "irt"
    ):
        placement = irt.place(decision.theta, decision.se, version.version.engine["cut_scores"])
        return version.plan_levels[placement.level], round(placement.position, 1)
    return version.plan_levels[0], None


async def _cant_do_and_review(
    session: AsyncSession, codes: list[str], lesson_codes: list[str]
) -> tuple[dict[str, CantDo], dict[str, ReviewLesson]]:
    """The Can't-Do statements and review lessons of these codes, by code."""
    statements = {
        c.code: CantDo(code=c.code, skill=c.skill, level=c.level, text=c.cannot_text)
        for c in await repository.can_do_statements(session, codes)
    }
    lessons = {
        r.code: ReviewLesson(code=r.code, title=r.title, url=r.url)
        for r in await repository.review_lessons(session, lesson_codes)
    }
    return statements, lessons


async def sweep(session: AsyncSession) -> int:
    """Finish every attempt past its deadline (finish time = deadline). Returns how many."""
    due = await repository.due_attempts(session, utcnow() - rules.GRACE)
    for attempt in due:
        await finish(session, attempt, reason="deadline", at=attempt.deadline)
    return len(due)


async def has_started(session: AsyncSession, attempt: Attempt) -> bool:
    """Whether the attempt served its first item (the start page is behind it)."""
    return await repository.has_served_items(session, attempt.id)


@dataclass
class StartFacts:
    """What the start page shows of an attempt's pinned version."""

    version: Version
    listening: bool  # the pool has listening items (the sound check is offered)
    item_limits: bool  # items are timed one by one


async def start_facts(session: AsyncSession, attempt: Attempt) -> StartFacts:
    """The pinned version of ``attempt`` and what its item pool asks of the candidate."""
    version = await pinned.load_version(session, attempt.assessment_version_id)
    engine = version.version.engine
    ids = pinned.engine_item_ids(engine)
    listening = await repository.any_listening(session, ids)
    item_limits = bool(engine.get("item_time_limits")) or await repository.any_timed(session, ids)
    return StartFacts(version, listening, item_limits)


async def get_for_candidate(
    session: AsyncSession, settings: Settings, attempt_id: uuid.UUID, secret: str | None
) -> Attempt:
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None or not check_secret(settings.pepper(), attempt_id, secret):
        raise NotFound("No such attempt.")
    return attempt
