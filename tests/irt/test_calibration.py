"""Calibration by EM: parameter recovery (complete and sparse), convergence, item statistics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from etest.irt import (
    EmptyBank,
    InvalidConfiguration,
    InvalidResponses,
    ItemBank,
    ShapeMismatch,
    calibrate,
    classical_statistics,
    item_fit,
    probability,
)


def simulate_matrix(
    persons: int,
    a: np.ndarray,
    b: np.ndarray,
    c: float | np.ndarray = 0.0,
    missing: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, persons)
    x = (rng.random((persons, a.size)) < probability(theta, a, b, c)).astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    return x, theta


def test_2pl_recovery_on_complete_data() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2.0, 20), rng.normal(0.0, 1.0, 20)
    x, _ = simulate_matrix(3000, a, b, seed=2)
    cal = calibrate(x, "2pl")
    assert cal.converged and cal.iterations < 200
    assert np.corrcoef(a, cal.a)[0, 1] > 0.95 and np.corrcoef(b, cal.b)[0, 1] > 0.99
    assert np.sqrt(np.mean((cal.a - a) ** 2)) < 0.12
    assert np.sqrt(np.mean((cal.b - b) ** 2)) < 0.15
    # Standard errors describe the actual estimation error (within a factor of 2).
    assert 0.5 < np.std(cal.a - a) / np.mean(cal.se_a) < 2.0
    assert 0.5 < np.std(cal.b - b) / np.mean(cal.se_b) < 2.0
    assert np.all(cal.se_c == 0.0)


def test_2pl_recovery_on_sparse_adaptive_like_data() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.0, 30), rng.normal(0.0, 1.0, 30)
    x, theta = simulate_matrix(4000, a, b, missing=0.7, seed=4)
    cal = calibrate(x, "2pl", item_ids=[f"i{j}" for j in range(30)])
    assert cal.converged
    assert np.corrcoef(a, cal.a)[0, 1] > 0.9 and np.corrcoef(b, cal.b)[0, 1] > 0.98
    # About nine responses per person: the EAP abilities track the true ones only roughly.
    assert np.corrcoef(theta, cal.theta)[0, 1] > 0.7
    assert cal.to_bank().ids == tuple(f"i{j}" for j in range(30))


def test_3pl_with_a_prior_on_guessing() -> None:
    rng = np.random.default_rng(5)
    a, b = np.clip(rng.lognormal(0.2, 0.2, 20), 0.6, 2.5), rng.normal(0.0, 1.0, 20)
    x, _ = simulate_matrix(4000, a, b, c=0.2, seed=6)
    cal = calibrate(x, "3pl", log_a_prior=(0.0, 0.5))
    assert cal.converged
    assert np.corrcoef(b, cal.b)[0, 1] > 0.97 and np.corrcoef(a, cal.a)[0, 1] > 0.8
    assert np.all((cal.c > 0.05) & (cal.c < 0.4)) and abs(np.mean(cal.c) - 0.2) < 0.06
    assert np.all(cal.se_c > 0)


def test_rasch_and_1pl() -> None:
    rng = np.random.default_rng(7)
    b = rng.normal(0.0, 1.0, 15)
    x, _ = simulate_matrix(3000, np.full(15, 1.4), b, seed=8)
    one = calibrate(x, "1pl")
    assert np.all(one.a == one.a[0]) and one.a[0] == pytest.approx(1.4, abs=0.1)
    assert np.sqrt(np.mean((one.b - b) ** 2)) < 0.1
    rasch = calibrate(x, "rasch")
    assert np.all(rasch.a == 1.0) and np.all(rasch.se_a == 0.0)
    assert np.corrcoef(b, rasch.b)[0, 1] > 0.99


def test_the_penalised_likelihood_never_falls_and_non_convergence_is_flagged() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.lognormal(0.0, 0.3, 10), rng.normal(0.0, 1.0, 10)
    x, _ = simulate_matrix(800, a, b, c=0.2, missing=0.3, seed=10)
    lls = [calibrate(x, "3pl", max_cycles=k).log_likelihood for k in range(1, 8)]
    assert all(later >= earlier - 1e-6 for earlier, later in itertools.pairwise(lls))
    short = calibrate(x, "3pl", max_cycles=2)
    assert not short.converged and short.iterations == 2 and short.max_parameter_change > 1e-4


def test_sparse_columns_are_skipped_by_name() -> None:
    x, _ = simulate_matrix(200, np.ones(4), np.zeros(4), seed=11)
    x[5:, 3] = np.nan
    cal = calibrate(x, "2pl", item_ids=["a", "b", "c", "rare"])
    assert cal.skipped == ("rare",) and cal.item_ids == ("a", "b", "c")


def test_bad_response_matrices() -> None:
    with pytest.raises(InvalidResponses, match="not 0, 1 or NaN"):
        calibrate([[1, 0], [2, 1]])
    with pytest.raises(ShapeMismatch):
        calibrate([1, 0, 1])
    with pytest.raises(EmptyBank):
        calibrate(np.zeros((5, 0)))
    with pytest.raises(InvalidResponses, match="at least 10 responses"):
        calibrate([[1, 0], [0, 1]])
    with pytest.raises(ShapeMismatch, match="item ids"):
        calibrate(np.ones((20, 2)), item_ids=["only-one"])
    with pytest.raises(InvalidConfiguration):
        calibrate(np.ones((20, 2)), "5pl")  # type: ignore[arg-type]


def test_classical_statistics_by_hand() -> None:
    x = np.array([[1, 1, 0, 1], [1, 0, 0, 1], [0, 0, 0, 1], [1, 1, 1, 1], [0, 0, 1, np.nan]])
    stats = classical_statistics(x, item_ids=["w", "x", "y", "z"])
    assert stats.n.tolist() == [5, 5, 5, 4]
    assert stats.p_value.tolist() == pytest.approx([0.6, 0.4, 0.4, 1.0])
    # Item w against the proportion correct on each person's other items.
    rest = np.array([2 / 3, 1 / 3, 1 / 3, 1.0, 0.5])
    assert stats.point_biserial[0] == pytest.approx(np.corrcoef(x[:, 0], rest)[0, 1])
    assert np.isnan(stats.point_biserial[3])  # everyone who saw it was right: undefined
    by_theta = classical_statistics(x, ability=[1.0, 0.0, -1.0, 2.0, 0.5])
    assert by_theta.criterion == "ability" and by_theta.point_biserial[0] > 0.5


def test_infit_and_outfit_are_near_one_and_catch_a_miskey() -> None:
    rng = np.random.default_rng(12)
    a, b = rng.lognormal(0.0, 0.2, 10), rng.normal(0.0, 1.0, 10)
    x, theta = simulate_matrix(3000, a, b, seed=13)
    x[:, 0] = 1 - x[:, 0]
    bank = ItemBank.from_arrays([f"i{j}" for j in range(10)], a, b)
    fit = item_fit(x, bank, theta)
    assert np.all(np.abs(fit.infit[1:] - 1.0) < 0.1) and np.all(np.abs(fit.outfit[1:] - 1.0) < 0.15)
    assert fit.infit[0] > 1.3 and fit.outfit[0] > 1.3
    with pytest.raises(ShapeMismatch):
        item_fit(x[:, :5], bank, theta)
