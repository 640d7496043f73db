"""The adaptive engine keeps each attempt's last state per process: the decisions must be the
ones a fresh rebuild from the rows gives, whatever order the requests come in."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

from etest import irt
from etest.attempt.engines import Decision, IrtEngine, ItemInfo, StagedEngine, engine_config
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


def _fresh(seed: int, history: list[tuple[uuid.UUID, int]], seen: set[uuid.UUID]) -> Decision:
    return _engine().decide(seed, history, seen)  # a new process: nothing kept


def test_kept_states_decide_like_a_rebuild_from_the_rows() -> None:
    engine, rng = _engine(), random.Random(3)
    seen = {uuid.UUID(int=5), uuid.UUID(int=9)}
    for seed in (11, 12):  # two attempts interleaved in one process
        history: list[tuple[uuid.UUID, int]] = []
        for _ in range(30):
            decision = engine.decide(seed, history, seen)
            assert decision == _fresh(seed, history, seen)
            if decision.item_id is None:
                break
            history.append((decision.item_id, rng.random() < 0.6))
        assert decision.item_id is None and decision.level in LEVELS


def test_a_history_that_does_not_extend_the_kept_state_is_rebuilt() -> None:
    engine = _engine()
    history: list[tuple[uuid.UUID, int]] = []
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
    history: list[tuple[uuid.UUID, int]] = []
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


# ------------------------------------------- items scored 0 … k (cloze, gap_match)


def _mixed() -> tuple[dict[uuid.UUID, ItemInfo], dict[str, Any]]:
    """The 60-item pool with ten cloze items: five GPCM (three or four steps), five with a
    2PL over four gaps (``max_points`` 4, no steps)."""
    items = {p.id: p for p in _engine().pool}
    rng = random.Random(11)
    for n in range(10):
        item_id = uuid.UUID(int=1000 + n)
        k = 3 + n % 2
        steps = tuple(sorted(rng.uniform(-2.0, 2.0) for _ in range(k))) if n < 5 else None
        items[item_id] = ItemInfo(
            item_id, "reading", LEVELS[n % 4], 1.1, 0.0, 0.0, steps, k if steps else 4
        )
    config = {
        "type": "irt",
        "pool": [str(i) for i in items],
        "cut_scores": [-1.0, 0.0, 1.0],
        "min_items": 5,
        "max_items": 25,
        "se_target": 0.3,
    }
    return items, config


def test_a_gpcm_item_enters_the_estimate_with_its_points() -> None:
    items, config = _mixed()
    engine = IrtEngine(config, items, LEVELS)
    gpcm = uuid.UUID(int=1000)  # three steps
    bank = engine.engine.bank
    assert int(bank.max_score[engine.position[gpcm]]) == 3
    thetas = []
    for points in range(4):
        state = engine.engine.start(5)
        state.record(engine.position[gpcm], points)
        expected = state.step()
        decision = engine.decide(5, [(gpcm, points)], set())
        assert (decision.theta, decision.se) == (expected.theta, expected.se)
        thetas.append(decision.theta)
    assert thetas == sorted(thetas) and len(set(thetas)) == 4  # each point moves θ up


def test_a_dichotomous_item_with_several_gaps_counts_only_full_credit() -> None:
    items, config = _mixed()
    engine = IrtEngine(config, items, LEVELS)
    cloze = uuid.UUID(int=1007)  # 2PL, four gaps
    wrong = engine.decide(9, [(cloze, 0)], set())
    assert engine.decide(9, [(cloze, 3)], set()) == wrong  # three of four: not right
    right = engine.decide(9, [(cloze, 4)], set())
    assert right.theta is not None and wrong.theta is not None and right.theta > wrong.theta
    state = engine.engine.start(9)
    state.record(engine.position[cloze], 1)
    assert right.theta == state.step().theta


def test_kept_states_with_gpcm_scores_decide_like_a_rebuild() -> None:
    items, config = _mixed()
    engine, rng = IrtEngine(config, items, LEVELS), random.Random(4)
    history: list[tuple[uuid.UUID, int]] = []
    for _ in range(25):
        decision = engine.decide(31, history, set())
        assert decision == IrtEngine(config, items, LEVELS).decide(31, history, set())
        if decision.item_id is None:
            break
        history.append((decision.item_id, rng.randint(0, items[decision.item_id].max_points)))
    # the same items with other partial scores is another history: rebuilt, not reused
    other = [(i, 0 if s else s) for i, s in history[:6]]
    assert engine.decide(31, other, set()) == IrtEngine(config, items, LEVELS).decide(
        31, other, set()
    )


def test_staged_counts_an_item_right_only_with_full_credit() -> None:
    a1 = [uuid.UUID(int=n) for n in range(1, 6)]
    items = {i: ItemInfo(i, "reading", "A1", None, None, None, None, 3) for i in a1}
    config = {
        "type": "staged",
        "groups": [
            {"level": "A1", "items": [str(i) for i in a1]},
            {"level": "A2", "items": [str(uuid.UUID(int=50))]},
        ],
        "max_consecutive_wrong": 3,
    }
    engine = StagedEngine(config, LEVELS, items)
    served = engine.decide(1, [], set()).item_id
    assert served is not None
    history: list[tuple[uuid.UUID, int]] = []
    for _ in range(3):  # two of three gaps, three times: three wrong in a row
        item = engine.decide(1, history, set()).item_id
        assert item is not None
        history.append((item, 2))
    assert engine.decide(1, history, set()).stop_reason == "max_consecutive_wrong"
    full = [(i, 3) for i, _ in history]
    assert engine.decide(1, full, set()).item_id is not None  # right: the group goes on


def test_the_history_scores_points_and_a_timed_out_position_zero() -> None:
    from etest.attempt import rules
    from tests.attempt.test_rules import S

    steps = [
        S(1, uuid.UUID(int=1), True),
        S(2, uuid.UUID(int=2), False, points=2),
        S(3, uuid.UUID(int=3), True, points=4),
        S(4, uuid.UUID(int=4), False),
        S(5, uuid.UUID(int=5), None),
    ]
    assert rules.operational(steps, frozenset()) == [
        (uuid.UUID(int=1), 1),
        (uuid.UUID(int=2), 2),
        (uuid.UUID(int=3), 4),
        (uuid.UUID(int=4), 0),
    ]
