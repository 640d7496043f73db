"""The delivery rules without a database (etest.attempt.rules): every state of an attempt against
every request, and how often the engine is asked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etest.attempt import rules
from etest.attempt.engines import Decision
from etest.attempt.errors import (
    AnswerConflict,
    AttemptFinished,
    CandidateDisabledAtStart,
    TokenExpired,
    TokenRevoked,
    WrongPosition,
)
from etest.token.errors import TokenNotYetValid

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
ITEM = [uuid.UUID(int=i) for i in range(10)]
ATTEMPT, CANDIDATE, VERSION = uuid.UUID(int=99), uuid.UUID(int=98), uuid.UUID(int=97)


@dataclass(frozen=True)
class A:
    status: str = "in_progress"
    deadline: datetime | None = None
    id: uuid.UUID = ATTEMPT
    seed: int = 7
    kind: str = "CT"
    level: str | None = "A1"
    candidate_id: uuid.UUID = CANDIDATE
    started_at: datetime = NOW - 600 * SEC
    assessment_version_id: uuid.UUID = VERSION


@dataclass(frozen=True)
class S:
    position: int
    item_id: uuid.UUID
    correct: bool | None
    served_at: datetime = NOW - 60 * SEC
    deadline: datetime | None = None
    points: int | None = None


@dataclass(frozen=True)
class P:
    item_id: uuid.UUID = ITEM[1]
    served_at: datetime = NOW - 30 * SEC
    deadline: datetime | None = None
    answer: Any = None
    timed_out: bool | None = None
    answered_at: datetime | None = None


class Engine:
    """Serves ITEM[n] at position n until ``length`` answers, counting its calls."""

    def __init__(self, length: int = 3) -> None:
        self.length, self.calls, self.histories = length, 0, []

    def __call__(self, history: list[tuple[uuid.UUID, int]]) -> Decision:
        self.calls += 1
        self.histories.append(list(history))
        if len(history) >= self.length:
            return Decision(None, "complete")
        return Decision(ITEM[len(history) + 1])


ANSWERED = [S(1, ITEM[1], True), S(2, ITEM[2], False)]
OPEN = [S(1, ITEM[1], True), S(2, ITEM[2], None, deadline=NOW + 10 * SEC)]
OPEN_IN_GRACE = [S(1, ITEM[1], True), S(2, ITEM[2], None, deadline=NOW - SEC)]
OPEN_TIMED_OUT = [S(1, ITEM[1], True), S(2, ITEM[2], None, deadline=NOW - 3 * SEC)]
ALL_ANSWERED = [S(1, ITEM[1], True), S(2, ITEM[2], False), S(3, ITEM[3], True)]
ALL_BUT_LAST_TIMED_OUT = [
    S(1, ITEM[1], True),
    S(2, ITEM[2], False),
    S(3, ITEM[3], None, deadline=NOW - 5 * SEC),
]

# (state, attempt, steps, may_start, time limit) -> the decision, and the engine's calls
SERVE_TABLE = [
    ("completed", A(status="completed"), ANSWERED, True, None, rules.Show, 0),
    ("voided", A(status="voided"), ANSWERED, True, None, rules.Show, 0),
    ("clock ran out", A(deadline=NOW - 3 * SEC), ANSWERED, True, None, rules.Expire, 0),
    ("clock in grace", A(deadline=NOW - SEC), ANSWERED, True, None, rules.Serve, 1),
    ("nothing served, a page view", A(), [], False, 1800, rules.NotYet, 0),
    ("nothing served, timed test", A(), [], True, 1800, rules.Serve, 1),
    ("nothing served, untimed test", A(), [], True, None, rules.Serve, 1),
    ("all answered, engine goes on", A(), ANSWERED, True, None, rules.Serve, 1),
    ("all answered, a page view", A(), ANSWERED, False, None, rules.Serve, 1),
    ("all answered, engine stops", A(), ALL_ANSWERED, True, None, rules.Stop, 1),
    ("open item in time", A(), OPEN, True, None, rules.Resume, 0),
    ("open item in grace", A(), OPEN_IN_GRACE, True, None, rules.Resume, 0),
    ("open item timed out, engine goes on", A(), OPEN_TIMED_OUT, True, None, rules.Serve, 1),
    ("open item timed out, engine stops", A(), ALL_BUT_LAST_TIMED_OUT, True, None, rules.Stop, 1),
]


@pytest.mark.parametrize(
    ("attempt", "steps", "may_start", "limit", "expected", "calls"),
    [row[1:] for row in SERVE_TABLE],
    ids=[row[0] for row in SERVE_TABLE],
)
def test_serving_decides_once_in_every_state(
    attempt: A, steps: list[S], may_start: bool, limit: int | None, expected: type, calls: int
) -> None:
    engine = Engine()
    decision = rules.serve(
        attempt, steps, NOW, engine, time_limit_seconds=limit, may_start=may_start
    )
    assert type(decision) is expected
    assert engine.calls == calls


def test_the_first_item_of_a_timed_test_starts_the_clock_and_no_other_does() -> None:
    first = rules.serve(A(), [], NOW, Engine(), time_limit_seconds=1800)
    assert isinstance(first, rules.Serve) and first.position == 1 and first.starts_clock
    assert first.attempt_deadline == NOW + 1800 * SEC and first.at == NOW
    untimed = rules.serve(A(), [], NOW, Engine(), time_limit_seconds=None)
    assert isinstance(untimed, rules.Serve) and not untimed.starts_clock
    later = rules.serve(
        A(deadline=NOW + 60 * SEC), ANSWERED, NOW, Engine(), time_limit_seconds=1800
    )
    assert isinstance(later, rules.Serve) and later.position == 3
    assert later.attempt_deadline == NOW + 60 * SEC and not later.starts_clock


def test_a_timed_out_item_is_recorded_wrong_before_the_engine_goes_on() -> None:
    engine = Engine(length=5)
    decision = rules.serve(A(), OPEN_TIMED_OUT, NOW, engine, time_limit_seconds=None)
    assert isinstance(decision, rules.Serve) and decision.position == 3
    assert decision.time_out == rules.TimeOut(2, ITEM[2], 57_000)  # deadline - served_at
    assert engine.histories == [[(ITEM[1], True), (ITEM[2], False)]]


def test_a_stop_carries_the_history_it_was_decided_on() -> None:
    decision = rules.serve(A(), ALL_BUT_LAST_TIMED_OUT, NOW, Engine(), time_limit_seconds=None)
    assert isinstance(decision, rules.Stop) and decision.reason == "complete"
    assert decision.history == ((ITEM[1], True), (ITEM[2], False), (ITEM[3], False))
    assert decision.time_out is not None and decision.time_out.position == 3


def test_an_expired_attempt_finishes_at_its_deadline() -> None:
    deadline = NOW - 10 * SEC
    assert rules.serve(A(deadline=deadline), [], NOW, Engine(), time_limit_seconds=60) == (
        rules.Expire(deadline)
    )
    assert rules.expiry(A(deadline=deadline), NOW) == deadline
    assert rules.expiry(A(deadline=NOW - SEC), NOW) is None  # grace
    assert rules.expiry(A(status="completed", deadline=deadline), NOW) is None
    assert rules.may_finish(A()) and not rules.may_finish(A(status="completed"))


# (state, attempt, served position, the answer: canonical and right?) -> decision or error
ANSWER_TABLE: list[tuple[str, A, P, Any, bool, Any]] = [
    ("first answer, right", A(), P(), "a", True, rules.Accept(True, False, 30_000)),
    ("first answer, wrong", A(), P(), "b", False, rules.Accept(False, False, 30_000)),
    (
        "past the item's deadline, in grace",
        A(),
        P(deadline=NOW - SEC),
        "a",
        True,
        rules.Accept(True, False, 30_000),
    ),
    (
        "past the item's deadline: late, wrong, timed to its deadline",
        A(),
        P(deadline=NOW - 10 * SEC),
        "a",
        True,
        rules.Accept(False, True, 20_000),
    ),
    (
        "the same answer again",
        A(),
        P(answer="a", timed_out=False, answered_at=NOW - SEC),
        "a",
        True,
        rules.Replay(False, NOW - SEC),
    ),
    (
        "the same late answer again",
        A(),
        P(answer="a", timed_out=True, answered_at=NOW - SEC),
        "a",
        True,
        rules.Replay(True, NOW - SEC),
    ),
    (
        "the same answer again, attempt finished since",
        A(status="completed"),
        P(answer="a", timed_out=False, answered_at=NOW - SEC),
        "a",
        True,
        rules.Replay(False, NOW - SEC),
    ),
    (
        "a different answer",
        A(),
        P(answer="a", timed_out=False, answered_at=NOW - SEC),
        "b",
        False,
        AnswerConflict,
    ),
    (
        "an answer to a timed-out position",
        A(),
        P(answer=None, timed_out=True, answered_at=NOW - SEC),
        "a",
        True,
        AnswerConflict,
    ),
    ("attempt finished", A(status="completed"), P(), "a", True, AttemptFinished),
    ("attempt voided", A(status="voided"), P(), "a", True, AttemptFinished),
    ("attempt's clock ran out", A(deadline=NOW - 3 * SEC), P(), "a", True, AttemptFinished),
    (
        "attempt's clock in grace",
        A(deadline=NOW - SEC),
        P(),
        "a",
        True,
        rules.Accept(True, False, 30_000),
    ),
]


@pytest.mark.parametrize(
    ("attempt", "served", "canonical", "correct", "expected"),
    [row[1:] for row in ANSWER_TABLE],
    ids=[row[0] for row in ANSWER_TABLE],
)
def test_answering_in_every_state(
    attempt: A, served: P, canonical: Any, correct: bool, expected: Any
) -> None:
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            rules.answer(attempt, served, 2, canonical, correct, NOW)
    else:
        assert rules.answer(attempt, served, 2, canonical, correct, NOW) == expected


def test_an_answer_needs_a_served_position() -> None:
    with pytest.raises(WrongPosition):
        rules.require_served(None, 5)
    served = P()
    assert rules.require_served(served, 1) is served


def test_item_deadlines_never_pass_the_attempts() -> None:
    assert rules.item_deadline(None, NOW, None) is None
    assert rules.item_deadline(30, NOW, None) == NOW + 30 * SEC
    assert rules.item_deadline(30, NOW, NOW + 10 * SEC) == NOW + 10 * SEC
    assert rules.item_deadline(None, NOW, NOW + 10 * SEC) == NOW + 10 * SEC
    assert rules.item_deadline(30, NOW, NOW + 60 * SEC) == NOW + 30 * SEC


def test_option_order_is_the_seeds_on_every_device() -> None:
    ids = [f"o{i}" for i in range(6)]
    shuffled = rules.order(ids, 7, 3, 0, True)
    assert sorted(shuffled) == ids and shuffled == rules.order(list(ids), 7, 3, 0, True)
    assert rules.order(ids, 7, 3, 0, False) == ids
    # another position, stream or seed gives (for this seed) another order
    others = {
        tuple(rules.order(ids, s, p, st, True)) for s, p, st in [(7, 4, 0), (7, 3, 1), (8, 3, 0)]
    }
    assert tuple(shuffled) not in others


def test_facts_are_read_not_changed() -> None:
    attempt, steps = A(), list(OPEN_TIMED_OUT)
    rules.serve(attempt, steps, NOW, Engine(), time_limit_seconds=None)
    assert steps == OPEN_TIMED_OUT and attempt == A()
    assert replace(attempt, status="completed") != attempt  # frozen facts: compared by value


@dataclass(frozen=True)
class T:
    status: str = "issued"
    expires_at: datetime = NOW + 3600 * SEC
    not_before: datetime | None = None


# (state, token, latest attempt's status) -> what entering the token does, or the error
OPENING_TABLE: list[tuple[str, T, str | None, Any]] = [
    ("new token", T(), None, rules.Opening.new),
    ("revoked", T(status="revoked"), None, TokenRevoked),
    ("revoked with an open attempt", T(status="revoked"), "in_progress", TokenRevoked),
    ("started, open attempt", T(status="started"), "in_progress", rules.Opening.resume),
    (
        "expired, open attempt",
        T(status="started", expires_at=NOW),
        "in_progress",
        rules.Opening.resume,
    ),
    ("expired, nothing started", T(expires_at=NOW), None, TokenExpired),
    ("before its window", T(not_before=NOW + SEC), None, TokenNotYetValid),
    ("window begun", T(not_before=NOW - SEC), None, rules.Opening.new),
    ("completed attempt", T(status="completed"), "completed", rules.Opening.show),
    (
        "expired, completed attempt",
        T(status="completed", expires_at=NOW),
        "completed",
        rules.Opening.show,
    ),
    ("token used up, attempt voided", T(status="completed"), "voided", rules.Opening.show),
    ("reset: live again after a voided attempt", T(), "voided", rules.Opening.new),
    ("reset and expired", T(expires_at=NOW - SEC), "voided", TokenExpired),
]


@pytest.mark.parametrize(
    ("token", "latest", "expected"),
    [row[1:] for row in OPENING_TABLE],
    ids=[row[0] for row in OPENING_TABLE],
)
def test_what_a_token_opens(token: T, latest: str | None, expected: Any) -> None:
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            rules.opening(token, latest, NOW)
    else:
        assert rules.opening(token, latest, NOW) == expected


def test_a_disabled_candidate_starts_no_placement_test() -> None:
    with pytest.raises(CandidateDisabledAtStart):
        rules.require_may_start("PT", True)
    rules.require_may_start("CT", True)
    rules.require_may_start("PT", False)


@pytest.mark.parametrize(
    ("kind", "placed", "disable", "expected"),
    [
        ("PT", "B1", False, rules.Effects("B1", False)),
        ("PT", "B1", True, rules.Effects("B1", True)),
        ("PT", None, True, rules.Effects(None, False)),  # unplaced: as they were
        ("CT", None, True, rules.Effects(None, False)),
        ("CT", "B1", True, rules.Effects(None, False)),  # a CT places no one
    ],
)
def test_what_finishing_changes(
    kind: str, placed: str | None, disable: bool, expected: rules.Effects
) -> None:
    assert rules.effects(kind, placed, disable) == expected
