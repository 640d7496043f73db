"""Stopping rules and placement (psychometrics.md §4, §5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from etest.irt import (
    EngineConfig,
    InvalidConfiguration,
    ItemBank,
    StopReason,
    interval_level,
    level_of,
    level_probabilities,
    place,
    position_in_level,
    posterior_level_probabilities,
    posterior_weights,
    sprt_decisions,
    sprt_level,
    sprt_log_ratios,
    stop_reason,
    wald_bounds,
)
from tests.irt.support import CUTS, baker_bank


def config(**changes: object) -> EngineConfig:
    return EngineConfig(cut_scores=CUTS).replace(**changes)


def test_wald_bounds_reference_10() -> None:
    lower, upper = wald_bounds(0.05, 0.05)
    assert lower == pytest.approx(-2.9444, abs=1e-4) and upper == pytest.approx(2.9444, abs=1e-4)


def test_one_item_sprt_ratio_has_the_closed_form() -> None:
    # psychometrics.md §9 row 11 lists ±0.1998; for a 2PL item with a = 1 at the cut the ratio is
    # ln(σ(δ)/σ(−δ)) = δ exactly, 0.2000 (the note's own §4.3 text rounds it to 0.20).
    bank = ItemBank.from_arrays(["at-cut"], [1.0], [0.3])
    up = sprt_log_ratios(bank, [0], [1], [0.3], delta=0.2)
    down = sprt_log_ratios(bank, [0], [0], [0.3], delta=0.2)
    assert float(up[0]) == pytest.approx(0.2, abs=1e-12)
    assert float(down[0]) == pytest.approx(-0.2, abs=1e-12)


def test_sprt_decisions_and_levels() -> None:
    assert sprt_decisions([3.0, 0.0, -3.0]).tolist() == [1, 0, -1]
    assert sprt_level([1, 1, -1, -1]) == 2
    assert sprt_level([1, 1, 1, 1]) == 4
    assert sprt_level([-1, -1]) == 0
    assert sprt_level([1, 0, -1]) is None
    assert sprt_level([1, -1, 1, -1]) is None  # contradictory: undecided


def test_interval_rule_inside_a_band_or_across_a_cut() -> None:
    assert interval_level(0.0, 0.1, CUTS) == 5
    assert interval_level(0.0, 0.2, CUTS) is None
    assert interval_level(-5.0, 0.5, CUTS) == 0
    assert interval_level(5.0, 0.5, CUTS) == 10


def test_rules_apply_in_order() -> None:
    cfg = config(min_items=10, max_items=40, se_target=0.35)
    base = {"theta": 0.0, "se": 0.5, "items_left": 100}
    assert stop_reason(cfg, n_administered=3, **base) is None
    assert (
        stop_reason(cfg, n_administered=3, theta=0.0, se=0.5, items_left=0)
        is StopReason.POOL_EXHAUSTED
    )
    assert (
        stop_reason(cfg, n_administered=3, theta=0.0, se=0.05, items_left=9) is None
    )  # n_min first
    assert (
        stop_reason(cfg, n_administered=12, theta=0.0, se=0.05, items_left=9)
        is StopReason.CLASSIFIED
    )
    assert (
        stop_reason(cfg, n_administered=12, theta=0.3, se=0.3, items_left=9) is StopReason.PRECISION
    )
    assert stop_reason(cfg, n_administered=40, **base) is StopReason.MAX_LENGTH
    assert stop_reason(cfg, n_administered=12, **base) is None
    informative = stop_reason(cfg, n_administered=12, best_information=0.001, **base)
    assert informative is StopReason.NO_INFORMATIVE_ITEM
    sprt = config(classification="sprt")
    strong = np.array([5.0] * 5 + [-5.0] * 5)
    assert (
        stop_reason(sprt, n_administered=12, sprt_ratios=strong, **base)
        is StopReason.SPRT_CLASSIFIED
    )
    with pytest.raises(InvalidConfiguration):
        stop_reason(sprt, n_administered=12, **base)


def test_placement_bands_positions_and_probabilities() -> None:
    assert level_of(0.3, CUTS) == 6  # exactly on a cut: the upper band
    assert level_of(-9.0, CUTS) == 0 and level_of(9.0, CUTS) == 10
    assert position_in_level(0.0, CUTS) == pytest.approx(50.0)
    assert position_in_level(-3.0, CUTS) == pytest.approx(50.0)  # end band borrows 0.6
    assert position_in_level(-9.0, CUTS) == 0.0 and position_in_level(9.0, CUTS) == 100.0
    assert position_in_level(1.0, [0.0]) == pytest.approx(100.0)
    probs = level_probabilities(0.1, 0.35, CUTS)
    assert probs.sum() == pytest.approx(1.0) and int(np.argmax(probs)) == 5
    assert level_probabilities(0.1, 0.0, CUTS).tolist() == [float(k == 5) for k in range(11)]
    placement = place(0.0, 0.35, CUTS)
    assert placement.level == 5 and placement.confidence == pytest.approx(probs_at(0.0, 0.35))


def probs_at(theta: float, se: float) -> float:
    return math.erf(0.3 / (se * math.sqrt(2)))


def test_posterior_level_probabilities_sum_to_one() -> None:
    grid_weights = posterior_weights(baker_bank(), [0, 1, 2], [1, 0, 1])
    nodes = np.linspace(-6, 6, 121)
    probs = posterior_level_probabilities(grid_weights, nodes, CUTS)
    assert probs.sum() == pytest.approx(1.0) and probs.shape == (11,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cut_scores": (0.5, 0.2)}, "strictly increasing"),
        ({"cut_scores": (0.0, float("nan"))}, "finite"),
        ({"cut_scores": ()}, "needs at least one cut score"),
        ({"min_items": 50}, "min_items <= max_items"),
        ({"randomesque_k": 0}, "randomesque_k"),
        ({"se_target": -1.0}, "se_target"),
        ({"classification": "sprt", "sprt_delta": 0.5}, "half the narrowest band"),
        ({"content_targets": {"reading": 0.5}}, "sum to 1"),
        ({"exposure_control": {"x": 1.5}}, "must be in \\[0, 1\\]"),
        ({"estimator": "bayes"}, "estimator"),
    ],
)
def test_bad_configurations_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message):
        config(**changes)


def test_config_round_trips_through_a_dict() -> None:
    cfg = config(content_targets={"reading": 0.5, "grammar": 0.5})
    again = EngineConfig.from_dict(
        {k: v for k, v in cfg.to_dict().items() if k != "exposure_control_items"}
    )
    assert again == cfg
    with pytest.raises(InvalidConfiguration, match="unknown engine setting"):
        EngineConfig.from_dict({"cut_scores": [0.0], "max_itmes": 3})
