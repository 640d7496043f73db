"""Attempt rules: start or resume with a token, serve the current item, accept answers
idempotently per position, enforce server-side timers, finish (idempotently) with an outcome,
and write the ``attempt.finished`` outbox event in the same transaction.

Every function works from rows only (attempt, served items, responses) and the pinned assessment
version, so any process can serve any attempt; an acknowledgement is sent only after commit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import cache, repository
from etest.attempt.engines import Decision, ItemInfo, Version, build_engine
from etest.attempt.errors import (
    AnswerConflict,
    AssessmentUnavailable,
    AttemptFinished,
    CandidateDisabledAtStart,
    TokenExpired,
    TokenNotFound,
    TokenRevoked,
    WrongPosition,
)
from etest.attempt.live import Live, session_live
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
from etest.attempt.repository import (
    AT_POSITION,
    FACTS,
    ITEMS_T,
    LIVE_AT_POSITION,
    LIVE_STEPS,
    POSITIONS,
    RESPONSES_T,
    SEEN_ANY_LEVEL,
    SEEN_AT_LEVEL,
    STEPS,
    LiveFacts,
)
from etest.attempt.scoring import check
from etest.config import Settings
from etest.errors import Conflict, NotFound
from etest.kit.secrets import digest
from etest.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    AttemptItem,
    Candidate,
    Item,
    Organization,
    Plan,
    Response,
    TestToken,
)
from etest.models.base import utcnow
from etest.organization.service import require_live
from etest.outbox.jobs import enqueue, outbox_id
from etest.review.service import ensure_may_start_ct

#: Answers arriving this long after a deadline still count (network latency), never more.
GRACE = timedelta(seconds=2)


def attempt_secret(pepper: bytes, attempt_id: uuid.UUID) -> str:
    """The candidate's credential for one attempt: derived, so the token holder can always get
    it back (resume on another device) and nothing secret is stored."""
    mac = hmac.new(pepper, f"attempt:{attempt_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def check_secret(pepper: bytes, attempt_id: uuid.UUID, secret: str | None) -> bool:
    return secret is not None and hmac.compare_digest(attempt_secret(pepper, attempt_id), secret)


_Version = Version
# the process caches (bounded, least recently used out): etest.attempt.cache
_ENGINES = cache.ENGINES
_ITEMS = cache.ITEMS


async def load_version(session: AsyncSession, version_id: uuid.UUID) -> _Version:
    """The engine of a pinned version, built once per process (versions never change)."""
    cached = _ENGINES.get(version_id)
    if cached is not None:
        return cached
    version = await session.get(AssessmentVersion, version_id)
    assert version is not None
    assessment = await session.get(Assessment, version.assessment_id)
    assert assessment is not None and assessment.plan_code is not None
    plan = await session.get(Plan, assessment.plan_code)
    assert plan is not None
    plan_levels = [str(lv["level"]) for lv in plan.levels]
    ids = engine_item_ids(version.engine)
    rows = await repository.items_by_ids(session, ids)
    infos = {r.id: ItemInfo(r.id, r.skill, r.level, r.irt_a, r.irt_b, r.irt_c) for r in rows}
    for row in rows:  # every item the engine can serve, cached for the hot path (see _item)
        session.expunge(row)
        _ITEMS.put(row.id, row)
    return _ENGINES.put(
        version_id,
        _Version(
            version, assessment, build_engine(version.engine, infos, plan_levels), plan_levels
        ),
    )


async def _item(session: AsyncSession, item_id: uuid.UUID) -> Item:
    """An item row, cached per process: item versions are immutable (a change is a new row),
    so the hot path reads each one from the database once. Only its loaded columns are used."""
    item = _ITEMS.get(item_id)
    if item is None:
        loaded = await session.get(Item, item_id)
        assert loaded is not None  # served items reference existing rows
        session.expunge(loaded)
        item = _ITEMS.put(item_id, loaded)
    return item


def engine_item_ids(engine: dict[str, Any]) -> list[uuid.UUID]:
    """Every item id an assessment version's engine can serve."""
    if engine["type"] == "fixed":
        return [uuid.UUID(i) for s in engine["sections"] for i in s["pool"]]
    if engine["type"] == "staged":
        return [uuid.UUID(i) for g in engine["groups"] for i in g["items"]]
    return [uuid.UUID(i) for i in engine["pool"]]


# ---------------------------------------------------------------------------- start / resume


async def _latest_version(session: AsyncSession, code: str) -> AssessmentVersion:
    version = await repository.latest_version(session, code)
    if version is None:
        raise AssessmentUnavailable(f"No content is loaded for the assessment {code!r}.")
    return version


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
    if token.status == "revoked":
        raise TokenRevoked("This test token was revoked or replaced; ask for a new one.")
    existing = await repository.latest_attempt_of(session, token.id)
    if existing is not None and (existing.status == "completed" or token.status == "completed"):
        return existing, True
    if token.expires_at <= utcnow() and (existing is None or existing.status != "in_progress"):
        raise TokenExpired("This test token has expired.")
    await require_live(session, org)
    if existing is not None and existing.status == "in_progress":
        await expire_if_due(session, existing)
        return existing, True
    if token.type == "PT" and candidate.disabled:
        raise CandidateDisabledAtStart("This candidate may not take another placement test now.")
    plan = await session.get(Plan, token.plan_code)
    assert plan is not None
    if token.type == "PT":
        code_ = plan.pt_assessment
        number = 1 + await repository.completed_count(session, candidate.id, "PT")
    else:
        code_ = next(str(lv["ct_assessment"]) for lv in plan.levels if lv["level"] == token.level)
        previous = await repository.completed_cts(session, candidate.id, token.level)
        # the retake policy and the review decisions (403 needs-review): docs/review.md
        await ensure_may_start_ct(session, candidate.id, token.level, plan, previous)
        number = len(previous) + 1
    version = await _latest_version(session, code_)
    # The deadline is set when the first item is served (see current()): time spent on the
    # start page and the sound check does not count against the candidate.
    attempt = Attempt(
        token_id=token.id,
        candidate_id=candidate.id,
        organization_id=org.id,
        assessment_version_id=version.id,
        kind=token.type,
        level=token.level,
        plan_code=plan.code,
        seed=secrets.randbits(62),
        attempt_number=number,
        started_at=utcnow(),
        **device.columns(),
    )
    try:
        async with session.begin_nested():
            session.add(attempt)
    except IntegrityError as exc:
        # not expected behind the token's lock; should a writer that skipped the lock have
        # created the open attempt meanwhile, its attempt is the one to resume
        winner = await repository.open_attempt_of(session, token.id)
        if winner is None:
            raise Conflict("The test is being started on another device; try again.") from exc
        return winner, True
    token.status = "started"
    return attempt, False


# ---------------------------------------------------------------------------- serving


async def positions(session: AsyncSession, attempt_id: uuid.UUID) -> Sequence[Any]:
    """Every served position in order with its item and answer (``answered_at`` None: not
    answered): ``position``, ``item_id``, ``answer``, ``correct``, ``timed_out``,
    ``answered_at``. One Core query, plain rows: what finishing and the state read."""
    return await session_live(session).rows(POSITIONS, {"attempt_id": attempt_id})


_SEEN = cache.SEEN


async def _seen_before(live: Live, attempt: Facts) -> frozenset[uuid.UUID]:
    """Items this candidate was served in earlier attempts of the same kind (and CT level).
    Fixed for the life of the attempt, so each process computes it once per attempt."""
    cached = _SEEN.get(attempt.id)
    if cached is not None:
        return cached
    params = {
        "candidate_id": attempt.candidate_id,
        "attempt_id": attempt.id,
        "kind": attempt.kind,
        "started_at": attempt.started_at,
    }
    if attempt.level is None:
        rows = await live.rows(SEEN_ANY_LEVEL, params)
    else:
        rows = await live.rows(SEEN_AT_LEVEL, {**params, "level": attempt.level})
    return _SEEN.put(attempt.id, frozenset(r.item_id for r in rows))


async def decide(
    session: AsyncSession, attempt: Facts, history: list[tuple[uuid.UUID, bool]] | None = None
) -> tuple[_Version, Decision]:
    """The engine's decision from the stored rows: ``history`` is (item, correct) per answered
    position in order (read here unless the caller has it)."""
    if history is None:
        history = [
            (s.item_id, s.correct) for s in await _steps(session, attempt) if s.correct is not None
        ]
    version = await load_version(session, attempt.assessment_version_id)
    decision = version.engine.decide(
        attempt.seed, history, set(await _seen_before(session_live(session), attempt))
    )
    return version, decision


async def _steps(session: AsyncSession, attempt: Facts) -> Sequence[Any]:
    """Every served position with its answer's correctness (``None``: not answered yet), in
    order: one query, plain rows (the hot path needs no ORM objects for the history)."""
    return await session_live(session).rows(STEPS, {"attempt_id": attempt.id})


def _order(ids: list[str], seed: int, position: int, stream: int, shuffle: bool) -> list[str]:
    if not shuffle or len(ids) < 2:
        return ids
    perm = np.random.default_rng([seed, 10 + stream, position]).permutation(len(ids))
    return [ids[i] for i in perm]


class Facts(Protocol):
    """What serving and answering read of an attempt: an :class:`Attempt` row, or the plain
    row the hot path reads together with the served items (no ORM object per request)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def deadline(self) -> datetime | None: ...
    @property
    def seed(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def level(self) -> str | None: ...
    @property
    def candidate_id(self) -> uuid.UUID: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def assessment_version_id(self) -> uuid.UUID: ...


def _due(attempt: Facts) -> bool:
    return attempt.deadline is not None and utcnow() > attempt.deadline + GRACE


async def _row_of(session: AsyncSession, attempt: Facts) -> Attempt:
    """The ORM row of an attempt (to finish it or to change it): from the identity map when
    the caller had it already."""
    if isinstance(attempt, Attempt):
        return attempt
    row = await session.get(Attempt, attempt.id)
    assert row is not None
    return row


@dataclass
class Current:
    """The item being served, or the outcome once the attempt is finished."""

    served: AttemptItem | None
    item: Item | None
    attempt: Facts


async def current(session: AsyncSession, settings: Settings, attempt: Attempt) -> Current:
    """The current item: the served one still unanswered (the same on every device), or a new
    one chosen by the engine; when the engine stops, the attempt is finished here."""
    return await _current(session, attempt, await _steps(session, attempt))


async def current_by_id(
    session: AsyncSession, settings: Settings, attempt_id: uuid.UUID, secret: str | None
) -> Current:
    """:func:`current` for the candidate API: the attempt and its served items in one query."""
    if not check_secret(settings.pepper(), attempt_id, secret):
        raise NotFound("No such attempt.")
    rows = (await session.execute(LIVE_STEPS, {"attempt_id": attempt_id})).all()
    if not rows:
        raise NotFound("No such attempt.")
    facts = LiveFacts(*rows[0][: len(FACTS)])
    return await _current(session, facts, [r for r in rows if r.position is not None])


async def _current(session: AsyncSession, attempt: Facts, steps: Sequence[Any]) -> Current:
    if attempt.status != AttemptStatus.in_progress or _due(attempt):
        row = await _row_of(session, attempt)
        await expire_if_due(session, row)
        return Current(None, None, row)
    now = utcnow()
    history = [(s.item_id, s.correct) for s in steps if s.correct is not None]
    if steps and steps[-1].correct is None:
        last = steps[-1]
        if last.deadline is None or now <= last.deadline + GRACE:
            served = await session.get(AttemptItem, (attempt.id, last.position))
            assert served is not None
            return Current(served, await _item(session, last.item_id), attempt)
        if not await session_live(session).insert_new(
            RESPONSES_T,
            {
                "attempt_id": attempt.id,
                "position": last.position,
                "item_id": last.item_id,
                "answer": None,
                "correct": False,
                "timed_out": True,
                "answered_at": now,
                "time_spent_ms": _ms(last.deadline - last.served_at),
            },
        ):
            # an answer arrived just now: start over from the rows
            return await _current(session, attempt, await _steps(session, attempt))
        history.append((last.item_id, False))
    version, decision = await decide(session, attempt, history)
    if decision.item_id is None:
        row = await _row_of(session, attempt)
        await finish(session, row, reason=decision.stop_reason or "complete")
        return Current(None, None, row)
    item = await _item(session, decision.item_id)
    position = len(steps) + 1
    attempt_deadline = _attempt_deadline(version, attempt, position, now)
    values = _served_values(version, attempt, item, position, now, attempt_deadline)
    if await session_live(session).insert_new(ITEMS_T, values):
        if attempt_deadline != attempt.deadline:
            # the clock starts with the first item, in the transaction that serves it: a
            # request that loses the race for position 1 keeps the winner's deadline
            row = await _row_of(session, attempt)
            row.deadline = attempt_deadline
            attempt = row
        return Current(AttemptItem(**values), item, attempt)
    # a concurrent request served this position first: use its row
    row = await _row_of(session, attempt)
    await session.refresh(row)
    served = await repository.last_served(session, row.id)
    assert served is not None
    return Current(served, await _item(session, served.item_id), row)


def _attempt_deadline(
    version: _Version, attempt: Facts, position: int, now: datetime
) -> datetime | None:
    """The attempt's deadline once ``position`` is served: its clock starts with the first."""
    limit = version.version.engine.get("time_limit_seconds")
    if position == 1 and attempt.deadline is None and limit:
        return now + timedelta(seconds=int(limit))
    return attempt.deadline


def _served_values(
    version: _Version,
    attempt: Facts,
    item: Item,
    position: int,
    now: datetime,
    attempt_deadline: datetime | None,
) -> dict[str, Any]:
    """The ``attempt_items`` row that serves ``item`` at ``position``."""
    engine = version.version.engine
    shuffle = bool(item.shuffle_options) and bool(engine.get("shuffle_options", True))
    return {
        "attempt_id": attempt.id,
        "position": position,
        "item_id": item.id,
        "served_at": now,
        "deadline": _item_deadline(engine, item, now, attempt_deadline),
        "option_order": _order([o["id"] for o in item.options], attempt.seed, position, 0, shuffle),
        "target_order": _order([t["id"] for t in item.targets], attempt.seed, position, 1, shuffle),
    }


class Served(NamedTuple):
    """An item just served by the hot path (what :func:`item_view` shows of it)."""

    position: int
    served_at: datetime
    deadline: datetime | None
    option_order: list[str]
    target_order: list[str]


@dataclass
class NextItem:
    """:func:`next_item`'s result: the served row, its item and the test's planned length."""

    served: Served
    item: Item
    total: int | None


async def next_item(
    live: Live, settings: Settings, attempt_id: uuid.UUID, secret: str | None
) -> NextItem | None:
    """The hot path of :func:`current_by_id`: serve the next item of a live attempt whose
    served items are all answered. ``None`` when anything else applies (an open item to resume
    or time out, the end of the test, the attempt clock to start, an engine or item not yet
    cached in this process, a concurrent request): the caller then runs the full rules."""
    if not check_secret(settings.pepper(), attempt_id, secret):
        raise NotFound("No such attempt.")
    rows = await live.rows(LIVE_STEPS, {"attempt_id": attempt_id})
    if not rows:
        raise NotFound("No such attempt.")
    attempt = LiveFacts(*rows[0][: len(FACTS)])
    version = _ENGINES.get(attempt.assessment_version_id)
    if attempt.status != AttemptStatus.in_progress or _due(attempt) or version is None:
        return None
    steps = [r for r in rows if r.position is not None]
    if steps and steps[-1].correct is None:
        return None
    decision = version.engine.decide(
        attempt.seed,
        [(s.item_id, s.correct) for s in steps],
        set(await _seen_before(live, attempt)),
    )
    item = _ITEMS.get(decision.item_id) if decision.item_id is not None else None
    position = len(steps) + 1
    now = utcnow()
    deadline = _attempt_deadline(version, attempt, position, now)
    if item is None or deadline != attempt.deadline:
        return None
    values = _served_values(version, attempt, item, position, now, deadline)
    if not await live.insert_new(ITEMS_T, values):
        return None
    return NextItem(
        Served(position, now, values["deadline"], values["option_order"], values["target_order"]),
        item,
        planned_total(version, attempt),
    )


def planned_total(version: _Version, attempt: Facts) -> int | None:
    """The number of items of a fixed-length test (CT); ``None`` for a variable-length PT."""
    if attempt.kind != Kind.CT:
        return None
    return int(getattr(version.engine, "total", 0)) or None


def _item_deadline(
    engine: dict[str, Any], item: Item, now: datetime, attempt_deadline: datetime | None
) -> datetime | None:
    seconds = item.time_limit_seconds or (engine.get("item_time_limits") or {}).get(item.type)
    deadline = now + timedelta(seconds=int(seconds)) if seconds else None
    if attempt_deadline is not None and (deadline is None or deadline > attempt_deadline):
        return attempt_deadline
    return deadline


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


# ---------------------------------------------------------------------------- answering


@dataclass
class Ack:
    position: int
    timed_out: bool
    answered_at: datetime
    replay: bool


class Device(NamedTuple):
    """Where a candidate's request came from: stored with the attempt when it starts and with
    each answer; the client IP and the user agent."""

    ip: str | None = None
    user_agent: str | None = None

    def columns(self) -> dict[str, str | None]:
        """The ``ip`` and ``user_agent`` columns (of attempts and responses), cut to their
        sizes."""
        return {
            "ip": (self.ip or "")[:64] or None,
            "user_agent": (self.user_agent or "")[:500] or None,
        }


#: An answer without a request behind it (a timed-out item is stored by the server).
NO_DEVICE = Device()


async def answer(
    session: AsyncSession,
    settings: Settings,
    attempt: Attempt,
    position: int,
    given: Any,
    device: Device = NO_DEVICE,
) -> Ack:
    """Accept the answer at ``position`` (idempotent: the same answer again returns the first
    acknowledgement; a different one is 409). Late answers are stored as timed out (wrong).
    ``device`` is stored with the answer."""
    served = (
        await session.execute(AT_POSITION, {"attempt_id": attempt.id, "position": position})
    ).first()
    return await _answer(session, attempt, served, position, given, device)


async def answer_by_id(
    session: AsyncSession,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    position: int,
    given: Any,
    device: Device = NO_DEVICE,
) -> Ack:
    """:func:`answer` for the candidate API: the attempt and the served item in one query."""
    if not check_secret(settings.pepper(), attempt_id, secret):
        raise NotFound("No such attempt.")
    row = (
        await session.execute(LIVE_AT_POSITION, {"attempt_id": attempt_id, "position": position})
    ).first()
    if row is None:
        raise NotFound("No such attempt.")
    return await _answer(
        session,
        LiveFacts(*row[: len(FACTS)]),
        row if row.item_id is not None else None,
        position,
        given,
        device,
    )


async def first_answer(
    live: Live,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    position: int,
    given: Any,
    device: Device = NO_DEVICE,
) -> Ack | None:
    """The hot path of :func:`answer_by_id`: the first answer at a served position of a live
    attempt, stored by one ``INSERT`` (durable when this returns). ``None`` when anything else
    applies (a replay or conflict, a finished or expired attempt, an item not yet cached in this
    process, a concurrent answer): the caller then runs the full rules."""
    if not check_secret(settings.pepper(), attempt_id, secret):
        raise NotFound("No such attempt.")
    found = await live.rows(LIVE_AT_POSITION, {"attempt_id": attempt_id, "position": position})
    if not found:
        raise NotFound("No such attempt.")
    served = found[0]
    if served.item_id is None:
        raise WrongPosition(f"No item was served at position {position}.")
    item = _ITEMS.get(served.item_id)
    attempt = LiveFacts(*served[: len(FACTS)])
    if (
        item is None
        or served.answered_at is not None
        or attempt.status != AttemptStatus.in_progress
        or _due(attempt)
    ):
        return None
    canonical, correct = _check(item, given)
    now = utcnow()
    late = served.deadline is not None and now > served.deadline + GRACE
    if not await live.insert_new(
        RESPONSES_T,
        _response_values(attempt, served, item, position, canonical, correct, late, now, device),
    ):
        return None
    return Ack(position, late, now, False)


def _check(item: Item, given: Any) -> tuple[Any, bool]:
    """The answer in canonical form and whether it is right (422 when its shape is wrong)."""
    return check(
        item.type, item.key, [o["id"] for o in item.options], [t["id"] for t in item.targets], given
    )


def _response_values(
    attempt: Facts,
    served: Any,
    item: Item,
    position: int,
    canonical: Any,
    correct: bool,
    late: bool,
    now: datetime,
    device: Device,
) -> dict[str, Any]:
    """The ``responses`` row of an answer (a late one is stored as timed out, and wrong), with
    the device it came from: still one ``INSERT``."""
    return {
        "attempt_id": attempt.id,
        "position": position,
        "item_id": item.id,
        "answer": canonical,
        "correct": correct and not late,
        "timed_out": late,
        "time_spent_ms": _ms(
            (served.deadline if late and served.deadline else now) - served.served_at
        ),
        "answered_at": now,
        **device.columns(),
    }


async def _answer(
    session: AsyncSession, attempt: Facts, served: Any, position: int, given: Any, device: Device
) -> Ack:
    if served is None:
        raise WrongPosition(f"No item was served at position {position}.")
    item = await _item(session, served.item_id)
    canonical, correct = _check(item, given)
    if served.answered_at is not None:
        return _replay(served.answer, served.timed_out, served.answered_at, canonical, position)
    if attempt.status != AttemptStatus.in_progress or (
        _due(attempt) and await expire_if_due(session, await _row_of(session, attempt))
    ):
        raise AttemptFinished("The attempt is finished; no more answers are accepted.")
    now = utcnow()
    late = served.deadline is not None and now > served.deadline + GRACE
    if await session_live(session).insert_new(
        RESPONSES_T,
        _response_values(attempt, served, item, position, canonical, correct, late, now, device),
    ):
        return Ack(position, late, now, False)
    # another device answered this position concurrently (PostgreSQL: the insert waited for
    # its commit, so that row is visible now): the same answer is a replay like any other, a
    # different one a conflict
    existing = await session.get(Response, (attempt.id, position))
    if existing is None:
        raise AnswerConflict(f"Position {position} was answered concurrently.")
    return _replay(existing.answer, existing.timed_out, existing.answered_at, canonical, position)


def _replay(
    answer: Any, timed_out: bool, answered_at: datetime, canonical: Any, position: int
) -> Ack:
    """An answer at a position already answered: the first acknowledgement again when it is
    the same answer, else 409."""
    if answer == canonical or timed_out:
        if answer != canonical:
            raise AnswerConflict("This position timed out before an answer arrived.")
        return Ack(position, timed_out, answered_at, True)
    raise AnswerConflict(f"Position {position} was already answered differently.")


# ---------------------------------------------------------------------------- finishing


async def expire_if_due(session: AsyncSession, attempt: Attempt) -> bool:
    """Finish an attempt past its deadline, with finish time = deadline (the sweeper's rule)."""
    if attempt.status == AttemptStatus.in_progress and _due(attempt):
        await finish(session, attempt, reason="deadline", at=attempt.deadline)
        return True
    return False


async def finish(
    session: AsyncSession, attempt: Attempt, *, reason: str = "finished", at: datetime | None = None
) -> Attempt:
    """Finish the attempt (idempotent), compute its outcome and write ``attempt.finished``.

    Idempotent under races too: see :func:`_still_open`."""
    if attempt.status != AttemptStatus.in_progress or not await _still_open(session, attempt):
        return attempt
    served = await positions(session, attempt.id)
    version, decision = await decide(
        session, attempt, [(s.item_id, s.correct) for s in served if s.answered_at is not None]
    )
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
    token = await session.get(TestToken, attempt.token_id)
    assert token is not None
    if token.status in ("issued", "started"):
        token.status = "completed"
    candidate = await session.get(Candidate, attempt.candidate_id)
    org = await session.get(Organization, attempt.organization_id)
    assert candidate is not None and org is not None
    if result.kind == Kind.PT and result.status == PtStatus.placed:
        # an unplaced PT leaves the candidate as they were: no level, and free to retake
        candidate.pt_level = result.level
        if org.settings.get("disable_candidate_after_pt"):
            candidate.disabled = True
    # the event's id is the outbox's rule for (topic, key): one event per attempt
    key = str(attempt.id)
    await enqueue(
        session,
        "attempt.finished",
        {
            "event_id": str(outbox_id("attempt.finished", key)),
            "attempt_id": str(attempt.id),
            "candidate_id": str(candidate.id),
            "uic": org.uic,
            "kind": attempt.kind,
            "level": attempt.level,
            "finished_at": finished_at.isoformat(),
            "outcome": outcome,
        },
        key=key,
        organization_id=org.id,
    )
    await session.flush()
    return attempt


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
    version: _Version,
    decision: Decision,
    served: Sequence[Any],
    finished_at: datetime,
    reason: str,
) -> Outcome:
    """Load what the outcome is computed from (the served items; for a failed CT the Can't-Do
    statements and review lessons of the missed ones) and compute it
    (:func:`etest.attempt.outcome.compute`)."""
    steps = []
    for s in served:
        item = await _item(session, s.item_id)
        steps.append(
            Step(
                skill=item.skill,
                level=item.level,
                answered=s.answered_at is not None,
                correct=bool(s.correct),
                timed_out=bool(s.timed_out),
                can_do=item.can_do,
                review_lessons=tuple(item.review_lessons),
            )
        )
    sitting = Sitting(
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


def _early_placement(version: _Version, decision: Decision) -> tuple[str, float | None]:
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
    due = await repository.due_attempts(session, utcnow() - GRACE)
    for attempt in due:
        await finish(session, attempt, reason="deadline", at=attempt.deadline)
    return len(due)


async def has_started(session: AsyncSession, attempt: Attempt) -> bool:
    """Whether the attempt served its first item (the start page is behind it)."""
    return await repository.has_served_items(session, attempt.id)


@dataclass
class StartFacts:
    """What the start page shows of an attempt's pinned version."""

    version: _Version
    listening: bool  # the pool has listening items (the sound check is offered)
    item_limits: bool  # items are timed one by one


async def start_facts(session: AsyncSession, attempt: Attempt) -> StartFacts:
    """The pinned version of ``attempt`` and what its item pool asks of the candidate."""
    version = await load_version(session, attempt.assessment_version_id)
    engine = version.version.engine
    ids = engine_item_ids(engine)
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
