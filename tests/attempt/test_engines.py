"""The adaptive engine keeps each attempt's last state per process: the decisions must be the
ones a fresh rebuild from the rows gives, whatever order the requests come in."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

from etest import irt
from etest.attempt.engines import Decision, IrtEngine, ItemInfo, engine_config
from etest.content import schemas

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


# ------------------------------------------- the flow's psychometric settings reach the engine


def _pool() -> dict[uuid.UUID, ItemInfo]:
    rng = random.Random(5)
    return {
        uuid.UUID(int=n + 1): ItemInfo(
            uuid.UUID(int=n + 1),
            ("reading", "grammar")[n % 2],
            LEVELS[n % 4],
            rng.uniform(0.8, 2.0),
            rng.uniform(-3.0, 3.0),
            0.0,
        )
        for n in range(80)
    }


def _stored(**settings: Any) -> dict[str, Any]:
    """An irt engine as the import stores it: the flow schema's dump with the pool's ids."""
    items = _pool()
    flow = {"type": "irt", "pool": ["x"], "cut_scores": [-1.0, 0.0, 1.0], **settings}
    config = schemas.IrtEngine.model_validate(flow).model_dump(mode="json")
    config["pool"] = [str(i) for i in items]
    return config


def _run(config: dict[str, Any], seed: int, theta: float) -> tuple[list[uuid.UUID], Decision]:
    """One simulated candidate of ability ``theta`` (2PL answers drawn by the seed)."""
    items = _pool()
    engine, rng = IrtEngine(config, items, LEVELS), random.Random(seed)
    history: list[tuple[uuid.UUID, bool]] = []
    while (decision := engine.decide(seed, history, set())).item_id is not None:
        item = items[decision.item_id]
        assert item.a is not None and item.b is not None
        p = 1 / (1 + math.exp(-item.a * (theta - item.b)))
        history.append((decision.item_id, rng.random() < p))
    return [i for i, _ in history], decision


def test_a_flow_without_settings_runs_the_core_defaults() -> None:
    # what a version stored before the settings existed carries, and what a flow now stores
    old = {
        k: v
        for k, v in _stored().items()
        if k
        in {
            "type",
            "pool",
            "cut_scores",
            "min_items",
            "max_items",
            "se_target",
            "randomesque",
            "classification_ci",
            "skill_targets",
        }
    }
    assert (
        engine_config(_stored())
        == engine_config(old)
        == irt.EngineConfig(cut_scores=(-1.0, 0.0, 1.0))
    )


def test_the_prior_moves_the_first_item() -> None:
    items = _pool()
    first = {
        mean: items[_run(_stored(prior={"mean": mean, "sd": 0.5}, randomesque=1), 1, 0.0)[0][0]]
        for mean in (-2.0, 0.0, 2.0)
    }
    bs = [first[m].b for m in (-2.0, 0.0, 2.0)]
    assert bs == sorted(bs) and len(set(bs)) == 3
    for mean, item in first.items():
        assert item.b is not None and abs(item.b - mean) < 0.6  # the most informative at the mean


def test_no_se_target_and_no_classification_give_max_items() -> None:
    short, decision = _run(_stored(max_items=15), 3, 0.3)
    assert len(short) < 15 and decision.stop_reason in ("classified", "precision")
    for seed in (3, 4, 5):
        served, decision = _run(
            _stored(max_items=15, se_target=None, classification="off"), seed, 0.3
        )
        assert len(served) == 15 and decision.stop_reason == "max_length"


def test_sprt_stops_otherwise_than_the_interval() -> None:
    runs = {
        rule: [_run(_stored(classification=rule, se_target=None), s, -2.5) for s in range(6)]
        for rule in ("ci", "sprt")
    }
    assert {d.stop_reason for _, d in runs["ci"]} == {"classified"}
    assert {d.stop_reason for _, d in runs["sprt"]} == {"sprt_classified"}
    assert [len(s) for s, _ in runs["ci"]] != [len(s) for s, _ in runs["sprt"]]
    assert {d.level for runs_of in runs.values() for _, d in runs_of} == {"A1"}


def test_an_item_with_exposure_parameter_zero_is_never_given() -> None:
    favourite = _run(_stored(randomesque=1), 1, 0.0)[0][0]  # everyone's first item
    config = {**_stored(randomesque=1), "exposure_control": {str(favourite): 0.0}}
    assert engine_config(config).exposure_control == {str(favourite): 0.0}
    for seed in range(8):
        served, decision = _run(config, seed, random.Random(seed).uniform(-2, 2))
        assert favourite not in served and decision.level in LEVELS


def test_the_estimator_changes_the_ability() -> None:
    served, _ = _run(_stored(), 2, 1.0)
    history = [(i, n % 3 != 2) for n, i in enumerate(served[:6])]  # four right, two wrong
    theta = {
        est: IrtEngine(_stored(estimator=est), _pool(), LEVELS).decide(2, history, set()).theta
        for est in ("eap", "map", "mle")
    }
    assert theta["eap"] is not None and theta["mle"] is not None
    assert 0 < theta["eap"] < theta["mle"]  # the prior pulls EAP towards its mean, 0
    assert len(set(theta.values())) == 3
