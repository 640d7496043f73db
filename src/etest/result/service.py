"""Results rules: which attempts have a result, how filters are checked, and how the outcome
stored at finish becomes the staff view. Read-only: nothing here writes."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt.outcome import SKILL_ORDER, AttemptStatus, CtStatus, PtOutcome, load
from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.candidate.accommodations import Accommodations
from etest.errors import NotFound, ReversedDateRange
from etest.kit.levels import require_level
from etest.kit.pagination import Pagination
from etest.kit.schemas import Page
from etest.organization import repository as org_repository
from etest.result import repository
from etest.result.errors import AttemptInProgress, ResultNotFound
from etest.result.repository import ResultFilter, ResultRow
from etest.result.schemas import (
    CandidateRef,
    Device,
    DeviceSeen,
    ResponseOut,
    ResultDetail,
    ResultSummary,
    SkillResult,
    Totals,
)
from etest.review.service import result_review


async def list_results(
    session: AsyncSession,
    actor: Actor,
    pagination: Pagination,
    *,
    kind: str | None = None,
    uic: str | None = None,
    include_descendants: bool = True,
    finished_from: datetime | None = None,
    finished_to: datetime | None = None,
    level: str | None = None,
    passed: bool | None = None,
    candidate_id: uuid.UUID | None = None,
    email: str | None = None,
    status: str | None = None,
    review: str | None = None,
    search: str | None = None,
) -> Page[ResultSummary]:
    """Finished attempts of the actor's subtree, newest first. A foreign ``uic`` is a 404 like
    a missing one; a range whose ``to`` is not after ``from`` is refused (422)."""
    actor.require("read")
    if finished_from is not None and finished_to is not None and finished_to <= finished_from:
        raise ReversedDateRange(
            "'to' must be after 'from' (the range is half-open: from ≤ finished_at < to)."
        )
    canonical = require_level(level)
    organization = None if uic is None else await org_repository.get_by_uic(session, actor, uic)
    if email is not None:  # a global caller may see one email in several customers' trees
        await candidate_repository.require_one_tree(session, actor, [email], organization)
    filters = ResultFilter(
        kind=kind,
        organization=organization,
        include_descendants=include_descendants,
        finished_from=finished_from,
        finished_to=finished_to,
        level=canonical,
        passed=passed,
        candidate_id=candidate_id,
        email=email,
        status=status,
        review=review,
        search=(search.strip() or None) if search else None,
    )
    total, rows = await repository.page(session, actor, filters, pagination)
    return Page(
        items=[summary(row) for row in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


async def get_result(session: AsyncSession, actor: Actor, attempt_id: uuid.UUID) -> ResultDetail:
    """The full result of one attempt of the actor's subtree. An attempt still running is a
    409 ``attempt-in-progress`` (it will have a result); a voided one has none (404)."""
    actor.require("read")
    row = await repository.get(session, actor, attempt_id)
    if row is None:
        raise NotFound("No such result.")
    attempt = row.attempt
    if attempt.status == AttemptStatus.in_progress:
        raise AttemptInProgress("The attempt has not finished yet; its result is not ready.")
    if attempt.status != AttemptStatus.completed or attempt.outcome is None:
        raise NotFound("This attempt was voided (its token was reset); it has no result.")
    result = await detail(session, row)
    result.review = await result_review(session, actor, attempt)
    return result


@dataclass(frozen=True)
class AnswerLine:
    """One served position of a finished attempt as the console's answer log shows it.
    ``answer`` is None when it is withheld (an item still in use, for a role that does not read
    keys: ``answer_withheld``) or when nothing was answered; ``key`` is None unless the caller
    reads keys."""

    position: int
    item_code: str
    skill: str
    level: str | None
    item_type: str
    answered: bool
    correct: bool
    timed_out: bool
    time_spent_ms: int | None
    served_at: datetime
    answered_at: datetime | None
    answer: str | None
    answer_withheld: bool
    key: str | None
    #: An item scored per gap (cloze, gap_match): the points earned and the most it gives
    #: (``correct`` is then full marks); both None for an item scored right or wrong.
    points: int | None = None
    max_points: int | None = None

    @property
    def score(self) -> str | None:
        """``2/3`` for an answer to an item scored per gap, else None (right or wrong says)."""
        if self.max_points is None:
            return None
        return f"{self.points or 0}/{self.max_points}"


async def answer_log(
    session: AsyncSession, actor: Actor, attempt_id: uuid.UUID
) -> list[AnswerLine]:
    """The answer-by-answer log of a finished attempt of the actor's subtree: each served item
    with the answer given, right or not and the time taken. Answers to items still in use and
    every key only for the roles that read keys (docs/roles.md); the same 404 and 409 as
    :func:`get_result`."""
    actor.require("read")
    row = await repository.get(session, actor, attempt_id)
    if row is None:
        raise NotFound("No such result.")
    if row.attempt.status == AttemptStatus.in_progress:
        raise AttemptInProgress("The attempt has not finished yet; its result is not ready.")
    if row.attempt.status != AttemptStatus.completed:
        raise NotFound("This attempt was voided (its token was reset); it has no result.")
    lines = []
    for s in await repository.answer_log(session, attempt_id, reads_keys=actor.reads_keys):
        answered = s.correct is not None and not s.timed_out
        withheld = (
            answered and not actor.reads_keys and s.item_status in repository.LIVE_ITEM_STATUSES
        )
        gaps = getattr(s, "gaps", None)  # selected with the item (cloze, gap_match)
        lines.append(
            AnswerLine(
                position=s.position,
                item_code=s.code,
                skill=s.skill,
                level=s.level,
                item_type=s.type,
                answered=answered,
                correct=bool(s.correct),
                timed_out=bool(s.timed_out),
                time_spent_ms=s.time_spent_ms,
                served_at=s.served_at,
                answered_at=s.answered_at,
                answer=describe_answer(s.type, s.options, s.targets, s.answer, gaps=gaps)
                if answered and not withheld
                else None,
                answer_withheld=withheld,
                key=describe_key(s.type, s.options, s.targets, s.key, gaps=gaps) if s.key else None,
                points=getattr(s, "points", None),
                max_points=getattr(s, "max_points", None),
            )
        )
    return lines


def _labels(choices: Sequence[dict[str, Any]] | None) -> dict[str, str]:
    out = {}
    for c in choices or ():
        text = c.get("text") or (c.get("image") or {}).get("alt") or ""
        out[str(c.get("id"))] = f"{c.get('id')} ({text})" if text else str(c.get("id"))
    return out


def _gap_labels(gaps: Sequence[dict[str, Any]] | None) -> dict[str, dict[str, str]]:
    """Per cloze gap with choices: its choices' labels (a typed gap has none)."""
    return {str(g.get("id")): _labels(g.get("choices")) for g in gaps or ()}


def describe_answer(
    item_type: str,
    options: Sequence[dict[str, Any]] | None,
    targets: Sequence[dict[str, Any]] | None,
    answer: Any,
    *,
    gaps: Sequence[dict[str, Any]] | None = None,
) -> str:
    """An answer as a line of text: the chosen options with their words, the order given, the
    pairs made, or the text typed; per gap (cloze, gap_match) ``gap: what it holds``, the gaps
    in the order the item lists them (hottext: the pieces chosen, with their words)."""
    if answer is None:
        return ""
    if item_type == "cloze" and isinstance(answer, dict):
        choices = _gap_labels(gaps)
        order = [str(g.get("id")) for g in gaps or ()] or sorted(answer)
        return "; ".join(
            f"{gap}: {choices.get(gap, {}).get(str(answer[gap]), str(answer[gap]))}"
            for gap in [*order, *sorted(set(answer) - set(order))]
            if answer.get(gap)
        )
    if item_type == "gap_match" and isinstance(answer, list):
        words = _labels(options)
        placed = {str(g): str(w) for w, g in answer}
        order = [str(g.get("id")) for g in gaps or ()] or sorted(placed)
        return "; ".join(
            f"{gap}: {words.get(placed[gap], placed[gap])}"
            for gap in [*order, *sorted(set(placed) - set(order))]
            if gap in placed
        )
    if isinstance(answer, str):
        return _labels(options).get(answer, answer)
    opts, tgts = _labels(options), _labels(targets)
    if isinstance(answer, list):
        if answer and all(isinstance(p, list) and len(p) == 2 for p in answer):
            return "; ".join(
                f"{opts.get(str(a), str(a))} → {tgts.get(str(b), str(b))}" for a, b in answer
            )
        joiner = " → " if item_type == "ordering" else ", "
        return joiner.join(opts.get(str(a), str(a)) for a in answer)
    return str(answer)


def describe_key(
    item_type: str,
    options: Sequence[dict[str, Any]] | None,
    targets: Sequence[dict[str, Any]] | None,
    key: dict[str, Any],
    *,
    gaps: Sequence[dict[str, Any]] | None = None,
) -> str:
    """An item's key as a line of text (for the roles that read keys)."""
    if item_type == "cloze" and isinstance(key.get("gaps"), dict):
        choices = _gap_labels(gaps)
        parts = []
        for gap, gap_key in key["gaps"].items():
            if "correct" in gap_key:
                choice = str(gap_key["correct"])
                parts.append(f"{gap}: {choices.get(gap, {}).get(choice, choice)}")
            else:
                parts.append(f"{gap}: " + " | ".join(str(a) for a in gap_key["accepted"]))
        return "; ".join(parts)
    if item_type == "gap_match" and "pairs" in key:
        words = _labels(options)
        fits: dict[str, list[str]] = {str(g.get("id")): [] for g in gaps or ()}
        for word, gap in key["pairs"]:
            fits.setdefault(str(gap), []).append(words.get(str(word), str(word)))
        return "; ".join(f"{gap}: " + " | ".join(ws) for gap, ws in fits.items() if ws)
    if "accepted" in key:
        return " | ".join(str(a) for a in key["accepted"])
    if "order" in key:
        return describe_answer("ordering", options, targets, key["order"])
    if "pairs" in key:
        return describe_answer(item_type, options, targets, key["pairs"])
    if "correct" in key:
        return describe_answer("multiple_choice", options, targets, list(key["correct"]))
    return str(key)


async def latest_pt_result(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID
) -> ResultDetail:
    """The candidate's latest finished placement test. A missing or foreign candidate is the
    usual ``not-found``; a visible candidate without a PT result is ``no-result``."""
    actor.require("read")
    await candidate_repository.get(session, actor, candidate_id)
    row = await repository.latest_pt(session, actor, candidate_id)
    if row is None:
        raise ResultNotFound("This candidate has no finished placement test.")
    return await detail(session, row)


def summary(row: ResultRow) -> ResultSummary:
    """The list view of a result."""
    return ResultSummary.model_validate(_summary_fields(row))


def _summary_fields(row: ResultRow) -> dict[str, Any]:
    attempt = row.attempt
    assert attempt.finished_at is not None and attempt.outcome is not None  # finished only
    o = load(attempt.outcome)  # a PT stored before placements had a status reads as placed
    pt = o if isinstance(o, PtOutcome) else None
    ct = None if isinstance(o, PtOutcome) else o
    return {
        "attempt_id": attempt.id,
        "kind": attempt.kind,
        "candidate": CandidateRef(
            id=attempt.candidate_id,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
        ),
        "uic": row.uic,
        "plan": attempt.plan_code,
        "assessment": o.assessment,
        "assessment_version": o.assessment_version,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "duration_seconds": o.duration_seconds,
        "finish_reason": attempt.finish_reason,
        "attempt_number": attempt.attempt_number,
        "level": pt.level if pt else attempt.level,
        "position": pt.position if pt else None,
        "theta": pt.theta if pt else None,
        "se": pt.se if pt else None,
        "min_answers": pt.min_answers if pt else None,
        "score": attempt.score if ct else None,
        "pass_mark": ct.pass_mark if ct else None,
        "passed": attempt.passed if ct else None,
        "status": o.status,
        "needs_review": ct.status == CtStatus.needs_review if ct else None,
        "totals": Totals(
            correct=o.correct,
            incorrect=o.served - o.correct,
            answered=o.answered,
            served=o.served,
            planned=ct.total if ct else None,
            points=o.points,
        ),
    }


def _accommodations(recorded: dict[str, Any] | None) -> Accommodations | None:
    """What staff read of an attempt's recorded accommodations: the four settings (the row
    also keeps the candidate's page look and clip counts, which are not accommodations)."""
    known = {k: v for k, v in (recorded or {}).items() if k in Accommodations.model_fields}
    return Accommodations.model_validate(known) if known else None


async def detail(session: AsyncSession, row: ResultRow) -> ResultDetail:
    """The full view: the summary, per-skill results, the CT lists and every served position."""
    attempt = row.attempt
    assert attempt.outcome is not None  # finished attempts only
    o = load(attempt.outcome)
    pt = o if isinstance(o, PtOutcome) else None
    ct = None if isinstance(o, PtOutcome) else o
    skills = o.skills
    order = {s: n for n, s in enumerate(SKILL_ORDER)}
    steps = await repository.steps(session, attempt.id)
    return ResultDetail.model_validate(
        {
            **_summary_fields(row),
            "skills": [
                SkillResult(skill=k, **skills[k].model_dump())
                for k in sorted(skills, key=lambda k: (order.get(k, len(order)), k))
            ],
            "areas_for_improvement": o.areas_for_improvement,
            "level_probabilities": pt.level_probabilities if pt else None,
            "stop_reason": pt.stop_reason if pt else None,
            "cant_do": [c.model_dump() for c in ct.cant_do] if ct else None,
            "review_list": [r.model_dump() for r in ct.review_list] if ct else None,
            "continue_package": ct.continue_package if ct else None,
            "next_level": ct.next_level if ct else None,
            **_devices(attempt.ip, attempt.user_agent, steps),
            "accommodations": _accommodations(attempt.accommodations),
            "responses": [
                ResponseOut(
                    position=s.position,
                    item_id=s.item_id,
                    item_code=s.code,
                    skill=s.skill,
                    level=s.level,
                    answered=s.correct is not None and not s.timed_out,
                    correct=bool(s.correct),
                    points=s.points,
                    max_points=s.max_points,
                    timed_out=bool(s.timed_out),
                    time_spent_ms=s.time_spent_ms,
                    served_at=s.served_at,
                    answered_at=s.answered_at,
                )
                for s in steps
            ],
        }
    )


def network(ip: str | None) -> str | None:
    """The network an address belongs to for :func:`_devices`: its IPv4 /24 or IPv6 /64 (an
    IPv4-mapped IPv6 address counts as IPv4); a value that is not an address stands for
    itself."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _devices(ip: str | None, user_agent: str | None, steps: Sequence[Any]) -> dict[str, Any]:
    """The start device, each (user agent, IP) that answered, and whether more than one user
    agent or network took part: the start counts, since someone else's device starting the
    test is as much a fact for a reviewer as one answering it. Unknown values (answers stored
    before devices were, timed-out items) are left out."""
    seen: dict[tuple[str | None, str | None], DeviceSeen] = {}
    for s in steps:
        if s.answered_at is None or (s.ip is None and s.user_agent is None):
            continue
        known = seen.get((s.user_agent, s.ip))
        if known is None:
            seen[(s.user_agent, s.ip)] = DeviceSeen(
                ip=s.ip,
                network=network(s.ip),
                user_agent=s.user_agent,
                answers=1,
                first_answered_at=s.answered_at,
                last_answered_at=s.answered_at,
            )
        else:
            known.answers += 1
            known.first_answered_at = min(known.first_answered_at, s.answered_at)
            known.last_answered_at = max(known.last_answered_at, s.answered_at)
    start = Device(ip=ip, network=network(ip), user_agent=user_agent)
    devices = sorted(seen.values(), key=lambda d: d.first_answered_at)
    agents = {d.user_agent for d in (start, *devices) if d.user_agent}
    networks = {d.network for d in (start, *devices) if d.network}
    return {
        "start_device": start,
        "devices": devices,
        "multiple_devices": len(agents) > 1 or len(networks) > 1,
    }
