"""The generalized partial credit model (GPCM, Muraki 1992) for items scored 0 … k.

An item with several gaps is one item with a score ``x ∈ {0, …, k}``, not ``k`` independent items
(their answers share the passage, so local independence would fail). Its category probabilities
are

    P_x(θ) = exp(Σ_{v ≤ x} a (θ − b_v)) / Σ_{h=0}^{k} exp(Σ_{v ≤ h} a (θ − b_v))

with slope ``a > 0`` and step difficulties ``b_1 … b_k`` (the empty sum of ``x = 0`` is 0; ``b_v``
is where categories ``v − 1`` and ``v`` are equally likely). With ``k = 1`` this is the 2PL with
``b = b_1``: a 0/1 item is the one-step case (:func:`~etest.irt.calibrate_gpcm` fits 0/1 columns
so; the bank keeps the faster dichotomous formulas for them).

Why the GPCM and not Samejima's graded response model (both reduce to the 2PL for one step): the
GPCM is an exponential family in θ with sufficient statistic ``a·x``, which gives the closed forms
used everywhere in :mod:`etest.irt` —

* score ``∂ ln P_x / ∂θ = a (x − E[X | θ])``,
* Fisher information ``I(θ) = a² Var(X | θ)`` (also the observed information, for every score),
* Warm's ``J(θ) = a³ E[(X − E X)³ | θ]``,

its steps compare adjacent scores and need no order (a passage's second gap may be easier than its
first; the GRM's boundaries must be ordered), and with equal slopes the number of gap points is a
sufficient statistic, as certification scoring counts them.

Shapes: ``theta`` of shape ``S`` (any), ``a`` of shape ``(J,)`` and ``steps`` of shape ``(J, m)``
with ``NaN`` after an item's last step (items may have different ``k``); results are
``S + (J, m + 1)`` for category arrays and ``S + (J,)`` for per-item figures. Categories past an
item's ``k`` have probability 0 (log-probability ``−∞``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from etest.irt._types import FloatArray, IntArray
from etest.irt.errors import InvalidResponses, ShapeMismatch

__all__ = [
    "gpcm_expected_score",
    "gpcm_information",
    "gpcm_log_likelihood",
    "gpcm_log_probabilities",
    "gpcm_moments",
    "gpcm_probabilities",
    "max_scores",
]


def _steps(a: npt.ArrayLike, steps: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    a_ = np.atleast_1d(np.asarray(a, dtype=np.float64))
    s = np.asarray(steps, dtype=np.float64)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2 or a_.ndim != 1 or s.shape[0] != a_.shape[0]:
        raise ShapeMismatch(
            f"GPCM needs a of shape (J,) and steps of shape (J, m), got {a_.shape} and {s.shape}"
        )
    return a_, s


def max_scores(steps: npt.ArrayLike) -> IntArray:
    """Each item's highest score ``k``: the number of non-NaN steps (leading, contiguous)."""
    s = np.asarray(steps, dtype=np.float64)
    if s.ndim == 1:
        s = s[None, :]
    return np.asarray((~np.isnan(s)).sum(axis=1), dtype=np.int64)


def _logits(theta: npt.ArrayLike, a: FloatArray, steps: FloatArray) -> FloatArray:
    """Unnormalised log-probabilities ``Σ_{v ≤ x} a (θ − b_v)``, ``−∞`` past the last step."""
    th = np.asarray(theta, dtype=np.float64)
    t = th.reshape((*th.shape, 1, 1))
    kernel = a[:, None] * (t - steps)  # S + (J, m); NaN past the last step
    z = np.concatenate((np.zeros((*th.shape, a.size, 1)), np.cumsum(kernel, axis=-1)), axis=-1)
    return np.where(np.isnan(z), -np.inf, z)


def gpcm_log_probabilities(
    theta: npt.ArrayLike, a: npt.ArrayLike, steps: npt.ArrayLike
) -> FloatArray:
    """``ln P_x(θ)`` for every item and category, shape ``theta.shape + (J, m + 1)``."""
    a_, s = _steps(a, steps)
    z = _logits(theta, a_, s)
    return np.asarray(z - np.logaddexp.reduce(z, axis=-1, keepdims=True), dtype=np.float64)


def gpcm_probabilities(theta: npt.ArrayLike, a: npt.ArrayLike, steps: npt.ArrayLike) -> FloatArray:
    """``P_x(θ)``, shape ``theta.shape + (J, m + 1)``; each row sums to 1.

    >>> p = gpcm_probabilities(0.0, [1.0], [[-1.0, 1.0]])
    >>> [round(float(v), 6) for v in p[0]]
    [0.211942, 0.576117, 0.211942]
    """
    return np.asarray(np.exp(gpcm_log_probabilities(theta, a, steps)), dtype=np.float64)


def gpcm_moments(
    theta: npt.ArrayLike, a: npt.ArrayLike, steps: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean, variance and third central moment of the score ``X`` at θ, each ``S + (J,)``."""
    p = gpcm_probabilities(theta, a, steps)
    x = np.arange(p.shape[-1], dtype=np.float64)
    mean = p @ x
    dev = x - mean[..., None]
    var = np.sum(p * dev**2, axis=-1)
    third = np.sum(p * dev**3, axis=-1)
    return mean, var, third


def gpcm_expected_score(theta: npt.ArrayLike, a: npt.ArrayLike, steps: npt.ArrayLike) -> FloatArray:
    """``E[X | θ]``, shape ``theta.shape + (J,)``."""
    return gpcm_moments(theta, a, steps)[0]


def gpcm_information(theta: npt.ArrayLike, a: npt.ArrayLike, steps: npt.ArrayLike) -> FloatArray:
    """Fisher information ``a² Var(X | θ)``, shape ``theta.shape + (J,)``.

    Equal to ``Σ_x P_x′² / P_x``; for one step it is the 2PL's ``a² P Q``.
    """
    a_, s = _steps(a, steps)
    return np.asarray(a_**2 * gpcm_moments(theta, a_, s)[1], dtype=np.float64)


def check_scores(x: FloatArray, k: IntArray) -> None:
    """Raise :class:`InvalidResponses` unless every non-NaN score is an integer in ``0..k``."""
    seen = ~np.isnan(x)
    bad = seen & ((x != np.round(x)) | (x < 0) | (x > k))
    if np.any(bad):
        j = int(np.flatnonzero(bad.reshape(-1))[0])
        raise InvalidResponses(
            f"score {x.reshape(-1)[j]!r} (item column {j % k.size}) is not an integer in "
            f"0..{int(k.reshape(-1)[j % k.size])}"
        )


def gpcm_log_likelihood(
    theta: npt.ArrayLike, responses: npt.ArrayLike, a: npt.ArrayLike, steps: npt.ArrayLike
) -> FloatArray:
    """Log-likelihood of scores ``responses`` (shape ``(J,)``, NaN = not given) at each θ."""
    a_, s = _steps(a, steps)
    x = np.asarray(responses, dtype=np.float64)
    if x.shape != a_.shape:
        raise ShapeMismatch(f"responses have shape {x.shape}, item parameters {a_.shape}")
    check_scores(x, max_scores(s))
    lp = gpcm_log_probabilities(theta, a_, s)
    seen = ~np.isnan(x)
    cat = np.where(seen, x, 0.0).astype(np.int64)
    picked = np.take_along_axis(lp, np.broadcast_to(cat[:, None], (*lp.shape[:-1], 1)), -1)
    return np.asarray(np.where(seen, picked[..., 0], 0.0).sum(axis=-1), dtype=np.float64)
