"""The rules of delivery, decided once per request by pure functions.

Starting (a token entered) decides an :class:`Opening`; serving and answering are below;
finishing is :func:`may_finish`, :func:`expiry` and :func:`effects`.

Each function takes the facts of an attempt (rows already read: the attempt, its served positions,
the one position being answered) and the time, and returns a *decision*: a small frozen value
saying what to do. They touch no session and no connection, so they are tested without a database
(``tests/attempt/test_rules.py``: every state against every request). The two storage paths of
:mod:`etest.attempt.delivery` (the psycopg/Core hot path and the ORM transaction) only load facts
and apply decisions; the engine is asked once per request, by :func:`serve` through the ``decide``
callable it is given.

Serving (``GET`` the current item) decides one of:

=================  ======================================================================
:class:`Show`      the attempt is finished: show its state and outcome
:class:`Expire`    the attempt's deadline passed: finish it at that deadline, then show it
:class:`NotYet`    nothing is served yet and the caller may not start the clock (a page
                   view: the start page comes first)
:class:`Resume`    an item is served and unanswered, still in time: the same item again
:class:`Serve`     serve the engine's next item at the next position (first recording the
                   open item as timed out, when its time ran out: :class:`TimeOut`)
:class:`Stop`      the engine stops: finish the attempt with its reason (the same
                   :class:`TimeOut` first, if any)
=================  ======================================================================

Answering (``POST`` an answer at a position) decides one of :class:`Accept` (store it; late when
past the item's deadline, which stores it as timed out and wrong) or :class:`Replay` (the position
is answered already with this answer: the first acknowledgement again); or raises
:class:`~etest.attempt.errors.WrongPosition`, :class:`~etest.attempt.errors.AnswerConflict` or
:class:`~etest.attempt.errors.AttemptFinished`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from etest.attempt.engines import Decision
from etest.attempt.errors import (
    AnswerConflict,
    AttemptFinished,
    CandidateDisabledAtStart,
    TokenExpired,
    TokenRevoked,
    WrongPosition,
)
from etest.attempt.pilots import Pilots
from etest.models.attempt import AttemptStatus, Kind
from etest.token.errors import TokenNotYetValid

#: Answers arriving this long after a deadline still count (network latency), never more.
GRACE = timedelta(seconds=2)

#: The engine's call for one attempt: the answered history (item, score), in order -> its
#: decision (see :func:`operational`).
Decide = Callable[[list[tuple[uuid.UUID, int]]], Decision]


class Facts(Protocol):
    """What serving and answering read of an attempt: an ORM ``Attempt`` row, or the plain row
    the hot path reads together with the served items (no ORM object per request)."""

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
    @property
    def organization_id(self) -> uuid.UUID: ...
    @property
    def accommodations(self) -> dict[str, Any] | None: ...


class StepFacts(Protocol):
    """A served position with its answer's correctness (``None``: not answered yet) and, for
    an item scored 0 … k, its points (``None`` for an item scored 0/1)."""

    @property
    def position(self) -> int: ...
    @property
    def item_id(self) -> uuid.UUID: ...
    @property
    def served_at(self) -> datetime: ...
    @property
    def deadline(self) -> datetime | None: ...
    @property
    def correct(self) -> bool | None: ...
    @property
    def points(self) -> int | None: ...


class AnsweredFacts(Protocol):
    """The position being answered: its item, when and until when it was served, and its answer
    if any (``answered_at`` None: not answered)."""

    @property
    def item_id(self) -> uuid.UUID: ...
    @property
    def served_at(self) -> datetime: ...
    @property
    def deadline(self) -> datetime | None: ...
    @property
    def answer(self) -> Any: ...
    @property
    def timed_out(self) -> bool | None: ...
    @property
    def answered_at(self) -> datetime | None: ...


def due(deadline: datetime | None, now: datetime) -> bool:
    """Whether a deadline has passed, grace included."""
    return deadline is not None and now > deadline + GRACE


def ms(delta: timedelta) -> int:
    """A duration in whole milliseconds, never negative."""
    return max(0, int(delta.total_seconds() * 1000))


# ---------------------------------------------------------------------------- starting


class Opening(StrEnum):
    """What entering a token does: show its finished attempt, resume its open one, or start a
    new one."""

    show = "show"
    resume = "resume"
    new = "new"


class TokenFacts(Protocol):
    """What starting reads of a test token."""

    @property
    def status(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def not_before(self) -> datetime | None: ...


def opening(token: TokenFacts, latest: str | None, now: datetime) -> Opening:
    """What a token opens, from its status and expiry and the status of its latest attempt
    (``None``: none yet). A revoked token opens nothing; an expired one only its open attempt
    (or a finished one, to show it). A token with a test window (``not_before``) opens
    nothing before it: 403 ``token-not-yet-valid`` with the time it opens (the one place this
    is checked; the pages say the time in the organization's time zone)."""
    if token.status == "revoked":
        raise TokenRevoked("This test token was revoked or replaced; ask for a new one.")
    if latest is None and token.not_before is not None and now < token.not_before:
        raise TokenNotYetValid(
            f"This test opens at {token.not_before.isoformat(timespec='minutes')}.",
            opens_at=token.not_before.isoformat(),
        )
    if latest is not None and (latest == AttemptStatus.completed or token.status == "completed"):
        return Opening.show
    if token.expires_at <= now and latest != AttemptStatus.in_progress:
        raise TokenExpired("This test token has expired.")
    return Opening.resume if latest == AttemptStatus.in_progress else Opening.new


def require_may_start(kind: str, candidate_disabled: bool) -> None:
    """A disabled candidate starts no new placement test (a CT it may)."""
    if kind == Kind.PT and candidate_disabled:
        raise CandidateDisabledAtStart("This candidate may not take another placement test now.")


# ---------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class Show:
    """The attempt is finished: show it."""


@dataclass(frozen=True)
class Expire:
    """The attempt's clock ran out: finish it with finish time ``at`` (its deadline)."""

    at: datetime


@dataclass(frozen=True)
class NotYet:
    """No item is served yet, and this request may not serve the first (it starts the clock)."""


@dataclass(frozen=True)
class Resume:
    """The open item at ``position`` again (the same on every device until it is answered)."""

    position: int
    item_id: uuid.UUID


@dataclass(frozen=True)
class TimeOut:
    """Record the open item at ``position`` as timed out (no answer, wrong) before going on."""

    position: int
    item_id: uuid.UUID
    time_spent_ms: int


@dataclass(frozen=True)
class Serve:
    """Serve ``item_id`` at ``position``, served ``at`` the time of the decision; the attempt's
    deadline becomes ``attempt_deadline`` (set when the first item is served: time on the start
    page does not count)."""

    position: int
    item_id: uuid.UUID
    at: datetime
    attempt_deadline: datetime | None
    time_out: TimeOut | None
    decision: Decision
    #: The attempt's extra-time factor (accommodations), applied to the item's own limit too.
    time_factor: float = 1.0

    @property
    def starts_clock(self) -> bool:
        """Whether serving this item sets the attempt's deadline."""
        return self.position == 1 and self.attempt_deadline is not None


@dataclass(frozen=True)
class Stop:
    """The engine stopped: finish the attempt for ``reason`` with ``decision`` (taken on
    ``history``: the finisher reuses it while the answers are still those)."""

    decision: Decision
    history: tuple[tuple[uuid.UUID, int], ...]
    time_out: TimeOut | None

    @property
    def reason(self) -> str:
        return self.decision.stop_reason or "complete"


ServeDecision = Show | Expire | NotYet | Resume | Serve | Stop


def serve(
    attempt: Facts,
    steps: Sequence[StepFacts],
    now: datetime,
    decide: Decide,
    *,
    time_limit_seconds: int | None,
    may_start: bool = True,
    pilots: Pilots | None = None,
    extra_time: float = 1.0,
) -> ServeDecision:
    """What a request for the current item does. ``steps`` are every served position in order;
    ``decide`` is the engine's call (made at most once) on the answers to operational items;
    ``may_start`` is False for a request that only looks (a page view), which must not serve the
    first item; ``pilots``: the version's pilot items, served in the slots of
    :class:`~etest.attempt.pilots.Pilots` while the engine goes on; ``extra_time``: the
    attempt's accommodation, a factor on its time limits (:func:`attempt_deadline`)."""
    if attempt.status != AttemptStatus.in_progress:
        return Show()
    if due(attempt.deadline, now):
        assert attempt.deadline is not None
        return Expire(attempt.deadline)
    if not steps and not may_start:
        return NotYet()
    trial = pilots.ids if pilots else frozenset()
    history = operational(steps, trial)
    time_out = None
    if steps and steps[-1].correct is None:
        last = steps[-1]
        if not due(last.deadline, now):
            return Resume(last.position, last.item_id)
        assert last.deadline is not None
        time_out = TimeOut(last.position, last.item_id, ms(last.deadline - last.served_at))
        if last.item_id not in trial:
            history.append((last.item_id, 0))
    decision = decide(history)
    if decision.item_id is None:
        return Stop(decision, tuple(history), time_out)
    position = len(steps) + 1
    pilot = pilots.next_item(attempt.seed, position, {s.item_id for s in steps}) if pilots else None
    return Serve(
        position,
        pilot or decision.item_id,
        now,
        attempt_deadline(attempt.deadline, time_limit_seconds, position, now, extra_time),
        time_out,
        decision,
        extra_time,
    )


def operational(
    steps: Sequence[StepFacts], pilots: frozenset[uuid.UUID]
) -> list[tuple[uuid.UUID, int]]:
    """The engine's history: the answered positions of operational (not pilot) items, in
    order, with their score: the points earned by an item scored 0 … k, else 1 right and 0
    wrong (a late answer was stored with no point). What the score means to the estimate is
    the engine's rule (:mod:`etest.attempt.engines`: full credit for a dichotomous model)."""
    return [
        (s.item_id, int(s.points) if s.points is not None else int(bool(s.correct)))
        for s in steps
        if s.correct is not None and s.item_id not in pilots
    ]


def attempt_deadline(
    current: datetime | None,
    time_limit_seconds: int | None,
    position: int,
    now: datetime,
    factor: float = 1.0,
) -> datetime | None:
    """The attempt's deadline once ``position`` is served: its clock starts with the first.
    ``factor``: extra time (an accommodation), the one place it lengthens the test's limit."""
    if position == 1 and current is None and time_limit_seconds:
        return now + timedelta(seconds=extended(time_limit_seconds, factor))
    return current


def extended(seconds: int, factor: float) -> float:
    """A time limit with extra time: whole seconds, never shorter than the limit itself."""
    return float(max(int(seconds), round(int(seconds) * factor)))


def item_deadline(
    seconds: int | None, now: datetime, attempt_deadline: datetime | None, factor: float = 1.0
) -> datetime | None:
    """A served item's deadline: its own time limit (``seconds``, times the extra-time
    ``factor``), never after the attempt's."""
    deadline = now + timedelta(seconds=extended(seconds, factor)) if seconds else None
    if attempt_deadline is not None and (deadline is None or deadline > attempt_deadline):
        return attempt_deadline
    return deadline


def order(ids: list[str], seed: int, position: int, stream: int, shuffle: bool) -> list[str]:
    """The order options (stream 0) or targets (stream 1) are shown in at ``position``: the same
    for the attempt's seed on every device."""
    if not shuffle or len(ids) < 2:
        return ids
    perm = np.random.default_rng([seed, 10 + stream, position]).permutation(len(ids))
    return [ids[i] for i in perm]


# ---------------------------------------------------------------------------- answering


@dataclass(frozen=True)
class Accept:
    """Store the answer: ``late`` ones (past the item's deadline) as timed out and wrong."""

    correct: bool
    late: bool
    time_spent_ms: int


@dataclass(frozen=True)
class Replay:
    """The position holds this answer already: acknowledge it again as it was."""

    timed_out: bool
    answered_at: datetime


AnswerDecision = Accept | Replay


def require_served(served: AnsweredFacts | None, position: int) -> AnsweredFacts:
    """The served row at ``position``, or :class:`WrongPosition`."""
    if served is None:
        raise WrongPosition(f"No item was served at position {position}.")
    return served


def answer(
    attempt: Facts,
    served: AnsweredFacts,
    position: int,
    canonical: Any,
    correct: bool,
    now: datetime,
) -> AnswerDecision:
    """What an answer (already checked for shape, in canonical form) at a served position does.
    Idempotent: the same answer again is a :class:`Replay`; a different one is 409."""
    if served.answered_at is not None:
        return replay(
            served.answer, bool(served.timed_out), served.answered_at, canonical, position
        )
    if attempt.status != AttemptStatus.in_progress or due(attempt.deadline, now):
        # past its deadline it is finished whoever records it (the next read or the sweeper)
        raise AttemptFinished("The attempt is finished; no more answers are accepted.")
    late = due(served.deadline, now)
    spent = (served.deadline if late and served.deadline else now) - served.served_at
    return Accept(correct and not late, late, ms(spent))


def replay(
    stored: Any, timed_out: bool, answered_at: datetime, canonical: Any, position: int
) -> Replay:
    """An answer at a position answered already: the first acknowledgement again when it is the
    same answer, else 409 (a timed-out position accepts no answer after the fact)."""
    if stored == canonical:
        return Replay(timed_out, answered_at)
    if timed_out:
        raise AnswerConflict("This position timed out before an answer arrived.")
    raise AnswerConflict(f"Position {position} was already answered differently.")


# ---------------------------------------------------------------------------- finishing


def may_finish(attempt: Facts) -> bool:
    """Whether finishing does anything (finishing is idempotent)."""
    return attempt.status == AttemptStatus.in_progress


def expiry(attempt: Facts, now: datetime) -> datetime | None:
    """The finish time of an open attempt past its deadline (the deadline), else ``None``."""
    if attempt.status == AttemptStatus.in_progress and due(attempt.deadline, now):
        return attempt.deadline
    return None


@dataclass(frozen=True)
class Effects:
    """What a finished attempt changes in its candidate (its token is used up by the token
    package: :func:`etest.token.service.mark_used`)."""

    pt_level: str | None  # a placed PT: the candidate's level
    disable_candidate: bool  # a placed PT where the organization disables after a PT


def effects(kind: str, placed_level: str | None, disable_after_pt: bool) -> Effects:
    """The effects of finishing an attempt of ``kind`` (``placed_level``: the level of a placed
    PT, ``None`` otherwise: an unplaced PT leaves the candidate as they were, with no level and
    free to retake)."""
    placed = kind == Kind.PT and placed_level is not None
    return Effects(
        pt_level=placed_level if placed else None,
        disable_candidate=placed and disable_after_pt,
    )
