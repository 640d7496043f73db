"""Item statistics: classical (p-value, point-biserial), model fit and parameter drift.

* **p-value**: proportion correct among the persons who saw the item.
* **Point-biserial**: Pearson correlation between the item score and a criterion, over the persons
  who saw the item. The default criterion is the person's proportion correct on the *other* items
  they saw (the corrected, rest-score form of Henrysson 1963; on complete data it equals the
  correlation with the rest score). On adaptive data pass ``ability`` (θ̂) instead, since
  proportions correct on targeted items say little.
* **Fit** (:func:`item_fit`): a grouped chi-square in the manner of S-X² (Orlando & Thissen 2000),
  conditioned on each person's *other* responses instead of the summed score. S-X² compares the
  observed proportion correct in each summed-score group with the model's expectation given that
  score; on adaptive and sparse data the summed scores of different persons count different
  items (and everyone scores about half right on a targeted test), so the condition used here is
  the rest of the person's pattern: ``E_ij = ∫ P_j(θ) p(θ | x_i without item j) dθ``, the
  posterior from every other response the person gave, under the calibration's population. Like
  S-X²'s, the condition leaves the item out (a θ̂ that includes the item makes Yen's Q1
  over-reject), and under the model ``x_ij`` is Bernoulli(``E_ij``) given it. The persons who saw
  the item are sorted by ``E_ij`` into ``groups`` (default 10) of equal size, at least
  ``min_group`` (25) persons each (fewer groups otherwise), and
  ``X² = Σ_g (O_g − E_g)² / Σ_{i∈g} E_ij(1 − E_ij)`` with ``O_g``, ``E_g`` the observed and
  expected numbers right. Degrees of freedom ``groups − m``, ``m`` the item's estimated
  parameters (Rasch/1PL 1, 2PL 2, 3PL 3, anchored 0), as for S-X². **Flagged when p < 0.01**
  (``alpha``). The infit and outfit mean-squares (Wright & Masters 1982) at each person's EAP θ̂
  come with it: ``z = (x − P)/√(PQ)``, ``outfit = mean z²``, ``infit = Σ(x − P)² / Σ PQ``; both
  expect about 1, 0.7–1.3 is the usual range (Wright, Linacre, Gustafson & Martin-Löf 1994). The
  condition is exact when the items a person was given do not depend on the item's own answer
  (fixed forms, random missingness); in adaptive data the items served *after* it do, which makes
  the statistic approximate there.
* **Drift** (:func:`drift`): a new calibration against stored parameters: per item the changes
  ``Δa, Δb, Δc`` and ``z = Δ / SE`` with the new estimate's SE (the stored values taken as
  known); **beyond** when ``|z| > 2`` (``threshold``) for any parameter the new run estimated.
  Anchored items are left out; parameters a model fixes (SE 0, e.g. ``c`` of a 2PL) are reported
  but never count.

A statistic that is undefined for an item (a correlation without variance, an item nobody saw)
is NaN and the item is counted in ``n`` as 0 or listed with its ``n``, so the gap is visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

from etest.irt._types import BoolArray, FloatArray, IntArray
from etest.irt.calibration import Calibration, response_matrix
from etest.irt.errors import InvalidConfiguration, ShapeMismatch
from etest.irt.models import log_probability, probability

__all__ = [
    "ClassicalStatistics",
    "ItemFit",
    "ParameterDrift",
    "classical_statistics",
    "drift",
    "item_fit",
]


@dataclass(frozen=True, eq=False)
class ClassicalStatistics:
    """Per item: responses ``n``, ``p_value`` and ``point_biserial`` (criterion named)."""

    item_ids: tuple[str, ...]
    n: IntArray
    p_value: FloatArray
    point_biserial: FloatArray
    criterion: str


@dataclass(frozen=True, eq=False)
class ItemFit:
    """Per calibrated item (in the calibration's order): the fit test of :func:`item_fit`.

    Attributes:
        item_ids: the calibration's items.
        n: responses to the item in the matrix given.
        statistic, df, p: the grouped chi-square, its degrees of freedom and p-value (NaN and
            df 0 when the item has too few responses for more groups than its parameters).
        flagged: ``p < alpha``.
        infit, outfit: mean-squares at each person's EAP θ̂.
        alpha: the flagging level.
    """

    item_ids: tuple[str, ...]
    n: IntArray
    statistic: FloatArray
    df: IntArray
    p: FloatArray
    flagged: BoolArray
    infit: FloatArray
    outfit: FloatArray
    alpha: float


@dataclass(frozen=True, eq=False)
class ParameterDrift:
    """Per item both calibrated freely and stored: the changes and whether they exceed the SEs.

    Attributes:
        item_ids: the items compared, in the new calibration's order.
        delta_a, delta_b, delta_c: new minus stored.
        z_a, z_b, z_c: the change over the new SE (NaN where the new run did not estimate it).
        beyond: any ``|z| > threshold``.
        threshold: the number of standard errors (default 2).
    """

    item_ids: tuple[str, ...]
    delta_a: FloatArray
    delta_b: FloatArray
    delta_c: FloatArray
    z_a: FloatArray
    z_b: FloatArray
    z_c: FloatArray
    beyond: BoolArray
    threshold: float


def _ids(item_ids: Sequence[str] | None, k: int) -> tuple[str, ...]:
    ids = (
        tuple(str(i) for i in item_ids) if item_ids is not None else tuple(str(j) for j in range(k))
    )
    if len(ids) != k:
        raise ShapeMismatch(f"{len(ids)} item ids for {k} response columns")
    return ids


def _masked_correlation(x: FloatArray, y: FloatArray, mask: npt.NDArray[np.bool_]) -> FloatArray:
    """Pearson correlation per column over the rows where ``mask`` is true."""
    w = mask.astype(np.float64)
    n = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * x).sum(axis=0) / n
        my = (w * y).sum(axis=0) / n
        dx, dy = (x - mx) * w, (y - my) * w
        cov = (dx * dy).sum(axis=0)
        r = cov / np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    return np.asarray(np.where(np.isfinite(r), r, np.nan), dtype=np.float64)


def classical_statistics(
    responses: npt.ArrayLike,
    ability: npt.ArrayLike | None = None,
    item_ids: Sequence[str] | None = None,
) -> ClassicalStatistics:
    """p-values and corrected point-biserials of a persons × items matrix (NaN = not seen)."""
    x = response_matrix(responses)
    ids = _ids(item_ids, x.shape[1])
    seen = ~np.isnan(x)
    xf = np.where(seen, x, 0.0)
    n = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = np.where(n > 0, xf.sum(axis=0) / n, np.nan)
    if ability is not None:
        theta = np.asarray(ability, dtype=np.float64).reshape(-1)
        if theta.size != x.shape[0]:
            raise ShapeMismatch(f"{theta.size} abilities for {x.shape[0]} persons")
        criterion = np.broadcast_to(theta[:, None], x.shape)
        rpb = _masked_correlation(xf, np.asarray(criterion, dtype=np.float64), seen)
        name = "ability"
    else:
        others = seen.sum(axis=1, keepdims=True) - seen
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = (xf.sum(axis=1, keepdims=True) - xf) / others
        usable = seen & (others > 0)
        rpb = _masked_correlation(xf, np.where(usable, rest, 0.0), usable)
        name = "rest_proportion_correct"
    return ClassicalStatistics(
        item_ids=ids,
        n=n.astype(np.int64),
        p_value=np.asarray(p_value, dtype=np.float64),
        point_biserial=rpb,
        criterion=name,
    )


_FREE_PARAMETERS = {"rasch": 1, "1pl": 1, "2pl": 2, "3pl": 3}


def _fit_matrix(
    x: FloatArray, calibration: Calibration, item_ids: Sequence[str] | None
) -> FloatArray:
    """The columns of ``x`` in the calibration's item order (all NaN for an item it lacks)."""
    if item_ids is None:
        if x.shape[1] != len(calibration.item_ids):
            raise ShapeMismatch(
                f"{x.shape[1]} response columns for {len(calibration.item_ids)} calibrated items:"
                " pass item_ids to name the columns"
            )
        names: tuple[str, ...] = calibration.item_ids
    else:
        names = _ids(item_ids, x.shape[1])
    where = {name: j for j, name in enumerate(names)}
    columns = np.array([where.get(i, -1) for i in calibration.item_ids], dtype=np.int64)
    out = np.full((x.shape[0], columns.size), np.nan)
    out[:, columns >= 0] = x[:, columns[columns >= 0]]
    return out


def item_fit(
    responses: npt.ArrayLike,
    calibration: Calibration,
    *,
    item_ids: Sequence[str] | None = None,
    alpha: float = 0.01,
    groups: int = 10,
    min_group: int = 25,
    quadrature_points: int = 61,
) -> ItemFit:
    """Fit of each calibrated item to the responses (see the module docstring for the statistic).

    Args:
        responses: persons × items (1, 0, NaN not administered), e.g. the matrix calibrated.
        calibration: the parameters and population to test.
        item_ids: ids of the columns (default: the calibration's items, in order). Columns of
            items the calibration does not have are ignored.
        alpha: flag an item when its p-value is below this level.
        groups, min_group: at most ``groups`` groups of at least ``min_group`` persons.
        quadrature_points: nodes over the population mean ± 5 SD.
    """
    if not 0 < alpha < 1 or groups < 2 or min_group < 1 or quadrature_points < 5:
        raise InvalidConfiguration(
            "need 0 < alpha < 1, groups >= 2, min_group >= 1 and quadrature_points >= 5"
        )
    x = _fit_matrix(response_matrix(responses), calibration, item_ids)
    seen, items = ~np.isnan(x), x.shape[1]
    xf = np.where(seen, x, 0.0)
    cal = calibration
    nodes = cal.population_mean + cal.population_sd * np.linspace(-5.0, 5.0, quadrature_points)
    log_w = -0.5 * np.linspace(-5.0, 5.0, quadrature_points) ** 2
    ln_p, ln_q = (v.T for v in log_probability(nodes, cal.a, cal.b, cal.c))  # items × nodes
    ll = xf @ ln_p + (seen - xf) @ ln_q + log_w  # persons × nodes
    p_nodes = np.exp(ln_p)
    theta = _softmax(ll) @ nodes
    stat, df, pval = np.full(items, np.nan), np.zeros(items, dtype=np.int64), np.full(items, np.nan)
    for j in range(items):
        who = np.flatnonzero(seen[:, j])
        own = np.where(xf[who, j, None] > 0, ln_p[j], ln_q[j])
        expected = _softmax(ll[who] - own) @ p_nodes[j]  # given the other responses only
        estimated = 0 if cal.anchored.size and cal.anchored[j] else _parameters(cal, j)
        count = min(groups, who.size // min_group)
        if count - estimated >= 1:
            stat[j] = _grouped_chi_square(xf[who, j], expected, count)
            df[j] = count - estimated
            pval[j] = float(chi2.sf(stat[j], df[j]))
    infit, outfit = _mean_squares(x, theta, cal)
    flagged = np.asarray(np.nan_to_num(pval, nan=1.0) < alpha)
    n = seen.sum(axis=0).astype(np.int64)
    return ItemFit(cal.item_ids, n, stat, df, pval, flagged, infit, outfit, alpha)


def _grouped_chi_square(x: FloatArray, expected: FloatArray, count: int) -> float:
    """``Σ_g (O_g − E_g)² / Σ E(1 − E)`` over ``count`` equal groups ordered by ``expected``."""
    chunks = np.array_split(np.argsort(expected, kind="stable"), count)
    obs_g = np.array([x[g].sum() for g in chunks])
    exp_g = np.array([expected[g].sum() for g in chunks])
    var_g = np.array([(expected[g] * (1.0 - expected[g])).sum() for g in chunks])
    return float(((obs_g - exp_g) ** 2 / var_g).sum())


def _parameters(calibration: Calibration, j: int) -> int:
    model = calibration.models[j] if calibration.models else calibration.model
    return _FREE_PARAMETERS[model]


def _softmax(ll: FloatArray) -> FloatArray:
    w = np.exp(ll - ll.max(axis=1, keepdims=True))
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def _mean_squares(
    x: FloatArray, theta: FloatArray, cal: Calibration
) -> tuple[FloatArray, FloatArray]:
    """Infit and outfit mean-squares of each column at ``theta``."""
    seen = ~np.isnan(x)
    p = probability(theta, cal.a, cal.b, cal.c)
    pq = p * (1.0 - p)
    resid2 = np.where(seen, (np.where(seen, x, 0.0) - p) ** 2, 0.0)
    n = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = np.where(seen, resid2 / pq, 0.0).sum(axis=0) / n
        infit = resid2.sum(axis=0) / np.where(seen, pq, 0.0).sum(axis=0)
    return (
        np.asarray(np.where(n > 0, infit, np.nan), dtype=np.float64),
        np.asarray(np.where(n > 0, outfit, np.nan), dtype=np.float64),
    )


def drift(
    new: Calibration,
    stored: Mapping[str, tuple[float, float, float]],
    *,
    threshold: float = 2.0,
) -> ParameterDrift:
    """Changes of the freely estimated items of ``new`` against ``stored`` ``{id: (a, b, c)}``.

    Items not in ``stored`` (new items) and anchored items are left out.
    """
    if not threshold > 0:
        raise InvalidConfiguration(f"threshold must be > 0 standard errors, got {threshold}")
    anchored = new.anchored if new.anchored.size else np.zeros(len(new.item_ids), dtype=bool)
    rows = [j for j, i in enumerate(new.item_ids) if i in stored and not anchored[j]]
    old = np.array([[float(v) for v in stored[new.item_ids[j]]] for j in rows]).reshape(-1, 3)
    at = np.array(rows, dtype=np.int64)
    deltas = [new.a[at] - old[:, 0], new.b[at] - old[:, 1], new.c[at] - old[:, 2]]
    zs = []
    for delta, se in zip(deltas, (new.se_a[at], new.se_b[at], new.se_c[at]), strict=True):
        with np.errstate(invalid="ignore", divide="ignore"):
            zs.append(np.asarray(np.where(se > 0, delta / se, np.nan), dtype=np.float64))
    beyond = np.zeros(at.size, dtype=bool)
    for z in zs:
        beyond |= np.nan_to_num(np.abs(z), nan=0.0) > threshold
    return ParameterDrift(
        item_ids=tuple(new.item_ids[j] for j in rows),
        delta_a=np.asarray(deltas[0], dtype=np.float64),
        delta_b=np.asarray(deltas[1], dtype=np.float64),
        delta_c=np.asarray(deltas[2], dtype=np.float64),
        z_a=zs[0],
        z_b=zs[1],
        z_c=zs[2],
        beyond=beyond,
        threshold=float(threshold),
    )
