"""Calibration by EM: parameter recovery (complete and sparse), convergence, item statistics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from etest.irt import (
    EmptyBank,
    InvalidConfiguration,
    InvalidResponses,
    ShapeMismatch,
    calibrate,
    classical_statistics,
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


def shifted_matrix(
    persons: int, a: np.ndarray, b: np.ndarray, c: np.ndarray, mean: float, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.normal(mean, 1.0, persons)
    return (rng.random((persons, a.size)) < probability(theta, a, b, c)).astype(float)


def test_items_without_variance_are_excluded_not_estimated_at_b_minus_200() -> None:
    # Before issue 16 the 3PL run reported converged=True with b = −174 for the all-correct
    # column (and the 2PL run b = −199, SE 1e20, not converged): no finite estimate exists.
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.8, 1.6, 8), rng.normal(0.0, 1.0, 8)
    x, _ = simulate_matrix(500, a, b, seed=1)
    x[:, 0] = 1.0
    x[:, 1] = 0.0
    x[:250, 2] = np.nan
    x[250:, 2] = 1.0  # everyone who answered was right; the others did not see it
    ids = [f"i{j}" for j in range(8)]
    for model in ("rasch", "1pl", "2pl", "3pl"):
        cal = calibrate(x, model, item_ids=ids)  # type: ignore[arg-type]
        assert cal.excluded == {"i0": "all_correct", "i1": "all_wrong", "i2": "all_correct"}
        assert cal.item_ids == tuple(ids[3:]) and cal.skipped == ()
        assert cal.converged and np.all(np.abs(cal.b) < 4) and np.all(cal.se_b < 1)
    with pytest.raises(InvalidResponses, match="both right and wrong"):
        calibrate(x[:, :3])


def test_mixed_models_put_the_guessing_prior_on_3pl_columns_only() -> None:
    rng = np.random.default_rng(14)
    k = 24
    a, b = np.clip(rng.lognormal(0.2, 0.2, k), 0.6, 2.5), rng.normal(0.0, 1.0, k)
    c = np.where(np.arange(k) < 12, 0.2, 0.0)  # 12 choice items with guessing, 12 open items
    x = shifted_matrix(4000, a, b, c, 0.0, seed=15)
    models = ["3pl"] * 12 + ["2pl"] * 6 + ["1pl"] * 6
    mixed = calibrate(x, models=models, log_a_prior=(0.0, 0.5))
    assert mixed.converged and mixed.models == tuple(models)
    assert np.all(mixed.c[12:] == 0.0) and np.all(mixed.se_c[12:] == 0.0)
    assert np.all(mixed.c[:12] > 0.05) and abs(float(np.mean(mixed.c[:12])) - 0.2) < 0.06
    assert np.all(mixed.a[18:] == mixed.a[18]) and mixed.se_a[18] > 0  # one common 1PL slope
    assert np.sqrt(np.mean((mixed.b[:18] - b[:18]) ** 2)) < 0.2
    # The old way, one 3PL for every column, puts guessing on the open items too.
    everything = calibrate(x, "3pl", log_a_prior=(0.0, 0.5))
    assert np.all(everything.c[12:] > 0.02) and np.mean(everything.c[12:]) > 0.05
    with pytest.raises(ShapeMismatch, match="models"):
        calibrate(x, models=["2pl"])
    with pytest.raises(InvalidConfiguration, match="'4pl'"):
        calibrate(x, models=["4pl"] * k)


def test_anchored_items_put_free_items_on_the_bank_scale() -> None:
    rng = np.random.default_rng(16)
    k = 30
    a, b = np.clip(rng.lognormal(0.1, 0.25, k), 0.5, 2.5), rng.normal(0.0, 1.0, k)
    c = np.zeros(k)
    ids = [f"q{j}" for j in range(k)]
    # The new sample is 0.5 logits abler than the bank's reference population.
    x = shifted_matrix(5000, a, b, c, 0.5, seed=17)
    x[np.random.default_rng(18).random(x.shape) < 0.3] = np.nan
    anchors = {ids[j]: (a[j], b[j], 0.0) for j in range(0, k, 2)}
    anchors["not-in-the-data"] = (1.0, 0.0, 0.0)
    cal = calibrate(x, "2pl", item_ids=ids, fixed=anchors)
    free = np.arange(1, k, 2)
    assert cal.converged and cal.anchored.tolist() == [j % 2 == 0 for j in range(k)]
    assert np.allclose(cal.b[::2], b[::2]) and np.allclose(cal.a[::2], a[::2])
    assert np.all(cal.se_b[::2] == 0.0) and np.all(cal.se_b[free] > 0)
    assert cal.population_mean == pytest.approx(0.5, abs=0.07)
    assert cal.population_sd == pytest.approx(1.0, abs=0.07)
    assert abs(float(np.mean(cal.b[free] - b[free]))) < 0.06
    assert np.sqrt(np.mean((cal.b[free] - b[free]) ** 2)) < 0.12
    assert 0.5 < np.std(cal.b[free] - b[free]) / np.mean(cal.se_b[free]) < 2.0
    # Without anchors N(0, 1) fixes the scale: every b comes out about 0.5 too easy.
    loose = calibrate(x, "2pl", item_ids=ids)
    assert float(np.mean(loose.b[free] - b[free])) == pytest.approx(-0.5, abs=0.1)
    assert loose.population_mean == 0.0 and not loose.anchored.any()
    with pytest.raises(InvalidConfiguration, match="q0"):
        calibrate(x, "2pl", item_ids=ids, fixed={"q0": (0.0, 1.0, 0.0)})
