"""Serving and answering: load the facts, let :mod:`etest.attempt.rules` decide, apply the
decision. The API (``etest.attempt.endpoints``) and the pages (``etest.web.take``) call these and
nothing else, so a step costs the same statements on both.

Two storage paths apply the same decisions:

* the **hot path** (:func:`hot_serve`, :func:`hot_answer`) runs on a
  :class:`~etest.attempt.live.Live` unit (on PostgreSQL a psycopg connection in autocommit, no
  ORM session): one read of the facts, the decision, and at most one ``INSERT … ON CONFLICT DO
  NOTHING``. It applies what needs nothing else: serving the next item (clock already running,
  engine and item cached), an answer's acknowledgement (stored, replayed, or refused);
* the **transaction** (:func:`serve_in`, :func:`answer_in`) runs on the request's ORM session and
  applies the rest: the first item (it starts the attempt's clock), an open item again, a timed-out
  item, the end of the test, an expired attempt, a lost race. It is given what the hot path read
  and decided (:class:`Pending`), so the facts are read and the engine asked once per request;
  every write it makes is conditional (``ON CONFLICT``, the finisher's lock), so a decision taken
  on facts that another device changed meanwhile cannot double or lose anything: a lost race
  reads the winner's row, and only then decides again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import cache, pinned, repository, rules
from etest.attempt.device import NO_DEVICE, Device
from etest.attempt.engines import Version
from etest.attempt.errors import AnswerConflict
from etest.attempt.live import Live, LiveSource, session_live
from etest.attempt.repository import (
    FACTS,
    ITEMS_T,
    LIVE_AT_POSITION,
    LIVE_STEPS,
    RESPONSES_T,
    LiveFacts,
)
from etest.attempt.scoring import Scored, score
from etest.attempt.secret import check_secret
from etest.attempt.service import finish
from etest.candidate import accommodations
from etest.config import Settings
from etest.errors import NotFound
from etest.models import Attempt, AttemptItem, Item, Response
from etest.models.base import utcnow


class Served(NamedTuple):
    """An item just served by the hot path (what the views show of it)."""

    position: int
    served_at: datetime
    deadline: datetime | None
    option_order: list[str]
    target_order: list[str]


@dataclass
class Current:
    """What a request for the current item got: the served item with its item row, or none
    (``started`` False: nothing served yet, the start page comes first; else the attempt is
    finished, and ``attempt`` is its whole row)."""

    served: AttemptItem | Served | None
    item: Item | None
    attempt: rules.Facts
    total: int | None = None
    started: bool = True


@dataclass(frozen=True)
class Pending:
    """What the hot path read and decided but could not apply, for the transaction."""

    attempt: LiveFacts | None = None
    rows: Sequence[Any] = ()
    decision: Any = None  # a rules.ServeDecision or rules.AnswerDecision; None: not decided
    scored: Scored | None = None  # an answer's canonical form and points, once decided


NOTHING = Pending()


def _steps(rows: Sequence[Any]) -> list[Any]:
    return [r for r in rows if r.position is not None]


def _authorised(settings: Settings, attempt_id: uuid.UUID, secret: str | None) -> None:
    if not check_secret(settings.pepper(), attempt_id, secret):
        raise NotFound("No such attempt.")


def _facts(rows: Sequence[Any]) -> LiveFacts:
    if not rows:
        raise NotFound("No such attempt.")
    return LiveFacts(*rows[0][: len(FACTS)])


def _at_position(rows: Sequence[Any], position: int) -> tuple[LiveFacts, Any]:
    """The attempt's facts and the served row at ``position`` (LIVE_AT_POSITION's one row), or
    404 / :class:`~etest.attempt.errors.WrongPosition`."""
    attempt = _facts(rows)
    return attempt, rules.require_served(rows[0] if rows[0].item_id is not None else None, position)


# ---------------------------------------------------------------------------- serving


async def _decide_serve(
    live: Live,
    version: Version,
    attempt: LiveFacts,
    steps: Sequence[Any],
    now: datetime,
    may_start: bool,
) -> rules.ServeDecision:
    seen = set(await pinned.seen_before(live, attempt))
    return rules.serve(
        attempt,
        steps,
        now,
        lambda history: version.engine.decide(attempt.seed, history, seen),
        time_limit_seconds=pinned.time_limit(version),
        may_start=may_start,
        pilots=pinned.pilots(version),
        extra_time=accommodations.extra_time(attempt.accommodations),
    )


def _served_values(
    version: Version, attempt: rules.Facts, item: Item, serve: rules.Serve
) -> dict[str, Any]:
    """The ``attempt_items`` row that serves ``item`` at the decided position and time."""
    now = serve.at
    shuffle = bool(item.shuffle_options) and bool(
        version.version.engine.get("shuffle_options", True)
    )
    position = serve.position
    return {
        "attempt_id": attempt.id,
        "position": position,
        "item_id": item.id,
        "served_at": now,
        "deadline": rules.item_deadline(
            pinned.item_time_limit(version, item), now, serve.attempt_deadline, serve.time_factor
        ),
        "option_order": rules.order(
            [o["id"] for o in item.options], attempt.seed, position, 0, shuffle
        ),
        "target_order": rules.order(
            [t["id"] for t in item.targets], attempt.seed, position, 1, shuffle
        ),
    }


def _as_served(values: dict[str, Any]) -> Served:
    return Served(
        values["position"],
        values["served_at"],
        values["deadline"],
        values["option_order"],
        values["target_order"],
    )


async def hot_serve(
    live: Live, settings: Settings, attempt_id: uuid.UUID, secret: str | None, may_start: bool
) -> Current | Pending:
    """Serve on the hot path: the next item of a live attempt whose clock runs (or has none),
    when its engine and the item are cached here. Anything else is returned as :class:`Pending`
    for :func:`serve_in`."""
    _authorised(settings, attempt_id, secret)
    rows = await live.rows(LIVE_STEPS, {"attempt_id": attempt_id})
    attempt = _facts(rows)
    version = cache.ENGINES.get(attempt.assessment_version_id)
    if version is None:
        return Pending(attempt, rows)
    decision = await _decide_serve(live, version, attempt, _steps(rows), utcnow(), may_start)
    if isinstance(decision, rules.Serve) and decision.time_out is None:
        item = cache.ITEMS.get(decision.item_id)
        if item is not None and not decision.starts_clock:
            values = _served_values(version, attempt, item, decision)
            if await live.insert_new(ITEMS_T, values):
                return Current(
                    _as_served(values), item, attempt, pinned.planned_total(version, attempt)
                )
    return Pending(attempt, rows, decision)


async def serve(
    source: LiveSource,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    *,
    may_start: bool = True,
) -> Current | Pending:
    """The current item by the hot path, or what the transaction must do (:func:`serve_in`).
    ``may_start`` False: a page view, which shows the start page rather than serve the first
    item."""
    found = await source.run(lambda live: hot_serve(live, settings, attempt_id, secret, may_start))
    return NOTHING if found is None else found


async def serve_in(
    session: AsyncSession,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    pending: Pending = NOTHING,
    *,
    may_start: bool = True,
) -> Current:
    """Serve in the request's transaction, applying what the hot path decided (or reading and
    deciding here when it did not)."""
    attempt, rows, decision = pending.attempt, pending.rows, pending.decision
    if attempt is None:
        _authorised(settings, attempt_id, secret)
        rows = (await session.execute(LIVE_STEPS, {"attempt_id": attempt_id})).all()
        attempt = _facts(rows)
    version = await pinned.load_version(session, attempt.assessment_version_id)
    if decision is None:
        decision = await _decide_serve(
            session_live(session), version, attempt, _steps(rows), utcnow(), may_start
        )
    return await _apply_serve(session, settings, version, attempt, decision, may_start)


async def _row(session: AsyncSession, attempt_id: uuid.UUID) -> Attempt:
    row = await session.get(Attempt, attempt_id)
    assert row is not None
    return row


async def _apply_serve(
    session: AsyncSession,
    settings: Settings,
    version: Version,
    attempt: LiveFacts,
    decision: rules.ServeDecision,
    may_start: bool,
) -> Current:
    total = pinned.planned_total(version, attempt)
    if isinstance(decision, rules.NotYet):
        return Current(None, None, attempt, total, started=False)
    if isinstance(decision, rules.Resume):
        served = await session.get(AttemptItem, (attempt.id, decision.position))
        assert served is not None
        return Current(served, await pinned.item(session, decision.item_id), attempt, total)
    if (
        isinstance(decision, (rules.Serve, rules.Stop))
        and decision.time_out is not None
        and not await _record_time_out(session, attempt, decision.time_out)
    ):
        # an answer arrived just now: decide again from the rows as they are
        return await serve_in(session, settings, attempt.id, None, may_start=may_start)
    if isinstance(decision, rules.Serve):
        return await _serve_item(session, version, attempt, decision, total)
    row = await _row(session, attempt.id)
    if isinstance(decision, rules.Expire):
        await finish(session, row, reason="deadline", at=decision.at)
    elif isinstance(decision, rules.Stop):
        await finish(session, row, reason=decision.reason, decided=decision)
    return Current(None, None, row, total)


async def _record_time_out(session: AsyncSession, attempt: LiveFacts, out: rules.TimeOut) -> bool:
    return await session_live(session).insert_new(
        RESPONSES_T,
        {
            "attempt_id": attempt.id,
            "position": out.position,
            "item_id": out.item_id,
            "answer": None,
            "correct": False,
            "timed_out": True,
            "answered_at": utcnow(),
            "time_spent_ms": out.time_spent_ms,
        },
    )


async def _serve_item(
    session: AsyncSession,
    version: Version,
    attempt: LiveFacts,
    decision: rules.Serve,
    total: int | None,
) -> Current:
    item = await pinned.item(session, decision.item_id)
    values = _served_values(version, attempt, item, decision)
    if await session_live(session).insert_new(ITEMS_T, values):
        facts: rules.Facts = attempt
        if decision.starts_clock:
            # the clock starts with the first item, in the transaction that serves it: a
            # request that loses the race for position 1 keeps the winner's deadline
            row = await _row(session, attempt.id)
            row.deadline = decision.attempt_deadline
            facts = row
        return Current(_as_served(values), item, facts, total)
    # a concurrent request served this position first: use its row
    row = await _row(session, attempt.id)
    await session.refresh(row)
    served = await repository.last_served(session, row.id)
    assert served is not None
    return Current(served, await pinned.item(session, served.item_id), row, total)


# ---------------------------------------------------------------------------- answering


@dataclass
class Ack:
    position: int
    timed_out: bool
    answered_at: datetime
    replay: bool


#: How a request's answer is read, once its served item is known: from the item and the served
#: row (``option_order``, ``target_order``) to the answer in the API's shape. The API's is its
#: JSON body; the page's parses its form (and raises
#: :class:`~etest.attempt.errors.InvalidAnswer` with a sentence for the person).
Reader = Callable[[Item, Any], Any]


def given(answer: Any) -> Reader:
    """The :data:`Reader` of an answer already in the API's shape."""
    return lambda item, served: answer


def _score(item: Item, answer: Any) -> Scored:
    """The answer in canonical form with its points (422 when its shape is wrong)."""
    return score(
        item.type,
        item.key,
        [o["id"] for o in item.options],
        [t["id"] for t in item.targets],
        answer,
        option_rows=item.options,
        gaps=item.gaps,
    )


def _response_values(
    attempt: rules.Facts,
    item: Item,
    position: int,
    scored: Scored,
    accept: rules.Accept,
    now: datetime,
    device: Device,
) -> dict[str, Any]:
    """The ``responses`` row of an accepted answer, with the device it came from (a late
    answer earns no point)."""
    return {
        "attempt_id": attempt.id,
        "position": position,
        "item_id": item.id,
        "answer": scored.answer,
        "correct": accept.correct,
        "points": (0 if accept.late else scored.points) if scored.polytomous else None,
        "max_points": scored.max_points if scored.polytomous else None,
        "timed_out": accept.late,
        "time_spent_ms": accept.time_spent_ms,
        "answered_at": now,
        **device.columns(),
    }


def _decide_answer(
    attempt: LiveFacts, served: Any, item: Item, position: int, read: Reader, now: datetime
) -> tuple[Scored, rules.AnswerDecision]:
    scored = _score(item, read(item, served))
    return scored, rules.answer(attempt, served, position, scored.answer, scored.correct, now)


async def hot_answer(
    live: Live,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    position: int,
    read: Reader,
    device: Device,
) -> Ack | Pending:
    """Answer on the hot path: everything but an expired attempt, an item not cached here and a
    lost race is decided and applied here (one read, at most one ``INSERT``): an answer to an
    expired attempt is refused as to a finished one (the next read or the sweeper finishes it)."""
    _authorised(settings, attempt_id, secret)
    rows = await live.rows(LIVE_AT_POSITION, {"attempt_id": attempt_id, "position": position})
    attempt, served = _at_position(rows, position)
    item = cache.ITEMS.get(served.item_id)
    if item is None:
        return Pending(attempt, rows)
    now = utcnow()
    scored, decision = _decide_answer(attempt, served, item, position, read, now)
    if isinstance(decision, rules.Replay):
        return Ack(position, decision.timed_out, decision.answered_at, True)
    if await live.insert_new(
        RESPONSES_T, _response_values(attempt, item, position, scored, decision, now, device)
    ):
        return Ack(position, decision.late, now, False)
    return Pending(attempt, rows, decision, scored)


async def answer(
    source: LiveSource,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    position: int,
    read: Reader,
    device: Device = NO_DEVICE,
) -> Ack | Pending:
    """The answer's acknowledgement by the hot path, or what the transaction must do
    (:func:`answer_in`)."""
    found = await source.run(
        lambda live: hot_answer(live, settings, attempt_id, secret, position, read, device)
    )
    return NOTHING if found is None else found


async def answer_in(
    session: AsyncSession,
    settings: Settings,
    attempt_id: uuid.UUID,
    secret: str | None,
    position: int,
    read: Reader,
    device: Device = NO_DEVICE,
    pending: Pending = NOTHING,
) -> Ack:
    """Answer in the request's transaction, applying what the hot path decided (or reading and
    deciding here when it did not). The acknowledgement is sent after the commit."""
    rows = pending.rows
    if pending.attempt is None:
        _authorised(settings, attempt_id, secret)
        params = {"attempt_id": attempt_id, "position": position}
        rows = (await session.execute(LIVE_AT_POSITION, params)).all()
    attempt, served = _at_position(rows, position)
    item = await pinned.item(session, served.item_id)
    now = utcnow()
    if pending.decision is not None and pending.scored is not None:
        scored, decision = pending.scored, pending.decision
    else:
        scored, decision = _decide_answer(attempt, served, item, position, read, now)
    if isinstance(decision, rules.Replay):
        return Ack(position, decision.timed_out, decision.answered_at, True)
    values = _response_values(attempt, item, position, scored, decision, now, device)
    if await session_live(session).insert_new(RESPONSES_T, values):
        return Ack(position, decision.late, now, False)
    # another device answered this position concurrently (PostgreSQL: the insert waited for
    # its commit, so that row is visible now): the same answer is a replay like any other, a
    # different one a conflict
    existing = await session.get(Response, (attempt.id, position))
    if existing is None:
        raise AnswerConflict(f"Position {position} was answered concurrently.")
    replay = rules.replay(
        existing.answer, existing.timed_out, existing.answered_at, scored.answer, position
    )
    return Ack(position, replay.timed_out, replay.answered_at, True)
