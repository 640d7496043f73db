"""Stopping rules: length, precision, classification (interval or SPRT) and an exhausted pool.

:func:`stop_reason` applies the rules after each scored response, in this order, and returns the
first that fires (``None`` means "serve another item"):

1. nothing left to serve                          → ``pool_exhausted`` (even before ``min_items``)
2. fewer than ``min_items`` answered              → continue
3. classification decided (interval or SPRT)      → ``classified`` / ``sprt_classified``
4. ``SE ≤ se_target``                             → ``precision``
5. ``max_items`` answered                         → ``max_length``
6. no eligible item with information ≥ ``min_information`` at θ̂ → ``no_informative_item``

The interval rule stops when ``[θ̂ − z·SE, θ̂ + z·SE]`` lies inside one band ``[c_(l−1), c_l)``
(Kingsbury & Weiss 1983). The SPRT variant runs Wald's test at each cut ``c_k`` with hypotheses
``θ = c_k ± δ`` (Reckase 1983; Eggen 1999) and stops at level ``l`` when cut ``l − 1`` is decided
"above" (or ``l = 0``), cut ``l`` "below" (or ``l`` is the top level), and no other decision
contradicts that level (a contradiction counts as undecided).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.config import EngineConfig
from etest.irt.errors import InvalidConfiguration
from etest.irt.estimation import response_arrays
from etest.irt.models import log_probability
from etest.irt.placement import check_cut_scores

__all__ = [
    "StopReason",
    "interval_level",
    "sprt_decisions",
    "sprt_level",
    "sprt_log_ratios",
    "stop_reason",
    "wald_bounds",
]


class StopReason(StrEnum):
    """Why an adaptive test ended (stored with the attempt)."""

    POOL_EXHAUSTED = "pool_exhausted"
    CLASSIFIED = "classified"
    SPRT_CLASSIFIED = "sprt_classified"
    PRECISION = "precision"
    MAX_LENGTH = "max_length"
    NO_INFORMATIVE_ITEM = "no_informative_item"


def wald_bounds(alpha: float = 0.05, beta: float = 0.05) -> tuple[float, float]:
    """Wald's SPRT bounds ``(ln(β/(1−α)), ln((1−β)/α))``: ±2.944 at α = β = 0.05."""
    if not (0 < alpha < 1 and 0 < beta < 1):
        raise InvalidConfiguration(f"alpha and beta must be in (0, 1), got {alpha}, {beta}")
    return math.log(beta / (1.0 - alpha)), math.log((1.0 - beta) / alpha)


def interval_level(
    theta: float, se: float, cut_scores: Sequence[float] | npt.ArrayLike, level: float = 0.95
) -> int | None:
    """The band that contains the whole ``level`` interval ``θ̂ ± z·SE``, or ``None``."""
    if not 0 < level < 1:
        raise InvalidConfiguration(f"interval level must be in (0, 1), got {level}")
    return _interval_band(theta, se, check_cut_scores(cut_scores), level)


def _interval_band(theta: float, se: float, cuts: FloatArray, level: float) -> int | None:
    half = float(ndtri(0.5 + level / 2.0)) * se
    low, high = np.searchsorted(cuts, (theta - half, theta + half), side="right").tolist()
    return int(low) if low == high else None


def sprt_increments(
    bank: ItemBank, idx: IntArray, x: FloatArray, cut_scores: FloatArray, delta: float
) -> FloatArray:
    """Each response's contribution to ``Λ_k`` at every cut, shape ``(len(idx), len(cuts))``."""
    points = np.concatenate((cut_scores + delta, cut_scores - delta))
    ln_p, ln_q = log_probability(
        points[:, None], bank.a[idx], bank.b[idx], bank.c[idx], bank.d[idx]
    )
    k = cut_scores.size
    ln_p = ln_p.reshape(2 * k, idx.size)
    ln_q = ln_q.reshape(2 * k, idx.size)
    ratio = np.where(x == 1.0, ln_p[:k] - ln_p[k:], ln_q[:k] - ln_q[k:])
    if bank.steps is not None:
        # A polytomous item adds ln P_x(c + δ) − ln P_x(c − δ) for its score x.
        for col in np.flatnonzero(bank.max_score[idx] >= 2).tolist():
            row = bank.category_log_probabilities(points, int(idx[col]))[int(x[col])]
            ratio[:, col] = row[:k] - row[k:]
    return np.ascontiguousarray(ratio.T)


def sprt_log_ratios(
    bank: ItemBank,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    cut_scores: Sequence[float] | npt.ArrayLike,
    delta: float = 0.2,
) -> FloatArray:
    """``Λ_k = Σ_i [x ln(P(c_k+δ)/P(c_k−δ)) + (1−x) ln(Q(c_k+δ)/Q(c_k−δ))]`` for every cut."""
    if not delta > 0:
        raise InvalidConfiguration(f"SPRT delta must be > 0, got {delta}")
    cuts = check_cut_scores(cut_scores)
    idx, x = response_arrays(bank, administered, responses)
    total = np.zeros(cuts.size)
    for row in sprt_increments(bank, idx, x, cuts, delta):
        total += row
    return total


def sprt_decisions(log_ratios: npt.ArrayLike, alpha: float = 0.05, beta: float = 0.05) -> IntArray:
    """Per cut: ``+1`` decided above, ``−1`` decided below, ``0`` undecided."""
    lower, upper = wald_bounds(alpha, beta)
    lam = np.asarray(log_ratios, dtype=np.float64)
    return np.where(lam >= upper, 1, np.where(lam <= lower, -1, 0)).astype(np.int64)


def sprt_level(decisions: npt.ArrayLike) -> int | None:
    """The level on which the per-cut decisions agree, or ``None`` (undecided or contradictory)."""
    dec = np.asarray(decisions, dtype=np.int64)
    k = dec.size
    for level in range(k + 1):
        below_ok = level == 0 or dec[level - 1] == 1
        above_ok = level == k or dec[level] == -1
        if below_ok and above_ok:
            consistent = not np.any(dec[:level] == -1) and not np.any(dec[level:] == 1)
            return level if consistent else None
    return None


def stop_reason(
    config: EngineConfig,
    *,
    n_administered: int,
    theta: float,
    se: float,
    items_left: int,
    best_information: float | None = None,
    sprt_ratios: FloatArray | None = None,
) -> StopReason | None:
    """Apply the rules of the module docstring, in order; ``None`` means continue.

    ``best_information`` is the largest information at θ̂ among eligible items (needed only for
    ``min_information``); ``sprt_ratios`` the current ``Λ_k`` (needed only for the SPRT rule).
    """
    if items_left <= 0:
        return StopReason.POOL_EXHAUSTED
    if n_administered < config.min_items:
        return None
    if config.classification == "ci":
        cuts = np.asarray(config.cut_scores, dtype=np.float64)
        if _interval_band(theta, se, cuts, config.ci_level) is not None:
            return StopReason.CLASSIFIED
    elif config.classification == "sprt":
        if sprt_ratios is None:
            raise InvalidConfiguration("the SPRT rule needs the current log-likelihood ratios")
        decisions = sprt_decisions(sprt_ratios, config.sprt_alpha, config.sprt_beta)
        if sprt_level(decisions) is not None:
            return StopReason.SPRT_CLASSIFIED
    if config.se_target is not None and se <= config.se_target:
        return StopReason.PRECISION
    if n_administered >= config.max_items:
        return StopReason.MAX_LENGTH
    if (
        config.min_information > 0
        and best_information is not None
        and best_information < config.min_information
    ):
        return StopReason.NO_INFORMATIVE_ITEM
    return None
