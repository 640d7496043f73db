"""Ability estimation: EAP on a quadrature grid (the default), MAP, MLE and WLE.

Every estimator takes the bank, the positions of the administered items and the responses (0/1,
or a score ``0 … k`` for a polytomous GPCM item, :mod:`etest.irt.polytomous`), and returns an
:class:`AbilityEstimate` with a standard error:

* **EAP** (Bock & Mislevy 1982): posterior mean on a fixed grid with a normal prior; the SE is the
  posterior SD (it includes the prior). Exists for every pattern, including the empty one.
* **MAP**: posterior mode with a normal prior; SE ``1/√(I(θ̂) + 1/s²)``.
* **MLE**: likelihood mode; SE ``1/√I(θ̂)``. A perfect pattern (all correct, all wrong, or no
  responses) has no finite MLE: by default the estimate falls back to EAP (``fallback=True``,
  ``method="eap"``); with ``perfect="bound"`` it is clamped to the search bound and flagged
  (``at_bound=True``). A mixed 3PL pattern whose likelihood peaks at the bound is flagged too.
* **WLE** (Warm 1989): root of ``ℓ′ + J/(2I)``; finite for perfect patterns.

A perfect pattern is every score at its minimum (0) or every score at its maximum. A GPCM item
adds ``a (x − E[X|θ])`` to the score, ``a² Var(X|θ)`` to the information and
``a³ E[(X − E X)³|θ]`` to Warm's ``J``.

The modes are located on the grid first (the 3PL likelihood can be multimodal) and polished with
Brent's method between the neighbours of the best node, so no estimate is ever ±∞ or NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.errors import InvalidConfiguration, InvalidResponses, ShapeMismatch
from etest.irt.models import log_probability
from etest.irt.polytomous import gpcm_log_probabilities, gpcm_moments

__all__ = [
    "AbilityEstimate",
    "EstimatorName",
    "QuadratureGrid",
    "eap",
    "estimate_ability",
    "map_estimate",
    "mle",
    "posterior_weights",
    "response_arrays",
    "wle",
]

EstimatorName: TypeAlias = Literal["eap", "map", "mle", "wle"]


@dataclass(frozen=True, eq=False)
class QuadratureGrid:
    """Equally spaced nodes with a normal prior, for EAP scoring and mode searches.

    The default (121 nodes on [−6, 6], spacing 0.1) agrees with a much finer grid to about 1e-5 on
    40-item patterns; ``log_prior`` is normalised so that ``Σ exp(log_prior) = 1``.
    """

    nodes: FloatArray
    log_prior: FloatArray
    prior_mean: float
    prior_sd: float
    moments: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Columns 1, X, X² so that one product gives the posterior's mass, mean and second moment.
        moments = np.stack((np.ones_like(self.nodes), self.nodes, self.nodes**2), axis=1)
        moments.setflags(write=False)
        object.__setattr__(self, "moments", moments)

    @classmethod
    def normal(
        cls, mean: float = 0.0, sd: float = 1.0, points: int = 121, bound: float = 6.0
    ) -> QuadratureGrid:
        """Nodes ``linspace(−bound, bound, points)`` weighted by the N(mean, sd²) density."""
        if not (math.isfinite(mean) and math.isfinite(sd) and sd > 0):
            raise InvalidConfiguration(f"prior N({mean}, {sd}²) needs a finite mean and sd > 0")
        if points < 3 or not (math.isfinite(bound) and bound > 0):
            raise InvalidConfiguration(
                f"grid needs points >= 3 and bound > 0, got {points}, {bound}"
            )
        nodes = np.linspace(-bound, bound, points)
        log_prior = -0.5 * ((nodes - mean) / sd) ** 2
        log_prior -= np.logaddexp.reduce(log_prior)
        nodes.setflags(write=False)
        log_prior.setflags(write=False)
        return cls(nodes=nodes, log_prior=log_prior, prior_mean=float(mean), prior_sd=float(sd))


_DEFAULT_GRID = QuadratureGrid.normal()


@dataclass(frozen=True)
class AbilityEstimate:
    """An ability estimate and its standard error.

    Attributes:
        theta: the estimate (always finite).
        se: its standard error (posterior SD for EAP, ``1/√information`` otherwise).
        method: the estimator that produced ``theta`` (``"eap"`` after an MLE fallback).
        fallback: the requested MLE did not exist (perfect pattern) and was replaced.
        at_bound: the estimate sits on the search bound (an MLE that ran off the grid).
    """

    theta: float
    se: float
    method: EstimatorName
    fallback: bool = False
    at_bound: bool = False


def response_arrays(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
) -> tuple[IntArray, FloatArray]:
    """Validate administered positions and responses (0/1, or ``0..k`` for a GPCM item).

    Raises:
        ShapeMismatch: the two sequences differ in length.
        InvalidResponses: a position outside the bank, a repeated position, or a response that is
            not 0 or 1 (not an integer score in ``0..k`` for a polytomous item).
    """
    idx = np.asarray(administered)
    x = np.asarray(responses)
    if idx.ndim != 1 or x.ndim != 1 or idx.shape != x.shape:
        raise ShapeMismatch(
            f"{idx.size} administered items but {x.size} responses (both must be flat and equal)"
        )
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise InvalidResponses(f"administered items must be integer positions, got {idx.dtype}")
    idx = idx.astype(np.int64)
    out = (idx < 0) | (idx >= len(bank))
    if np.any(out):
        raise InvalidResponses(
            f"administered position {int(idx[out][0])} is outside the bank (0..{len(bank) - 1})"
        )
    if np.unique(idx).size != idx.size:
        values, counts = np.unique(idx, return_counts=True)
        dup = int(values[counts > 1][0])
        raise InvalidResponses(f"item {bank.ids[dup]!r} (position {dup}) is administered twice")
    xf = x.astype(np.float64)
    if bank.steps is None:
        bad = (xf != 0.0) & (xf != 1.0)
    else:
        top = bank.max_score[idx]
        bad = (xf != np.round(xf)) | (xf < 0.0) | (xf > top)
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0])
        k = int(bank.max_score[idx[j]])
        allowed = "0 or 1" if k == 1 else f"a score in 0..{k}"
        raise InvalidResponses(f"response {x[j]!r} to item {bank.ids[idx[j]]!r} is not {allowed}")
    return idx, xf


def log_likelihood_rows(
    nodes: FloatArray, bank: ItemBank, idx: IntArray, x: FloatArray
) -> FloatArray:
    """Per-response log-likelihood on the nodes, shape ``(len(idx), len(nodes))``."""
    ln_p, ln_q = log_probability(nodes[:, None], bank.a[idx], bank.b[idx], bank.c[idx], bank.d[idx])
    ln_p = ln_p.reshape(len(nodes), len(idx))
    ln_q = ln_q.reshape(len(nodes), len(idx))
    rows = np.ascontiguousarray(np.where(x == 1.0, ln_p, ln_q).T)
    if bank.steps is not None:
        which = np.flatnonzero(bank.max_score[idx] >= 2)
        if which.size:
            poly = idx[which]
            lp = gpcm_log_probabilities(nodes, bank.a[poly], bank.steps[poly])  # nodes × J × m+1
            cats = x[which].astype(np.int64)
            rows[which] = lp[:, np.arange(which.size), cats].T
    return rows


def accumulate(log_prior: FloatArray, rows: FloatArray) -> FloatArray:
    """Log posterior: the prior plus each row, added in administration order.

    Summing sequentially (never pairwise) makes a replay bit-identical to an incremental update.
    """
    lp = log_prior.copy()
    for row in rows:
        lp += row
    return lp


def eap_from_log_posterior(log_post: FloatArray, grid: QuadratureGrid) -> tuple[float, float]:
    """Posterior mean and SD from an unnormalised log posterior on the grid's nodes."""
    mass, first, second = (np.exp(log_post - log_post.max()) @ grid.moments).tolist()
    theta = first / mass
    return theta, math.sqrt(max(second / mass - theta * theta, 0.0))


def posterior_weights(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    grid: QuadratureGrid | None = None,
) -> FloatArray:
    """Normalised posterior weights on ``grid.nodes`` (sum to 1)."""
    g = grid or _DEFAULT_GRID
    idx, x = response_arrays(bank, administered, responses)
    lp = accumulate(g.log_prior, log_likelihood_rows(g.nodes, bank, idx, x))
    w = np.exp(lp - lp.max())
    return np.asarray(w / w.sum(), dtype=np.float64)


def eap(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    grid: QuadratureGrid | None = None,
) -> AbilityEstimate:
    """Expected a posteriori estimate and posterior SD (default grid: N(0, 1), 121 nodes on ±6)."""
    g = grid or _DEFAULT_GRID
    idx, x = response_arrays(bank, administered, responses)
    lp = accumulate(g.log_prior, log_likelihood_rows(g.nodes, bank, idx, x))
    theta, psd = eap_from_log_posterior(lp, g)
    return AbilityEstimate(theta=theta, se=psd, method="eap")


def _derivatives(
    theta: float, bank: ItemBank, idx: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``P, Q, P′, P″`` of the administered items at one ``theta``."""
    a, c, d = bank.a[idx], bank.c[idx], bank.d[idx]
    z = np.clip(a * (theta - bank.b[idx]), -40.0, 40.0)
    ps, qs = expit(z), expit(-z)
    span = d - c
    p = c + span * ps
    q = (1.0 - d) + span * qs
    p1 = a * span * ps * qs
    p2 = a * p1 * (qs - ps)
    return p, q, p1, p2


def _score_info(
    theta: float, bank: ItemBank, idx: IntArray, x: FloatArray
) -> tuple[float, float, float]:
    """``ℓ′(θ)``, ``I(θ)`` and Warm's ``J(θ)``."""
    if bank.steps is not None:
        is_poly = bank.max_score[idx] >= 2
        if is_poly.any():
            poly = idx[is_poly]
            a = bank.a[poly]
            mean, var, third = gpcm_moments(theta, a, bank.steps[poly])
            s, i, j = _score_info(theta, bank, idx[~is_poly], x[~is_poly])
            return (
                s + float(np.sum(a * (x[is_poly] - mean))),
                i + float(np.sum(a**2 * var)),
                j + float(np.sum(a**3 * third)),
            )
    p, q, p1, p2 = _derivatives(theta, bank, idx)
    pq = p * q
    return (
        float(np.sum((x - p) * p1 / pq)),
        float(np.sum(p1 * p1 / pq)),
        float(np.sum(p1 * p2 / pq)),
    )


def _mode(
    objective: FloatArray, nodes: FloatArray, score: Callable[[float], float]
) -> tuple[float, bool]:
    """Maximise on the grid, then polish between the neighbours of the best node.

    Returns ``(theta, at_bound)``; a maximum on the first or last node is returned as that node.
    """
    q = int(np.argmax(objective))
    if q in (0, len(nodes) - 1):
        return float(nodes[q]), True
    lo, hi = float(nodes[q - 1]), float(nodes[q + 1])
    s_lo, s_hi = score(lo), score(hi)
    if s_lo > 0.0 > s_hi:
        return float(brentq(score, lo, hi, xtol=1e-10)), False
    res = minimize_scalar(
        lambda t: -_interp(objective, nodes, t), bounds=(lo, hi), method="bounded"
    )
    return float(res.x), False


def _interp(values: FloatArray, nodes: FloatArray, t: float) -> float:
    return float(np.interp(t, nodes, values))


def _search_nodes(bounds: tuple[float, float], points: int) -> FloatArray:
    lo, hi = bounds
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidConfiguration(f"search bounds must be finite with lo < hi, got {bounds}")
    return np.linspace(lo, hi, points)


def _ll_on(nodes: FloatArray, bank: ItemBank, idx: IntArray, x: FloatArray) -> FloatArray:
    return np.asarray(log_likelihood_rows(nodes, bank, idx, x).sum(axis=0), dtype=np.float64)


def map_estimate(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    bounds: tuple[float, float] = (-6.0, 6.0),
    points: int = 121,
) -> AbilityEstimate:
    """Maximum a posteriori estimate with a N(prior_mean, prior_sd²) prior."""
    if not prior_sd > 0:
        raise InvalidConfiguration(f"prior_sd must be > 0, got {prior_sd}")
    idx, x = response_arrays(bank, administered, responses)
    nodes = _search_nodes(bounds, points)
    prec = 1.0 / prior_sd**2
    objective = _ll_on(nodes, bank, idx, x) - 0.5 * prec * (nodes - prior_mean) ** 2

    def score(t: float) -> float:
        return _score_info(t, bank, idx, x)[0] - prec * (t - prior_mean)

    theta, at_bound = _mode(objective, nodes, score)
    info = _score_info(theta, bank, idx, x)[1]
    return AbilityEstimate(
        theta=theta, se=1.0 / math.sqrt(info + prec), method="map", at_bound=at_bound
    )


def mle(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    bounds: tuple[float, float] = (-6.0, 6.0),
    points: int = 121,
    perfect: Literal["eap", "bound"] = "eap",
    grid: QuadratureGrid | None = None,
) -> AbilityEstimate:
    """Maximum likelihood estimate with SE ``1/√I(θ̂)``.

    A perfect pattern (or no responses) has no finite MLE: ``perfect="eap"`` (default) returns the
    EAP estimate on ``grid`` with ``fallback=True``; ``perfect="bound"`` returns the bound in the
    pattern's direction with ``fallback=True, at_bound=True`` (no responses always use EAP).
    """
    idx, x = response_arrays(bank, administered, responses)
    nodes = _search_nodes(bounds, points)
    highest = bool(np.all(x == bank.max_score[idx]))
    perfect_pattern = highest or bool(np.all(x == 0.0))
    if idx.size == 0 or (perfect == "eap" and perfect_pattern):
        est = eap(bank, idx, x, grid)
        return AbilityEstimate(theta=est.theta, se=est.se, method="eap", fallback=True)
    if perfect_pattern:
        theta = bounds[1] if highest else bounds[0]
        info = _score_info(theta, bank, idx, x)[1]
        return AbilityEstimate(
            theta=theta, se=1.0 / math.sqrt(info), method="mle", fallback=True, at_bound=True
        )
    theta, at_bound = _mode(
        _ll_on(nodes, bank, idx, x), nodes, lambda t: _score_info(t, bank, idx, x)[0]
    )
    info = _score_info(theta, bank, idx, x)[1]
    return AbilityEstimate(theta=theta, se=1.0 / math.sqrt(info), method="mle", at_bound=at_bound)


def wle(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    bounds: tuple[float, float] = (-6.0, 6.0),
    points: int = 121,
) -> AbilityEstimate:
    """Warm's weighted likelihood estimate, the root of ``ℓ′ + J/(2I)``; SE ``1/√I(θ̂)``.

    The root is bracketed on the grid by the maximum of ``ℓ + ½ ln I`` (the exact WLE objective for
    the 1PL/2PL, a close guide for the 3PL). With no responses the WLE is undefined and the EAP
    estimate is returned with ``fallback=True``.
    """
    idx, x = response_arrays(bank, administered, responses)
    if idx.size == 0:
        est = eap(bank, idx, x)
        return AbilityEstimate(theta=est.theta, se=est.se, method="eap", fallback=True)
    nodes = _search_nodes(bounds, points)
    info_nodes = np.array([_score_info(float(t), bank, idx, x)[1] for t in nodes])
    objective = _ll_on(nodes, bank, idx, x) + 0.5 * np.log(np.maximum(info_nodes, 1e-300))

    def score(t: float) -> float:
        s, i, j = _score_info(t, bank, idx, x)
        return s + j / (2.0 * i)

    theta, at_bound = _mode(objective, nodes, score)
    info = _score_info(theta, bank, idx, x)[1]
    return AbilityEstimate(theta=theta, se=1.0 / math.sqrt(info), method="wle", at_bound=at_bound)


def estimate_ability(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    method: EstimatorName = "eap",
    grid: QuadratureGrid | None = None,
) -> AbilityEstimate:
    """Dispatch to :func:`eap`, :func:`map_estimate`, :func:`mle` or :func:`wle`.

    The grid's prior (mean, SD) is used by EAP, by MAP and by the MLE's perfect-pattern fallback.
    """
    g = grid or _DEFAULT_GRID
    if method == "eap":
        return eap(bank, administered, responses, g)
    if method == "map":
        return map_estimate(bank, administered, responses, g.prior_mean, g.prior_sd)
    if method == "mle":
        return mle(bank, administered, responses, grid=g)
    if method == "wle":
        return wle(bank, administered, responses)
    raise InvalidConfiguration(f"unknown estimator {method!r} (eap, map, mle or wle)")
