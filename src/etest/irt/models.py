"""Dichotomous IRT models (1PL, 2PL, 3PL, 4PL): probability, likelihood and information.

Everything is on the logistic metric (D = 1). The four-parameter logistic model is

    P(θ) = c + (d − c) · σ(a (θ − b)),     σ(z) = 1 / (1 + e^(−z))

with slope ``a > 0``, difficulty ``b``, lower asymptote ``c`` in ``[0, 1)`` and upper asymptote
``d`` in ``(c, 1]`` (``d`` is catsim's name; the reference notes call it ``u``). The 3PL is
``d = 1``, the 2PL also ``c = 0``, the 1PL one common ``a``.

Shapes are "outer": ``theta`` of shape ``S`` and item parameters of shape ``J`` (broadcast against
each other) give an array of shape ``S + J``; sums over items reduce the trailing ``J`` axes. Ratios
such as ``Q/P`` are formed from ``σ(z)`` and ``σ(−z)``, never by subtracting from 1, so the
functions stay finite for ``|z|`` up to about 700 (information is evaluated with ``z`` clipped to
±40, where it is below 1e-16).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from etest.irt._types import FloatArray
from etest.irt.errors import ShapeMismatch

__all__ = [
    "item_information",
    "log_likelihood",
    "log_probability",
    "max_information",
    "probability",
    "total_information",
]

_Z_CLIP = 40.0


def _params(
    a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, d: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    try:
        arrays = np.broadcast_arrays(
            np.asarray(a, dtype=np.float64),
            np.asarray(b, dtype=np.float64),
            np.asarray(c, dtype=np.float64),
            np.asarray(d, dtype=np.float64),
        )
    except ValueError as exc:
        raise ShapeMismatch(f"item parameters a, b, c, d do not broadcast: {exc}") from None
    return arrays[0], arrays[1], arrays[2], arrays[3]


def _outer(theta: npt.ArrayLike, item_ndim: int) -> FloatArray:
    th = np.asarray(theta, dtype=np.float64)
    return th.reshape(th.shape + (1,) * item_ndim)


def _log_or_minus_inf(x: FloatArray) -> FloatArray:
    out = np.full(x.shape, -np.inf)
    np.log(x, out=out, where=x > 0)
    return out


def probability(
    theta: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike = 0.0,
    d: npt.ArrayLike = 1.0,
) -> FloatArray:
    """Probability of a correct response, shape ``theta.shape + a.shape``.

    >>> round(float(probability(1.0, 1.5, 1.0, 0.2)), 12)
    0.6
    """
    a_, b_, c_, d_ = _params(a, b, c, d)
    z = a_ * (_outer(theta, a_.ndim) - b_)
    return np.asarray(c_ + (d_ - c_) * expit(z), dtype=np.float64)


def log_probability(
    theta: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike = 0.0,
    d: npt.ArrayLike = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """``(ln P, ln Q)`` evaluated with log-sigmoids, finite wherever ``P`` and ``Q`` are positive.

    ``c = 0`` and ``d = 1`` are special-cased so no ``ln 0`` is ever evaluated.
    """
    a_, b_, c_, d_ = _params(a, b, c, d)
    z = a_ * (_outer(theta, a_.ndim) - b_)
    ln_ps = -np.logaddexp(0.0, -z)
    ln_qs = -np.logaddexp(0.0, z)
    if np.any(c_ != 0.0) or np.any(d_ != 1.0):
        ln_span = np.log(d_ - c_)
        ln_p = np.logaddexp(_log_or_minus_inf(c_), ln_span + ln_ps)
        ln_q = np.logaddexp(_log_or_minus_inf(1.0 - d_), ln_span + ln_qs)
        return np.asarray(ln_p, dtype=np.float64), np.asarray(ln_q, dtype=np.float64)
    return np.asarray(ln_ps, dtype=np.float64), np.asarray(ln_qs, dtype=np.float64)


def log_likelihood(
    theta: npt.ArrayLike,
    responses: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike = 0.0,
    d: npt.ArrayLike = 1.0,
) -> FloatArray:
    """Log-likelihood of a response pattern at each ``theta`` (shape ``theta.shape``).

    ``responses`` has the items' shape and holds 1 (correct), 0 (wrong) or NaN (not administered;
    contributes nothing).
    """
    a_, b_, c_, d_ = _params(a, b, c, d)
    x = np.asarray(responses, dtype=np.float64)
    if x.shape != a_.shape:
        raise ShapeMismatch(f"responses have shape {x.shape}, item parameters {a_.shape}")
    ln_p, ln_q = log_probability(theta, a_, b_, c_, d_)
    seen = ~np.isnan(x)
    terms = np.where(seen, np.where(x == 1.0, ln_p, ln_q), 0.0)
    axes = tuple(range(-a_.ndim, 0))
    return np.asarray(terms.sum(axis=axes), dtype=np.float64)


def _information_z(a: FloatArray, z: FloatArray, c: FloatArray, d: FloatArray) -> FloatArray:
    """Information at logit ``z = a (θ − b)``, elementwise (all arguments broadcast)."""
    z = np.clip(z, -_Z_CLIP, _Z_CLIP)
    ps = expit(z)
    qs = expit(-z)
    span = d - c
    p = c + span * ps
    q = (1.0 - d) + span * qs
    return np.asarray((a * span * ps * qs) ** 2 / (p * q), dtype=np.float64)


def item_information(
    theta: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike = 0.0,
    d: npt.ArrayLike = 1.0,
) -> FloatArray:
    """Fisher (expected) item information ``P′² / (P Q)``, shape ``theta.shape + a.shape``.

    Evaluated as ``a² (d − c)² P*² Q*² / (P Q)`` with ``P* = σ(z)``, ``Q* = σ(−z)``; for the 3PL
    this is Birnbaum's ``a² (1 − c) P*² Q* / (c + (1 − c) P*)``, for the 2PL ``a² P Q``.
    """
    a_, b_, c_, d_ = _params(a, b, c, d)
    return _information_z(a_, a_ * (_outer(theta, a_.ndim) - b_), c_, d_)


def total_information(
    theta: npt.ArrayLike,
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike = 0.0,
    d: npt.ArrayLike = 1.0,
) -> FloatArray:
    """Test information ``Σ_j I_j(θ)``, shape ``theta.shape``."""
    a_ = np.asarray(a, dtype=np.float64)
    info = item_information(theta, a, b, c, d)
    ndim = max(a_.ndim, np.ndim(b), np.ndim(c), np.ndim(d))
    return np.asarray(info.sum(axis=tuple(range(-ndim, 0))), dtype=np.float64)


def max_information(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    c: npt.ArrayLike = 0.0,
    d: npt.ArrayLike = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Where each item is most informative and how much: ``(θ_max, I_max)``.

    Closed form for the 1–3PL (Birnbaum 1968):
    ``θ_max = b + ln((1 + √(1 + 8c)) / 2) / a`` and
    ``I_max = a² (1 − 20c − 8c² + (1 + 8c)^1.5) / (8 (1 − c)²)``. Items with ``d < 1`` (4PL) are
    located numerically (golden-section search on ``z``, to about 1e-9).
    """
    a_, b_, c_, d_ = _params(a, b, c, d)
    root = np.sqrt(1.0 + 8.0 * c_)
    theta_max = np.array(b_ + np.log((1.0 + root) / 2.0) / a_, dtype=np.float64)
    info_max = np.array(
        a_**2 * (1.0 - 20.0 * c_ - 8.0 * c_**2 + root**3) / (8.0 * (1.0 - c_) ** 2),
        dtype=np.float64,
    )
    four = d_ < 1.0
    if np.any(four):
        # 4PL: maximise the information over z = a (θ − b); it depends on z, c and d only.
        one = np.ones(int(four.sum()))
        cc, dd = c_[four], d_[four]
        lo, hi = -10.0 * one, 10.0 * one
        inv_phi = (np.sqrt(5.0) - 1.0) / 2.0
        for _ in range(80):
            m1 = hi - inv_phi * (hi - lo)
            m2 = lo + inv_phi * (hi - lo)
            left = _information_z(one, m1, cc, dd) >= _information_z(one, m2, cc, dd)
            hi = np.where(left, m2, hi)
            lo = np.where(left, lo, m1)
        z_star = (lo + hi) / 2.0
        theta_max[four] = b_[four] + z_star / a_[four]
        info_max[four] = a_[four] ** 2 * _information_z(one, z_star, cc, dd)
    return np.asarray(theta_max, dtype=np.float64), np.asarray(info_max, dtype=np.float64)
