"""The engine: rebuildable from (bank, config, seed, responses), never repeats, always says why."""

from __future__ import annotations

import json

import numpy as np
import pytest

from etest.irt import (
    CatEngine,
    EngineConfig,
    InvalidConfiguration,
    InvalidResponses,
    ItemBank,
    ShapeMismatch,
    StepRandom,
    StopReason,
    next_step,
)
from tests.irt.support import CUTS, SKILLS, answer, create_bank

BALANCED = dict.fromkeys(SKILLS, 0.25)


def run(
    engine: CatEngine, seed: int, theta: float, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    state = engine.start(seed)
    while True:
        step = state.step()
        if step.finished:
            return list(state.administered), list(state.responses)
        assert step.item is not None
        state.record(step.item, answer(engine.bank, step.item, theta, rng))


def test_same_seed_and_responses_give_the_same_next_item() -> None:
    bank = create_bank(300, seed=11)
    config = EngineConfig(cut_scores=CUTS, content_targets=BALANCED)
    engine = CatEngine(bank, config)
    state = engine.start(1234)
    rng = np.random.default_rng(0)
    for _ in range(25):
        step = state.step()
        assert step.item is not None
        # A fresh process (a fresh engine) rebuilds the attempt and picks the same item.
        rebuilt = next_step(bank, config, 1234, state.administered, state.responses)
        assert rebuilt.item == step.item
        assert rebuilt.theta == step.theta and rebuilt.se == step.se  # bit-identical replay
        state.record(step.item, answer(bank, step.item, 0.5, rng))
    assert len(set(state.administered)) == 25


def test_different_seeds_spread_the_first_item_over_the_top_k() -> None:
    bank = create_bank(300, seed=11)
    config = EngineConfig(cut_scores=CUTS, randomesque_k=5)
    first = {next_step(bank, config, seed, [], []).item for seed in range(60)}
    assert len(first) == 5
    mfi = EngineConfig(cut_scores=CUTS, randomesque_k=1)
    assert len({next_step(bank, mfi, seed, [], []).item for seed in range(20)}) == 1


def test_tests_stop_with_a_reason_and_a_placement() -> None:
    bank = create_bank(300, seed=12)
    engine = CatEngine(bank, EngineConfig(cut_scores=CUTS, content_targets=BALANCED))
    rng = np.random.default_rng(3)
    for seed, theta in enumerate((-3.5, -0.2, 0.7, 3.5)):
        items, responses = run(engine, seed, theta, rng)
        assert 10 <= len(items) <= 40 and len(set(items)) == len(items)
        final = engine.next_step(seed, items, responses)
        assert final.finished and final.item is None and final.placement is not None
        assert final.stop_reason in set(StopReason)
        json.dumps(final.to_dict())


def test_pool_exhaustion_and_no_informative_item() -> None:
    bank = create_bank(5, seed=13)
    config = EngineConfig(cut_scores=CUTS, min_items=10, se_target=None, classification="off")
    step = next_step(bank, config, 0, [0, 1, 2, 3, 4], [1, 0, 1, 0, 1])
    assert step.stop_reason is StopReason.POOL_EXHAUSTED
    steep = create_bank(30, seed=14, b_sd=0.1)
    picky = EngineConfig(
        cut_scores=CUTS, min_items=1, se_target=None, classification="off", min_information=0.5
    )
    far = next_step(steep, picky, 0, [0, 1, 2, 3], [1, 1, 1, 1])
    assert far.stop_reason is StopReason.NO_INFORMATIVE_ITEM


def test_classification_stop_fires_with_steep_items_at_the_ends() -> None:
    rng = np.random.default_rng(0)
    n = 200
    bank = ItemBank.from_arrays([f"s{j}" for j in range(n)], np.full(n, 3.0), rng.uniform(-5, 5, n))
    config = EngineConfig(cut_scores=CUTS, se_target=None)
    items, responses = run(CatEngine(bank, config), 1, -4.5, rng)
    final = next_step(bank, config, 1, items, responses)
    assert final.stop_reason is StopReason.CLASSIFIED and final.placement is not None
    assert final.placement.level == 0
    sprt = config.replace(classification="sprt")
    items, responses = run(CatEngine(bank, sprt), 1, 4.5, rng)
    final = next_step(bank, sprt, 1, items, responses)
    assert final.stop_reason is StopReason.SPRT_CLASSIFIED and len(items) < 40


def test_seen_items_only_when_nothing_else_is_left() -> None:
    bank = create_bank(12, seed=15)
    config = EngineConfig(
        cut_scores=CUTS, se_target=None, classification="off", min_items=12, max_items=12
    )
    seen = list(range(8))
    state = CatEngine(bank, config).start(5, seen=seen)
    fallbacks = []
    for k in range(12):
        step = state.step()
        assert step.item is not None and step.selection is not None
        fallbacks.append(step.selection.seen_fallback)
        assert (step.item in seen) == step.selection.seen_fallback
        state.record(step.item, k % 2)
    assert fallbacks == [False] * 4 + [True] * 8


def test_bad_inputs_to_the_engine() -> None:
    bank = create_bank(20, seed=16)
    config = EngineConfig(cut_scores=CUTS)
    with pytest.raises(ShapeMismatch):
        next_step(bank, config, 0, [1, 2], [1])
    with pytest.raises(InvalidResponses, match="administered twice"):
        next_step(bank, config, 0, [1, 1], [1, 0])
    with pytest.raises(InvalidResponses, match="excluded"):
        next_step(bank, config, 0, [1], [1], excluded=[1])
    with pytest.raises(InvalidConfiguration, match="seed"):
        next_step(bank, config, -1, [], [])
    with pytest.raises(InvalidConfiguration, match="no item has"):
        CatEngine(bank, config.replace(content_targets={"speaking": 1.0}))
    state = CatEngine(bank, config).start(0)
    with pytest.raises(InvalidResponses, match="not 0 or 1"):
        state.record(0, 2)
    with pytest.raises(InvalidResponses, match="outside the bank"):
        state.record(99, 1)


def test_quota_shortfalls_are_reported() -> None:
    bank = create_bank(20, seed=17)
    engine = CatEngine(bank, EngineConfig(cut_scores=CUTS, content_targets=BALANCED))
    assert len(engine.content_warnings) == 4 and "quota 10 of 40" in engine.content_warnings[0]


def test_step_random_is_deterministic_and_uniform() -> None:
    draws = [StepRandom(seed, step).random() for seed in range(300) for step in range(20)]
    assert draws == [StepRandom(seed, step).random() for seed in range(300) for step in range(20)]
    counts = np.histogram(draws, bins=10, range=(0, 1))[0]
    assert counts.min() > 500 and counts.max() < 700
    r = StepRandom(2**70 + 5, 3)
    assert 0.0 <= r.random() < 1.0 and r.random() != StepRandom(2**70 + 5, 3).random()
