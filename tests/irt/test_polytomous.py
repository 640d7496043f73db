"""The generalized partial credit model: probabilities, information, scoring, selection, engine.

Reference values are computed here from the model's definition (explicit sums over categories,
numerical derivatives, numerical integration), never copied from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from etest.irt import (
    CatEngine,
    EngineConfig,
    InvalidItemParameters,
    InvalidResponses,
    ItemBank,
    eap,
    gpcm_information,
    gpcm_log_likelihood,
    gpcm_log_probabilities,
    gpcm_probabilities,
    item_information,
    log_likelihood,
    map_estimate,
    mle,
    probability,
    select_item,
    simulate,
    wle,
)
from etest.irt.simulation import _score
from etest.irt.stopping import sprt_log_ratios

A = np.array([1.3, 0.7, 1.0])
STEPS = np.array([[-1.0, 0.2, 1.1], [0.5, -0.4, np.nan], [0.3, np.nan, np.nan]])


def _by_definition(theta: float, a: float, steps: list[float]) -> list[float]:
    """Muraki's formula written out: exp(Σ_{v≤x} a(θ − b_v)) / Σ_h exp(Σ_{v≤h} a(θ − b_v))."""
    numerators = [math.exp(sum(a * (theta - b) for b in steps[:x])) for x in range(len(steps) + 1)]
    total = sum(numerators)
    return [v / total for v in numerators]


def mixed_bank() -> ItemBank:
    """Six 2PL/3PL items and four GPCM items with 2 or 3 steps."""
    steps = np.full((10, 3), np.nan)
    steps[6] = [-1.2, -0.1, 0.9]
    steps[7, :2] = [-0.6, 0.4]
    steps[8] = [0.8, -0.3, 1.6]
    steps[9, :2] = [1.0, 1.5]
    a = [1.0, 1.4, 0.8, 1.1, 1.7, 0.9, 1.2, 0.9, 1.5, 1.1]
    b = [-1.5, -0.5, 0.0, 0.5, 1.0, 2.0, 0, 0, 0, 0]
    c = [0.0, 0.2, 0.0, 0.15, 0.0, 0.0, 0, 0, 0, 0]
    return ItemBank.from_arrays([f"m{j}" for j in range(10)], a, b, c, steps=steps)


@pytest.mark.parametrize("theta", [-2.5, -0.3, 0.0, 1.7])
def test_category_probabilities_follow_the_definition(theta: float) -> None:
    p = gpcm_probabilities(theta, A, STEPS)
    for j in range(3):
        k = int(np.sum(~np.isnan(STEPS[j])))
        expected = _by_definition(theta, float(A[j]), STEPS[j, :k].tolist())
        assert p[j, : k + 1] == pytest.approx(expected, rel=1e-12)
        assert np.all(p[j, k + 1 :] == 0.0)
        assert gpcm_log_probabilities(theta, A, STEPS)[j, k + 1 :].tolist() == [-np.inf] * (3 - k)


def test_one_step_is_the_2pl() -> None:
    theta = np.linspace(-4, 4, 17)
    a, b = np.array([0.6, 1.8]), np.array([-0.7, 1.2])
    p = gpcm_probabilities(theta, a, b[:, None])
    assert p[..., 1] == pytest.approx(probability(theta, a, b), rel=1e-12)
    assert gpcm_information(theta, a, b[:, None]) == pytest.approx(
        item_information(theta, a, b), rel=1e-10
    )


@pytest.mark.parametrize("theta", [-1.9, 0.0, 0.8, 2.6])
def test_information_is_the_curvature_of_the_log_likelihood(theta: float) -> None:
    """The GPCM is an exponential family in θ: −ℓ″ = a² Var(X) whatever the score, and it equals
    Σ_x P_x′² / P_x; both derivatives are taken numerically here."""
    h = 1e-4
    info = gpcm_information(theta, A, STEPS)
    for j in range(3):
        k = int(np.sum(~np.isnan(STEPS[j])))
        for x in range(k + 1):

            def ll(t: float, j: int = j, x: int = x) -> float:
                return float(gpcm_log_likelihood(t, [x], A[j : j + 1], STEPS[j : j + 1]))

            second = (ll(theta + h) - 2 * ll(theta) + ll(theta - h)) / h**2
            assert -second == pytest.approx(info[j], rel=1e-5, abs=1e-7)
        up = np.array(_by_definition(theta + h, float(A[j]), STEPS[j, :k].tolist()))
        down = np.array(_by_definition(theta - h, float(A[j]), STEPS[j, :k].tolist()))
        here = np.array(_by_definition(theta, float(A[j]), STEPS[j, :k].tolist()))
        slope = (up - down) / (2 * h)
        assert float(np.sum(slope**2 / here)) == pytest.approx(info[j], rel=1e-6)


def test_mixed_bank_information_and_validation() -> None:
    bank = mixed_bank()
    assert bank.model == "gpcm"
    assert bank.max_score.tolist() == [1] * 6 + [3, 2, 3, 2]
    assert bank.polytomous.tolist() == [6, 7, 8, 9]
    assert bank.b[7] == pytest.approx(-0.1)  # the location: mean of the steps
    assert not bank.unimodal_fast_path
    theta = 0.37
    expected = np.concatenate(
        (
            item_information(theta, bank.a[:6], bank.b[:6], bank.c[:6]),
            gpcm_information(theta, bank.a[6:], bank.steps[6:]),  # type: ignore[index]
        )
    )
    assert bank.information(theta) == pytest.approx(expected, rel=1e-12)
    items = np.array([9, 2, 6])
    assert bank.information_of(theta, items) == pytest.approx(expected[items], rel=1e-12)
    assert bank.subset([8, 0]).max_score.tolist() == [3, 1]
    # A bank whose steps are all single or empty stays on the dichotomous fast path.
    plain = ItemBank.from_arrays(["x", "y"], [1.0, 1.2], [0.0, 0.0], steps=[[0.4], [np.nan]])
    assert plain.steps is None and plain.unimodal_fast_path and plain.b[0] == 0.4
    with pytest.raises(InvalidItemParameters, match="asymptotes"):
        ItemBank.from_arrays(["x"], [1.0], [0.0], c=0.2, steps=[[0.0, 1.0]])
    with pytest.raises(InvalidItemParameters, match="come first"):
        ItemBank.from_arrays(["x"], [1.0], [0.0], steps=[[np.nan, 1.0, 0.5]])


def _total_ll(bank: ItemBank, theta: np.ndarray, idx: list[int], x: list[int]) -> np.ndarray:
    """Log-likelihood by model family, from the public per-model functions."""
    total = np.zeros_like(theta)
    for j, score in zip(idx, x, strict=True):
        if bank.max_score[j] >= 2:
            total += gpcm_log_likelihood(
                theta,
                [score],
                bank.a[j : j + 1],
                bank.steps[j : j + 1],  # type: ignore[index]
            )
        else:
            total += log_likelihood(
                theta, [score], bank.a[j : j + 1], bank.b[j : j + 1], bank.c[j : j + 1]
            )
    return total


IDX = [6, 0, 8, 3, 7, 9]
X = [2, 1, 1, 0, 2, 1]


def test_eap_matches_numerical_integration() -> None:
    bank = mixed_bank()
    t = np.linspace(-8, 8, 16001)
    w = np.exp(_total_ll(bank, t, IDX, X) - 0.5 * t**2)
    mean = np.trapezoid(t * w, t) / np.trapezoid(w, t)
    sd = math.sqrt(np.trapezoid((t - mean) ** 2 * w, t) / np.trapezoid(w, t))
    est = eap(bank, IDX, X)
    assert est.theta == pytest.approx(mean, abs=2e-4)
    assert est.se == pytest.approx(sd, abs=2e-4)


def test_modes_solve_their_estimating_equations() -> None:
    bank = mixed_bank()
    h = 1e-5

    def score(t: float) -> float:
        pair = _total_ll(bank, np.array([t + h, t - h]), IDX, X)
        return float(pair[0] - pair[1]) / (2 * h)

    ml = mle(bank, IDX, X)
    assert score(ml.theta) == pytest.approx(0.0, abs=1e-4)
    mp = map_estimate(bank, IDX, X)
    assert score(mp.theta) - mp.theta == pytest.approx(0.0, abs=1e-4)
    # WLE: ℓ′ + J/(2I) = 0 with I = −ℓ″ summed over items and J = Σ_x P_x′ P_x″ / P_x numerically.
    wl = wle(bank, IDX, X)
    t = wl.theta
    info = float(bank.information_of(t, np.array(IDX)).sum())
    j_sum = 0.0
    for j in IDX:
        rows = [
            np.exp(bank.category_log_probabilities(np.array([u]), j)[:, 0])
            for u in (t - h, t, t + h)
        ]
        p1 = (rows[2] - rows[0]) / (2 * h)
        p2 = (rows[2] - 2 * rows[1] + rows[0]) / h**2
        j_sum += float(np.sum(p1 * p2 / rows[1]))
    assert score(t) + j_sum / (2 * info) == pytest.approx(0.0, abs=5e-3)


def test_perfect_patterns_count_the_maximum_score() -> None:
    bank = mixed_bank()
    top = mle(bank, [6, 7, 1], [3, 2, 1])
    assert top.fallback and top.method == "eap"
    bottom = mle(bank, [6, 7, 1], [0, 0, 0], perfect="bound")
    assert bottom.at_bound and bottom.theta == -6.0
    assert not mle(bank, [6, 7, 1], [3, 1, 1]).fallback


def test_scores_outside_0_to_k_are_rejected() -> None:
    bank = mixed_bank()
    with pytest.raises(InvalidResponses, match=r"not a score in 0\.\.2"):
        eap(bank, [7], [3])
    with pytest.raises(InvalidResponses, match="not 0 or 1"):
        eap(bank, [0], [2])
    state = CatEngine(bank, EngineConfig(cut_scores=(0.0,))).start(1)
    with pytest.raises(InvalidResponses, match=r"0\.\.3"):
        state.record(8, 4)


@pytest.mark.parametrize("theta", [-1.0, 0.2, 1.4])
def test_selection_takes_the_most_informative_of_a_mixed_bank(theta: float) -> None:
    bank = mixed_bank()
    info = np.array(
        [
            float(gpcm_information(theta, bank.a[j : j + 1], bank.steps[j : j + 1])[0])  # type: ignore[index]
            if bank.max_score[j] >= 2
            else float(item_information(theta, bank.a[j], bank.b[j], bank.c[j]))
            for j in range(len(bank))
        ]
    )
    chosen = select_item(bank, theta, administered=[int(np.argmax(info))])
    order = np.argsort(-info, kind="stable")
    assert chosen.item == int(order[1])
    assert chosen.information == pytest.approx(info[order[1]], rel=1e-12)


def test_engine_replay_equals_incremental_with_scores() -> None:
    bank = mixed_bank()
    engine = CatEngine(bank, EngineConfig(cut_scores=(-0.5, 0.5), min_items=2, max_items=8))
    rng = np.random.default_rng(7)
    state = engine.start(11)
    while not (step := state.step()).finished:
        assert step.item is not None
        state.record(step.item, _score(bank, step.item, 0.4, float(rng.random())))
    assert any(
        bank.max_score[j] >= 2 and x >= 2
        for j, x in zip(state.administered, state.responses, strict=True)
    )
    again = engine.next_step(11, state.administered, state.responses)
    assert (again.theta, again.se, again.stop_reason) == (step.theta, step.se, step.stop_reason)
    assert step.theta == pytest.approx(eap(bank, state.administered, state.responses).theta)


def test_sprt_counts_a_score_by_its_category_probability() -> None:
    bank = mixed_bank()
    cut, delta = 0.3, 0.2
    got = sprt_log_ratios(bank, [8, 2], [2, 1], [cut], delta)
    lp = gpcm_log_probabilities(np.array([cut + delta, cut - delta]), bank.a[8:9], bank.steps[8:9])  # type: ignore[index]
    two_pl = math.log(
        float(probability(cut + delta, bank.a[2], bank.b[2]))
        / float(probability(cut - delta, bank.a[2], bank.b[2]))
    )
    assert got[0] == pytest.approx(lp[0, 0, 2] - lp[1, 0, 2] + two_pl, rel=1e-12)


def test_simulated_scores_follow_the_category_probabilities() -> None:
    bank = mixed_bank()
    theta, n = 0.6, 20000
    u = np.random.default_rng(3).random(n)
    counts = np.bincount([_score(bank, 8, theta, float(v)) for v in u], minlength=4)
    p = np.array(_by_definition(theta, float(bank.a[8]), [0.8, -0.3, 1.6]))
    # Within 4.5 binomial SEs per category.
    assert np.all(np.abs(counts / n - p) < 4.5 * np.sqrt(p * (1 - p) / n))


def test_simulate_runs_a_mixed_bank_through_the_engine() -> None:
    bank = mixed_bank()
    cfg = EngineConfig(cut_scores=(-0.5, 0.5), min_items=3, max_items=6)
    result = simulate(bank, cfg, n=60, seed=5)
    summary = result.summary()
    assert summary["length"]["max"] <= 6
    assert result.exposure_counts[bank.polytomous].sum() > 0
    assert summary["correlation"] > 0.5
