"""Ability estimation against published values, an independent integral and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.stats import norm

from etest.irt import (
    InvalidConfiguration,
    InvalidResponses,
    ItemBank,
    QuadratureGrid,
    ShapeMismatch,
    eap,
    estimate_ability,
    log_likelihood,
    map_estimate,
    mle,
    posterior_weights,
    wle,
)
from tests.irt.support import baker_bank, create_bank

PATTERN = ([0, 1, 2], [1, 0, 1])


def test_mle_reference_1() -> None:
    est = mle(baker_bank(), *PATTERN)
    assert est.theta == pytest.approx(0.3248, abs=1e-4)
    assert est.se == pytest.approx(1.2296, abs=1e-4)
    assert est.method == "mle" and not est.fallback and not est.at_bound


def test_map_reference_2() -> None:
    est = map_estimate(baker_bank(), *PATTERN)
    assert est.theta == pytest.approx(0.1308, abs=1e-4)
    assert est.se == pytest.approx(0.7705, abs=1e-4)


def test_eap_reference_3() -> None:
    est = eap(baker_bank(), *PATTERN)
    assert est.theta == pytest.approx(0.1447, abs=1e-4)
    assert est.se == pytest.approx(0.7885, abs=1e-4)
    narrow = eap(baker_bank(), *PATTERN, QuadratureGrid.normal(points=81, bound=4.0))
    assert narrow.theta == pytest.approx(0.1447, abs=1e-4)


def test_wle_reference_4() -> None:
    assert wle(baker_bank(), *PATTERN).theta == pytest.approx(0.2022, abs=1e-4)


def test_eap_agrees_with_a_direct_integral() -> None:
    bank = create_bank(40, seed=9)
    rng = np.random.default_rng(1)
    items = list(range(40))
    x = (rng.random(40) < 0.6).astype(int).tolist()

    def density(t: float) -> float:
        ll = log_likelihood(t, x, bank.a, bank.b, bank.c, bank.d)
        return float(np.exp(ll + 20.0)) * float(norm.pdf(t))

    mass = quad(density, -10, 10, limit=200, points=[0.0])[0]
    mean = quad(lambda t: t * density(t), -10, 10, limit=200, points=[0.0])[0] / mass
    var = quad(lambda t: (t - mean) ** 2 * density(t), -10, 10, limit=200, points=[0.0])[0] / mass
    est = eap(bank, items, x)
    assert est.theta == pytest.approx(mean, abs=1e-3)
    assert est.se == pytest.approx(np.sqrt(var), abs=1e-3)


def test_perfect_patterns() -> None:
    bank = baker_bank()
    fallback = mle(bank, [0, 1, 2], [1, 1, 1])
    assert fallback.fallback and fallback.method == "eap"
    assert fallback.theta == pytest.approx(eap(bank, [0, 1, 2], [1, 1, 1]).theta)
    bound = mle(bank, [0, 1, 2], [0, 0, 0], perfect="bound")
    assert bound.theta == -6.0 and bound.at_bound and bound.fallback and np.isfinite(bound.se)
    for estimator in (map_estimate, wle):
        for x in ([1, 1, 1], [0, 0, 0]):
            est = estimator(bank, [0, 1, 2], x)
            assert np.isfinite(est.theta) and np.isfinite(est.se) and not est.at_bound
    assert wle(bank, [0, 1, 2], [1, 1, 1]).theta > 1.0


def test_no_responses_give_the_prior() -> None:
    est = eap(baker_bank(), [], [])
    assert est.theta == pytest.approx(0.0, abs=1e-12) and est.se == pytest.approx(1.0, abs=1e-6)
    shifted = eap(baker_bank(), [], [], QuadratureGrid.normal(0.5, 1.3))
    # The grid ends 4.2 prior SDs above the mean: truncation moves the mean by about 6e-5.
    assert shifted.theta == pytest.approx(0.5, abs=1e-4) and shifted.se == pytest.approx(
        1.3, abs=1e-3
    )
    assert mle(baker_bank(), [], []).fallback
    assert posterior_weights(baker_bank(), [], []).sum() == pytest.approx(1.0)


def test_dispatcher_and_doubling_the_grid() -> None:
    bank = create_bank(40, seed=4)
    x = [1, 0] * 20
    items = list(range(40))
    for method in ("eap", "map", "mle", "wle"):
        assert estimate_ability(bank, items, x, method).method == method
    fine = eap(bank, items, x, QuadratureGrid.normal(points=241))
    assert abs(fine.theta - eap(bank, items, x).theta) < 1e-5
    with pytest.raises(InvalidConfiguration):
        estimate_ability(bank, items, x, "bayes")  # type: ignore[arg-type]


def test_bad_response_input_is_a_typed_error() -> None:
    bank = baker_bank()
    with pytest.raises(ShapeMismatch):
        eap(bank, [0, 1], [1])
    with pytest.raises(InvalidResponses, match="is not 0 or 1"):
        eap(bank, [0, 1], [1, 2])
    with pytest.raises(InvalidResponses, match="administered twice"):
        eap(bank, [0, 0], [1, 0])
    with pytest.raises(InvalidResponses, match="outside the bank"):
        eap(bank, [5], [1])
    with pytest.raises(InvalidResponses, match="integer positions"):
        eap(bank, [0.5], [1])
    with pytest.raises(InvalidConfiguration):
        QuadratureGrid.normal(sd=0.0)


@settings(max_examples=40, deadline=None)
@given(pattern=st.lists(st.integers(0, 1), min_size=1, max_size=12), flip=st.integers(0, 11))
def test_turning_a_wrong_answer_right_raises_the_2pl_eap(pattern: list[int], flip: int) -> None:
    bank = ItemBank.from_arrays(
        [str(j) for j in range(12)], np.linspace(0.6, 2.0, 12), np.linspace(-2.0, 2.0, 12)
    )
    flip %= len(pattern)
    if pattern[flip] == 1:
        return
    better = list(pattern)
    better[flip] = 1
    items = list(range(len(pattern)))
    assert eap(bank, items, better).theta > eap(bank, items, pattern).theta


@settings(max_examples=30, deadline=None)
@given(pattern=st.lists(st.integers(0, 1), min_size=1, max_size=10))
def test_reflecting_items_and_answers_negates_eap(pattern: list[int]) -> None:
    a = np.linspace(0.7, 1.8, 10)
    b = np.linspace(-1.5, 2.5, 10)
    bank = ItemBank.from_arrays([str(j) for j in range(10)], a, b)
    mirror = ItemBank.from_arrays([str(j) for j in range(10)], a, -b)
    items = list(range(len(pattern)))
    flipped = [1 - x for x in pattern]
    assert eap(mirror, items, flipped).theta == pytest.approx(
        -eap(bank, items, pattern).theta, abs=1e-9
    )
