"""The adaptive engine keeps each attempt's last state per process: the decisions must be the
ones a fresh rebuild from the rows gives, whatever order the requests come in."""

from __future__ import annotations

import random
import uuid

from etest.attempt.engines import Decision, IrtEngine, ItemInfo

LEVELS = ["A1", "A2", "B1", "B2"]


def _engine() -> IrtEngine:
    rng = random.Random(7)
    items = {}
    for n in range(60):
        item_id = uuid.UUID(int=n + 1)
        items[item_id] = ItemInfo(
            item_id,
            ("reading", "grammar")[n % 2],
            LEVELS[n % 4],
            rng.uniform(0.8, 2.0),
            rng.uniform(-2.5, 2.5),
            0.0,
        )
    config = {
        "type": "irt",
        "pool": [str(i) for i in items],
        "cut_scores": [-1.0, 0.0, 1.0],
        "min_items": 5,
        "max_items": 25,
        "se_target": 0.3,
        "randomesque": 3,
    }
    return IrtEngine(config, items, LEVELS)


def _fresh(seed: int, history: list[tuple[uuid.UUID, bool]], seen: set[uuid.UUID]) -> Decision:
    return _engine().decide(seed, history, seen)  # a new process: nothing kept


def test_kept_states_decide_like_a_rebuild_from_the_rows() -> None:
    engine, rng = _engine(), random.Random(3)
    seen = {uuid.UUID(int=5), uuid.UUID(int=9)}
    for seed in (11, 12):  # two attempts interleaved in one process
        history: list[tuple[uuid.UUID, bool]] = []
        for _ in range(30):
            decision = engine.decide(seed, history, seen)
            assert decision == _fresh(seed, history, seen)
            if decision.item_id is None:
                break
            history.append((decision.item_id, rng.random() < 0.6))
        assert decision.item_id is None and decision.level in LEVELS


def test_a_history_that_does_not_extend_the_kept_state_is_rebuilt() -> None:
    engine = _engine()
    history: list[tuple[uuid.UUID, bool]] = []
    for n in range(6):
        decision = engine.decide(21, history, set())
        assert decision.item_id is not None
        history.append((decision.item_id, n % 2 == 0))
    # an older request arriving late (a shorter history), then one whose last answer differs
    assert engine.decide(21, history[:3], set()) == _fresh(21, history[:3], set())
    flipped = [*history[:-1], (history[-1][0], not history[-1][1])]
    assert engine.decide(21, flipped, set()) == _fresh(21, flipped, set())
    assert engine.decide(21, history, set()) == _fresh(21, history, set())
    # the same seed with other items seen before is another attempt's state
    other = {history[0][0]}
    assert engine.decide(21, [], other) == _fresh(21, [], other)
