"""Item fit (grouped chi-square on the rest pattern, mean-squares) and parameter drift."""

from __future__ import annotations

import numpy as np
import pytest

from etest.irt import (
    InvalidConfiguration,
    ShapeMismatch,
    calibrate,
    drift,
    item_fit,
    probability,
)


def mixed_data(seed: int, missing: float) -> tuple[np.ndarray, list[str]]:
    """20 items from the model (10 3PL, 10 2PL) and a 21st whose curve is a bell, not an ogive."""
    rng = np.random.default_rng(seed)
    k = 20
    a, b = np.clip(rng.lognormal(0.1, 0.25, k), 0.5, 2.5), rng.normal(0.0, 1.0, k)
    c = np.where(np.arange(k) < 10, 0.2, 0.0)
    theta = rng.normal(0.0, 1.0, 3000)
    x = (rng.random((3000, k)) < probability(theta, a, b, c)).astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    bell = (rng.random(3000) < 0.15 + 0.7 * np.exp(-(theta**2))).astype(float)
    return np.column_stack([x, bell]), ["3pl"] * 10 + ["2pl"] * 11


@pytest.mark.parametrize(("seed", "missing"), [(0, 0.0), (1, 0.5)])
def test_items_from_the_model_are_rarely_flagged_and_a_non_monotone_one_is(
    seed: int, missing: float
) -> None:
    x, models = mixed_data(seed, missing)
    cal = calibrate(x, models=models, log_a_prior=(0.0, 0.5))
    fit = item_fit(x, cal)
    assert fit.alpha == 0.01 and fit.item_ids == cal.item_ids
    assert fit.df[:10].tolist() == [7] * 10 and fit.df[10:].tolist() == [8] * 11
    assert fit.flagged[:20].sum() <= 1  # at p < 0.01, 0.2 of 20 expected
    assert fit.flagged[20] and fit.p[20] < 1e-20
    # The mean-squares (at EAP θ̂, a little below 1) do not see the bell: it is as noisy as an
    # ogive on average.
    assert 0.9 < fit.infit[20] < 1.1


def test_the_fit_p_values_are_spread_like_a_test_under_the_model() -> None:
    p_values = []
    for seed in range(4, 8):
        x, models = mixed_data(seed, 0.3)
        fit = item_fit(x[:, :20], calibrate(x[:, :20], models=models[:20]))
        p_values.extend(fit.p.tolist())
    share = np.mean(np.array(p_values) < 0.05)
    assert share < 0.15  # 80 items from the model; 0.05 expected


def test_fit_names_columns_and_skips_what_it_cannot_test() -> None:
    x, models = mixed_data(9, 0.0)
    ids = [f"i{j}" for j in range(21)]
    cal = calibrate(x[:, 1:], models=models[1:], item_ids=ids[1:])
    with pytest.raises(ShapeMismatch, match="item_ids"):
        item_fit(x, cal)
    fit = item_fit(x, cal, item_ids=ids)  # column i0 is not calibrated: ignored
    assert fit.item_ids == tuple(ids[1:]) and fit.n.tolist() == [3000] * 20
    few = item_fit(x[:60], cal, item_ids=ids)  # two groups of 30: too few for a 3PL
    assert np.all(np.isnan(few.p[:9])) and np.all(few.df[:9] == 0) and not few.flagged.any()
    with pytest.raises(InvalidConfiguration):
        item_fit(x, cal, item_ids=ids, alpha=0.0)


def test_drift_counts_changes_beyond_two_standard_errors() -> None:
    x, models = mixed_data(10, 0.3)
    ids = [f"i{j}" for j in range(20)]
    cal = calibrate(x[:, :20], models=models[:20], item_ids=ids)
    stored = cal.parameters()
    same = drift(cal, stored)
    assert same.item_ids == tuple(ids) and not same.beyond.any()
    assert np.all(same.delta_b == 0.0) and np.all(np.isnan(same.z_c[10:]))  # 2PL c not estimated
    moved = dict(stored)
    a0, b0, c0 = stored["i3"]
    moved["i3"] = (a0, b0 - 4 * float(cal.se_b[3]), c0)  # b moved by 4 SE
    a1, b1, _ = stored["i12"]
    moved["i12"] = (a1, b1, 0.25)  # a 2PL item stored with guessing: c is not compared
    a2, b2, _ = stored["i15"]
    moved["i15"] = (a2, b2 - 1.5 * float(cal.se_b[15]), 0.0)  # within 2 SE
    del moved["i0"]  # a new item: nothing stored
    result = drift(cal, moved)
    assert result.item_ids == tuple(ids[1:])
    assert [result.item_ids[k] for k in np.flatnonzero(result.beyond)] == ["i3"]
    row = result.item_ids.index("i3")
    assert result.z_b[row] == pytest.approx(4.0) and result.delta_b[row] > 0
    assert result.delta_c[result.item_ids.index("i12")] == pytest.approx(-0.25)
    anchored = calibrate(
        x[:, :20], models=models[:20], item_ids=ids, fixed={"i3": moved["i3"], "i4": stored["i4"]}
    )
    assert "i3" not in drift(anchored, moved).item_ids  # anchored: not estimated, not compared
    with pytest.raises(InvalidConfiguration):
        drift(cal, stored, threshold=0.0)
