"""Placement: ability to level, position within the level, and how sure the placement is.

Levels are the half-open bands ``[c_(l−1), c_l)`` of the ability scale defined by strictly
increasing cut scores ``c_0 < … < c_(L−2)`` (``L`` levels, both end bands open). The placed level is
the band that contains ``θ̂`` — an ability exactly on a cut goes to the upper band. The level
probabilities use the normal approximation ``θ ~ N(θ̂, SE²)`` (Rudner 2001):
``P(l) = Φ((c_l − θ̂)/SE) − Φ((c_(l−1) − θ̂)/SE)``; :func:`posterior_level_probabilities` gives the
EAP-posterior version instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from etest.irt._types import FloatArray
from etest.irt.errors import InvalidConfiguration, ShapeMismatch

__all__ = [
    "Placement",
    "check_cut_scores",
    "level_of",
    "level_probabilities",
    "place",
    "position_in_level",
    "posterior_level_probabilities",
]


def check_cut_scores(cut_scores: Sequence[float] | npt.ArrayLike) -> FloatArray:
    """Cut scores as a float array; raise if they are not finite and strictly increasing."""
    try:
        cuts = np.asarray(cut_scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidConfiguration(f"cut scores must be numbers, got {cut_scores!r}") from None
    if cuts.ndim != 1:
        raise InvalidConfiguration(f"cut scores must be a flat list, got shape {cuts.shape}")
    if not np.all(np.isfinite(cuts)):
        raise InvalidConfiguration(f"cut scores must be finite, got {cuts.tolist()}")
    if np.any(np.diff(cuts) <= 0):
        raise InvalidConfiguration(f"cut scores must be strictly increasing, got {cuts.tolist()}")
    return cuts


def _band(theta: float, cuts: FloatArray) -> int:
    return int(np.searchsorted(cuts, theta, side="right"))


def _position(theta: float, cuts: FloatArray, open_width: float) -> float:
    level = _band(theta, cuts)
    k = cuts.size
    if k == 0:
        return 50.0
    if level == 0:
        width = float(cuts[1] - cuts[0]) if k > 1 else open_width
        lower = float(cuts[0]) - width
    elif level == k:
        width = float(cuts[-1] - cuts[-2]) if k > 1 else open_width
        lower = float(cuts[-1])
    else:
        lower, width = float(cuts[level - 1]), float(cuts[level] - cuts[level - 1])
    return float(min(100.0, max(0.0, 100.0 * (theta - lower) / width)))


def _probabilities(theta: float, se: float, cuts: FloatArray) -> FloatArray:
    if se == 0:
        out = np.zeros(cuts.size + 1)
        out[_band(theta, cuts)] = 1.0
        return out
    cdf = np.concatenate(([0.0], ndtr((cuts - theta) / se), [1.0]))
    return np.asarray(np.diff(cdf), dtype=np.float64)


def _check_estimate(theta: float, se: float = 0.0) -> None:
    if not (math.isfinite(theta) and math.isfinite(se) and se >= 0):
        raise InvalidConfiguration(f"need a finite theta and se >= 0, got {theta}, {se}")


def level_of(theta: float, cut_scores: Sequence[float] | npt.ArrayLike) -> int:
    """Index of the band containing ``theta`` (0 … number of cuts); a cut goes to the upper band."""
    _check_estimate(theta)
    return _band(theta, check_cut_scores(cut_scores))


def position_in_level(
    theta: float, cut_scores: Sequence[float] | npt.ArrayLike, open_width: float = 1.0
) -> float:
    """Position 0–100 of ``theta`` inside its band: ``100 (θ − lower) / (upper − lower)``, clipped.

    An open end band borrows its neighbour's width; with a single cut (no neighbour) it uses
    ``open_width``; with no cuts at all the position is 50.
    """
    _check_estimate(theta)
    return _position(theta, check_cut_scores(cut_scores), open_width)


def level_probabilities(
    theta: float, se: float, cut_scores: Sequence[float] | npt.ArrayLike
) -> FloatArray:
    """Probability of each level under ``N(theta, se²)``; sums to 1 (``se = 0``: a point mass)."""
    _check_estimate(theta, se)
    return _probabilities(theta, se, check_cut_scores(cut_scores))


def posterior_level_probabilities(
    weights: npt.ArrayLike, nodes: npt.ArrayLike, cut_scores: Sequence[float] | npt.ArrayLike
) -> FloatArray:
    """Level probabilities from posterior weights on nodes: ``p_l = Σ_{X_q ∈ band l} w_q``."""
    w = np.asarray(weights, dtype=np.float64)
    x = np.asarray(nodes, dtype=np.float64)
    if w.shape != x.shape or w.ndim != 1:
        raise ShapeMismatch(f"weights {w.shape} and nodes {x.shape} must be equal flat arrays")
    cuts = check_cut_scores(cut_scores)
    bands = np.searchsorted(cuts, x, side="right")
    out = np.bincount(bands, weights=w, minlength=cuts.size + 1)
    return np.asarray(out / out.sum(), dtype=np.float64)


@dataclass(frozen=True)
class Placement:
    """Where an ability places a candidate, and how sure that is.

    Attributes:
        level: index of the band containing ``theta`` (0 = lowest level).
        position: 0–100 within that band.
        probabilities: probability of each level under ``N(theta, se²)``.
    """

    level: int
    position: float
    probabilities: tuple[float, ...]

    @property
    def confidence(self) -> float:
        """Probability that the true level is the placed one."""
        return self.probabilities[self.level]


def place(theta: float, se: float, cut_scores: Sequence[float] | npt.ArrayLike) -> Placement:
    """Level, within-level position and level probabilities for an estimate and its SE."""
    _check_estimate(theta, se)
    cuts = check_cut_scores(cut_scores)
    return Placement(
        level=_band(theta, cuts),
        position=_position(theta, cuts, 1.0),
        probabilities=tuple(_probabilities(theta, se, cuts).tolist()),
    )
