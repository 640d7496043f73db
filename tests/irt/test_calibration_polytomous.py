"""GPCM calibration: recovery of known parameters, agreement with girth and with our 2PL EM.

girth (Ryan Sanchez, ``girth.pcm_mml``) is an independent implementation of the same model
(``P_x ∝ exp(Σ_{v≤x} a(θ − b_v))``, marginal maximum likelihood with SLSQP per item); the 2PL
comparison uses :func:`etest.irt.calibrate`, validated against mirt in ``test_calibration.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from girth import pcm_mml
from girth.utilities.utils import INVALID_RESPONSE

from etest.irt import (
    HeldItems,
    InvalidResponses,
    ItemBank,
    ShapeMismatch,
    calibrate,
    calibrate_gpcm,
    eap,
    gpcm_probabilities,
)


def simulate_scores(
    a: np.ndarray, steps: np.ndarray, n: int, seed: int, missing: float
) -> np.ndarray:
    """Scores drawn by inversion from the GPCM's category probabilities, NaN-masked at random."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    p = gpcm_probabilities(theta, a, steps)
    u = rng.random((n, a.size, 1))
    x = (np.cumsum(p, axis=-1)[..., :-1] < u).sum(axis=-1).astype(np.float64)
    x[rng.random(x.shape) < missing] = np.nan
    return x


def true_items(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = np.array([1] * 6 + [2] * 6 + [3] * 6)
    a = np.clip(rng.lognormal(0.0, 0.45, k.size), 0.4, 2.5)
    steps = np.full((k.size, 3), np.nan)
    for j, kj in enumerate(k):
        steps[j, :kj] = rng.normal(0.0, 1.0, kj)
    return a, steps


@pytest.fixture(scope="module")
def fitted() -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
    a, steps = true_items(1)
    x = simulate_scores(a, steps, 3000, seed=2, missing=0.3)
    return a, steps, x, calibrate_gpcm(x)


def test_recovers_known_parameters_with_missing_data(fitted) -> None:  # type: ignore[no-untyped-def]
    a, steps, _, cal = fitted
    given = ~np.isnan(steps)
    assert cal.converged
    assert np.array_equal(np.isnan(cal.steps), np.isnan(steps))
    # With ~2,100 responses per item the slopes' SE is about 0.065 against a spread of 0.25, so
    # the attainable correlation is about √(0.25² / (0.25² + 0.065²)) ≈ 0.97.
    assert np.corrcoef(cal.a, a)[0, 1] > 0.93
    assert np.sqrt(np.mean((cal.a - a) ** 2)) < 0.1
    assert np.corrcoef(cal.steps[given], steps[given])[0, 1] > 0.98
    assert np.sqrt(np.mean((cal.steps[given] - steps[given]) ** 2)) < 0.15
    # The standard errors describe the actual errors: mean squared z between 0.4 and 2.5.
    z = np.concatenate(
        [(cal.a - a) / cal.se_a, (cal.steps[given] - steps[given]) / cal.se_steps[given]]
    )
    assert 0.4 < float(np.mean(z**2)) < 2.5


def test_agrees_with_girth_on_the_same_data(fitted) -> None:  # type: ignore[no-untyped-def]
    _, steps, x, _ = fitted
    poly = np.flatnonzero(np.sum(~np.isnan(steps), axis=1) >= 2)
    data = np.where(np.isnan(x[:, poly]), INVALID_RESPONSE, x[:, poly]).T.astype(np.int64)
    ours = calibrate_gpcm(x[:, poly])
    theirs = pcm_mml(data, {"quadrature_n": 41})
    given = ~np.isnan(ours.steps)
    assert np.max(np.abs(ours.a - theirs["Discrimination"])) < 0.02
    assert np.max(np.abs(ours.steps[given] - theirs["Difficulty"][given])) < 0.05
    assert np.allclose(np.isnan(theirs["Difficulty"]), ~given)


def test_dichotomous_columns_match_the_2pl_calibration(fitted) -> None:  # type: ignore[no-untyped-def]
    _, _, x, _ = fitted
    ours = calibrate_gpcm(x[:, :6])
    two_pl = calibrate(x[:, :6], "2pl")
    assert np.max(np.abs(ours.a - two_pl.a)) < 2e-3
    assert np.max(np.abs(ours.steps[:, 0] - two_pl.b)) < 2e-3
    assert np.max(np.abs(ours.se_a - two_pl.se_a)) < 2e-3
    assert np.max(np.abs(ours.theta - two_pl.theta)) < 2e-3


def test_to_bank_scores_like_the_calibration(fitted) -> None:  # type: ignore[no-untyped-def]
    _, _, x, cal = fitted
    bank = cal.to_bank()
    assert bank.max_score.tolist() == cal.max_score.tolist()
    row = x[0]
    seen = np.flatnonzero(~np.isnan(row))
    est = eap(bank, seen, row[seen].astype(np.int64))
    # 121 nodes on ±6 (engine grid) against 41 on ±5 (calibration): close, not equal.
    assert est.theta == pytest.approx(cal.theta[0], abs=0.02)
    params = cal.parameters()
    assert len(params["12"][1]) == 3 and params["0"][0] == pytest.approx(cal.a[0])


def test_items_with_an_unobserved_score_are_excluded() -> None:
    a, steps = true_items(4)
    x = simulate_scores(a, steps, 400, seed=5, missing=0.0)
    x[:, 13] = np.where(x[:, 13] == 1, 0, x[:, 13])  # nobody scores 1 on item 13 (k = 2)
    x[:, 0] = 1.0  # everyone right on a 0/1 item
    x[:5, 1] = np.nan
    x[5:, 1] = np.nan  # item 1: five responses only
    cal = calibrate_gpcm(x, item_ids=[f"i{j}" for j in range(18)], min_responses=10)
    assert cal.excluded == {"i13": "no_score_1", "i0": "all_correct"}
    assert cal.skipped == ("i1",)
    assert "i13" not in cal.item_ids and len(cal.item_ids) == 15


def test_scores_above_the_declared_maximum_are_rejected() -> None:
    x = np.array([[0, 1], [2, 1], [1, 0]] * 5, dtype=float)
    with pytest.raises(InvalidResponses, match="above its maximum 1"):
        calibrate_gpcm(x, max_scores=[1, 1])
    with pytest.raises(InvalidResponses, match="whole number"):
        calibrate_gpcm(np.array([[0.5, 1.0]] * 12))


# ------------------------------------------- items held at known parameters (HeldItems)


def test_gpcm_items_held_beside_a_full_run_keep_its_estimates(fitted) -> None:  # type: ignore[no-untyped-def]
    # the full run's 0/1 columns held at its own estimates: the EM's fixed point is the same, so
    # the GPCM columns come out where the full run put them
    _, _, x, cal = fitted
    held_bank = ItemBank.from_arrays([str(j) for j in range(6)], a=cal.a[:6], b=cal.steps[:6, 0])
    held = HeldItems(held_bank, x[:, :6])
    part, full = calibrate_gpcm(x[:, 6:], held=held), cal
    assert np.max(np.abs(part.a - full.a[6:])) < 5e-3
    given = ~np.isnan(part.steps)
    assert np.max(np.abs(part.steps[given] - full.steps[6:][given])) < 5e-3
    assert np.max(np.abs(part.theta - full.theta)) < 5e-3


def test_held_items_set_the_scale_of_the_free_ones() -> None:
    # candidates at N(0.8, 1.3) on the bank's scale; 0/1 items held at their true values:
    # the free GPCM items are recovered on that scale, not on the N(0, 1) a lone run assumes
    rng = np.random.default_rng(8)
    n = 2000
    theta = rng.normal(0.8, 1.3, n)
    a01, b01 = rng.uniform(0.8, 2.0, 20), rng.normal(0.8, 1.2, 20)
    x01 = (rng.random((n, 20)) < 1 / (1 + np.exp(-a01 * (theta[:, None] - b01)))).astype(float)
    a, steps = (
        np.array([1.2, 0.9, 1.5, 1.1]),
        np.array([[-0.5, 0.4, 1.3], [0.0, 1.0, np.nan], [0.2, 0.9, 1.8], [-1.0, 0.0, 0.6]]),
    )
    p = gpcm_probabilities(theta, a, steps)
    x = (np.cumsum(p, axis=-1)[..., :-1] < rng.random((n, 4, 1))).sum(axis=-1).astype(float)
    held = HeldItems(
        ItemBank.from_arrays([f"d{j}" for j in range(20)], a=a01, b=b01), x01, 0.8, 1.3
    )
    with_held = calibrate_gpcm(x, held=held)
    alone = calibrate_gpcm(x)
    given = ~np.isnan(steps)
    assert np.sqrt(np.mean((with_held.steps[given] - steps[given]) ** 2)) < 0.12
    assert np.sqrt(np.mean((with_held.a - a) ** 2)) < 0.1
    # alone, the steps land on the candidates' own N(0, 1): shifted by about -0.8 / 1.3
    assert np.mean(alone.steps[given] - steps[given]) < -0.3
    assert abs(float(np.mean(with_held.theta)) - 0.8) < 0.1


def test_held_responses_must_match_the_persons() -> None:
    bank = ItemBank.from_arrays(["d"], a=[1.0], b=[0.0])
    x = np.array([[0, 1], [2, 1], [1, 0]] * 5, dtype=float)
    with pytest.raises(ShapeMismatch, match="held responses"):
        calibrate_gpcm(x, held=HeldItems(bank, np.zeros((3, 1))))
