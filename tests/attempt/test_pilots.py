"""Pilot items (etest.attempt.pilots): served in seeded slots, scored and stored, never used for
the candidate's ability, result or pass mark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from etest.attempt import rules
from etest.attempt.engines import Decision, FixedEngine
from etest.attempt.pilots import Pilots
from tests.attempt.test_rules import A, S

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
OPERATIONAL = [uuid.UUID(int=100 + i) for i in range(8)]
TRIAL = (uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3))


def test_a_version_without_a_pilot_block_has_no_pilots() -> None:
    assert Pilots.of({"type": "fixed"}) is None
    assert Pilots.of({"type": "fixed", "pilot": None}) is None
    assert Pilots.of({"type": "fixed", "pilot": {"items": [], "rate": 0.2}}) is None
    found = Pilots.of({"pilot": {"items": [str(i) for i in TRIAL], "rate": 0.2}})
    assert found == Pilots(TRIAL, 0.2)


def test_the_schedule_is_the_seeds_and_never_the_first_position() -> None:
    pilots = Pilots(TRIAL, 0.25)
    slots = [[pilots.is_slot(seed, p) for p in range(1, 41)] for seed in range(400)]
    assert not any(row[0] for row in slots)  # the first item is always operational
    share = sum(sum(row[1:]) for row in slots) / (400 * 39)
    assert 0.22 < share < 0.28
    assert slots[7] == [pilots.is_slot(7, p) for p in range(1, 41)]  # any process, same slots
    assert len({tuple(row) for row in slots}) > 300  # and they differ between attempts


def _take(
    pilots: Pilots | None, seed: int, answers: dict[uuid.UUID, bool]
) -> tuple[list[uuid.UUID], list[list[tuple[uuid.UUID, int]]], rules.Stop]:
    """Serve a fixed test of OPERATIONAL[:4] to the end through rules.serve, answering each
    item as ``answers`` says (pilots: always right); returns the items served in order, every
    history the engine was asked about, and the stop."""
    engine = FixedEngine(
        {"sections": [{"skill": "r", "count": 4, "pool": [str(i) for i in OPERATIONAL]}]}
    )
    asked: list[list[tuple[uuid.UUID, int]]] = []

    def decide(history: list[tuple[uuid.UUID, int]]) -> Decision:
        asked.append(list(history))
        return engine.decide(seed, history, set())

    steps: list[S] = []
    while True:
        decision = rules.serve(
            A(seed=seed), steps, NOW, decide, time_limit_seconds=None, pilots=pilots
        )
        if isinstance(decision, rules.Stop):
            return [s.item_id for s in steps], asked, decision
        assert isinstance(decision, rules.Serve) and decision.position == len(steps) + 1
        steps.append(S(decision.position, decision.item_id, answers.get(decision.item_id, True)))


@pytest.mark.parametrize("seed", range(25))
def test_pilots_change_nothing_the_engine_sees(seed: int) -> None:
    answers = {i: n % 3 != 0 for n, i in enumerate(OPERATIONAL)}
    pilots = Pilots(TRIAL, 0.4)
    plain, plain_asked, plain_stop = _take(None, seed, answers)
    served, asked, stop = _take(pilots, seed, answers)
    operational = [i for i in served if i not in TRIAL]
    assert operational == plain  # the same items in the same order
    # the engine never saw a pilot item: the same histories (asked again at a pilot slot,
    # whose operational item it serves at the next position)
    assert not any(i in TRIAL for history in asked for i, _ in history)
    assert [h for n, h in enumerate(asked) if n == 0 or h != asked[n - 1]] == plain_asked
    assert stop.history == plain_stop.history and stop.decision == plain_stop.decision
    given = [i for i in served if i in TRIAL]
    assert len(given) == len(set(given))  # each pilot item at most once
    assert served[0] not in TRIAL and served[-1] not in TRIAL  # inside the test, never after it
    # the planned length a candidate sees is the length served
    assert pilots.positions_for(seed, 4) == len(served)


def test_a_timed_out_pilot_item_is_not_an_operational_wrong_answer() -> None:
    pilots = Pilots(TRIAL, 1.0)  # every slot after the first
    seed = 3
    steps = [
        S(1, OPERATIONAL[0], True),
        S(2, pilots.order(seed)[0], None, deadline=datetime(2026, 12, 6, 8, 0, tzinfo=UTC)),
    ]
    asked: list[list[tuple[uuid.UUID, int]]] = []

    def decide(history: list[tuple[uuid.UUID, int]]) -> Decision:
        asked.append(list(history))
        return Decision(OPERATIONAL[1])

    decision = rules.serve(A(seed=seed), steps, NOW, decide, time_limit_seconds=None, pilots=pilots)
    assert isinstance(decision, rules.Serve) and decision.time_out is not None
    assert decision.time_out.position == 2
    assert asked == [[(OPERATIONAL[0], True)]]
    assert decision.item_id == pilots.order(seed)[1]  # the next pilot item, in its slot
