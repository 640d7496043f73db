"""Item calibration by marginal maximum likelihood: Bock–Aitkin EM on a quadrature grid.

:func:`calibrate` takes a persons × items response matrix with NaN for items a person was not
given (adaptive data leave most cells empty; unseen items contribute nothing, which is ignorable
because the engine's choices depend only on observed responses — Mislevy & Wu 1996) and estimates
Rasch, 1PL (one common slope), 2PL or 3PL parameters with θ ~ N(0, 1) fixing the scale.

* **E-step** (Bock & Aitkin 1981): each person's posterior over ``quadrature_points`` equally
  spaced nodes, computed with matrix products on the observed-cell mask; expected correct and
  expected responses per item and node.
* **M-step**: per item, in slope–intercept form ``P = c + (1 − c) σ(a θ + d)`` over
  ``η = (ln a, d, logit c)``, Fisher scoring with analytic gradients and expected information
  (plus prior curvature), step-halved so the penalised likelihood never falls. For the 1PL the
  common slope takes its own scoring step after the intercepts.
* **Priors**: the 3PL puts ``c ~ Beta(6, 16)`` (mode 0.25, four options; Swaminathan & Gifford
  1986) on ``c``; an optional normal prior on ``ln a`` (``log_a_prior=(mean, sd)``) tames slopes.
  Priors are densities on ``ln a`` and ``c`` themselves (no Jacobian), so the estimates are modes.
* **Convergence**: largest change of any ``a``, ``b`` or ``c`` below ``tol`` and relative change of
  the penalised log-likelihood below ``ll_tol``, else ``converged=False`` after ``max_cycles``.
* **Standard errors**: the empirical cross-product information (sum over persons of the outer
  products of their score vectors, Fisher's identity), inverted as a whole and carried to ``a``,
  ``b`` and ``c`` by the delta method. Fixed parameters (Rasch ``a``, 1/2PL ``c``) get SE 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.errors import EmptyBank, InvalidConfiguration, InvalidResponses, ShapeMismatch

__all__ = ["Calibration", "CalibrationModel", "calibrate", "response_matrix"]

CalibrationModel: TypeAlias = Literal["rasch", "1pl", "2pl", "3pl"]


@dataclass(frozen=True, eq=False)
class Calibration:
    """Estimated item parameters with standard errors and convergence information.

    Attributes:
        model: the calibrated model.
        item_ids: ids of the calibrated items (columns with at least ``min_responses``).
        a, b, c: parameters (logistic metric, slope–difficulty form).
        se_a, se_b, se_c: standard errors (0 for parameters the model fixes).
        n_responses: responses per calibrated item.
        skipped: ids of items left out for having fewer than ``min_responses`` responses.
        iterations: EM cycles run.
        converged: the convergence criteria were met before ``max_cycles``.
        log_likelihood: final marginal log-likelihood (without priors).
        log_likelihood_change: change of the penalised log-likelihood in the last cycle.
        max_parameter_change: largest change of any ``a``, ``b`` or ``c`` in the last cycle.
        theta, theta_se: each person's EAP ability and posterior SD under the final parameters.
    """

    model: CalibrationModel
    item_ids: tuple[str, ...]
    a: FloatArray
    b: FloatArray
    c: FloatArray
    se_a: FloatArray
    se_b: FloatArray
    se_c: FloatArray
    n_responses: IntArray
    skipped: tuple[str, ...]
    iterations: int
    converged: bool
    log_likelihood: float
    log_likelihood_change: float
    max_parameter_change: float
    theta: FloatArray
    theta_se: FloatArray

    def to_bank(self, skills: Sequence[str] | None = None) -> ItemBank:
        """The calibrated items as an :class:`ItemBank` (``skills`` aligned with ``item_ids``)."""
        return ItemBank.from_arrays(self.item_ids, self.a, self.b, self.c, 1.0, skills=skills)


def response_matrix(responses: npt.ArrayLike) -> FloatArray:
    """Validate a persons × items matrix of 1, 0 and NaN (not administered); return float64."""
    try:
        x = np.array(responses, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidResponses("responses must be a numeric persons × items matrix") from None
    if x.ndim != 2:
        raise ShapeMismatch(f"responses must be a persons × items matrix, got shape {x.shape}")
    if x.shape[1] == 0:
        raise EmptyBank("the response matrix has no items")
    if x.shape[0] == 0:
        raise InvalidResponses("the response matrix has no persons")
    bad = ~np.isnan(x) & (x != 0.0) & (x != 1.0)
    if bad.any():
        p, j = (int(v[0]) for v in np.nonzero(bad))
        raise InvalidResponses(
            f"response {x[p, j]!r} (person {p}, item column {j}) is not 0, 1 or NaN"
        )
    return x


# Columns of the per-item parameter array η: ln a, intercept d, logit c (−∞ when c ≡ 0).
_ALPHA, _D, _GAMMA = 0, 1, 2


@dataclass(frozen=True)
class _Model:
    free: tuple[int, ...]  # η columns estimated item by item
    common_slope: bool  # 1PL: one ln a shared by every item
    guessing: bool  # 3PL: c is estimated


_MODELS: dict[str, _Model] = {
    "rasch": _Model(free=(_D,), common_slope=False, guessing=False),
    "1pl": _Model(free=(_D,), common_slope=True, guessing=False),
    "2pl": _Model(free=(_ALPHA, _D), common_slope=False, guessing=False),
    "3pl": _Model(free=(_ALPHA, _D, _GAMMA), common_slope=False, guessing=True),
}


def _abc(eta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    a = np.exp(eta[:, _ALPHA])
    return a, -eta[:, _D] / a, np.asarray(expit(eta[:, _GAMMA]), dtype=np.float64)


def _curves(
    eta: FloatArray, nodes: FloatArray, guessing: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per item and node: ``ln P, ln Q, P, P*, Q*`` and ``ratio = P*/P`` (items × nodes)."""
    a, _, c = _abc(eta)
    z = a[:, None] * nodes[None, :] + eta[:, _D, None]
    ps, qs = expit(z), expit(-z)
    ln_ps, ln_qs = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    if not guessing:
        return ln_ps, ln_qs, ps, ps, qs, np.ones_like(ps)
    c = c[:, None]
    p = c + (1.0 - c) * ps
    ln_p = np.logaddexp(np.log(c), np.log1p(-c) + ln_ps)
    ln_q = np.log1p(-c) + ln_qs
    return ln_p, ln_q, p, ps, qs, ps / p


@dataclass(frozen=True, eq=False)
class _Expected:
    """What an M-step maximises: expected correct (``r``) and expected responses (``n``) per item
    and node from the E-step, plus the priors."""

    nodes: FloatArray
    r: FloatArray
    n: FloatArray
    guessing: bool
    log_a_prior: tuple[float, float] | None
    c_prior: tuple[float, float]

    def log_prior(self, eta: FloatArray, slope_prior: bool = True) -> FloatArray:
        out = np.zeros(eta.shape[0])
        if slope_prior and self.log_a_prior is not None:
            mu, sd = self.log_a_prior
            out -= 0.5 * ((eta[:, _ALPHA] - mu) / sd) ** 2
        if self.guessing:
            c = expit(eta[:, _GAMMA])
            out += (self.c_prior[0] - 1.0) * np.log(c) + (self.c_prior[1] - 1.0) * np.log1p(-c)
        return out

    def objective(self, eta: FloatArray, slope_prior: bool = True) -> FloatArray:
        """Each item's expected complete-data log-likelihood plus its log priors."""
        ln_p, ln_q = _curves(eta, self.nodes, self.guessing)[:2]
        fit = (self.r * ln_p + (self.n - self.r) * ln_q).sum(axis=1)
        return np.asarray(fit + self.log_prior(eta, slope_prior), dtype=np.float64)

    def gradient_information(
        self, eta: FloatArray, slope_prior: bool = True
    ) -> tuple[FloatArray, FloatArray]:
        """Per item: gradient (items × 3) and expected information (items × 3 × 3) in η."""
        _, _, p, ps, qs, ratio = _curves(eta, self.nodes, self.guessing)
        a, _, c_flat = _abc(eta)
        c = c_flat[:, None]
        ax = a[:, None] * self.nodes[None, :]
        resid = self.r - self.n * p
        # ∂P/∂α = w·aX, ∂P/∂d = w, ∂P/∂γ = c(1 − c)Q*, with w = (1 − c)P*Q*; divided by PQ.
        w_zz = self.n * ratio * (1.0 - c) * ps * qs
        w_zg = self.n * c * (1.0 - c) * qs * ratio
        grad = np.stack(
            [(resid * ratio * ax).sum(1), (resid * ratio).sum(1), (resid * c / p).sum(1)], axis=1
        )
        info = np.empty((eta.shape[0], 3, 3))
        info[:, 0, 0] = (w_zz * ax * ax).sum(1)
        info[:, 0, 1] = info[:, 1, 0] = (w_zz * ax).sum(1)
        info[:, 1, 1] = w_zz.sum(1)
        info[:, 0, 2] = info[:, 2, 0] = (w_zg * ax).sum(1)
        info[:, 1, 2] = info[:, 2, 1] = w_zg.sum(1)
        info[:, 2, 2] = (self.n * c * c * (1.0 - c) * qs / p).sum(1)
        if slope_prior and self.log_a_prior is not None:
            mu, sd = self.log_a_prior
            grad[:, _ALPHA] -= (eta[:, _ALPHA] - mu) / sd**2
            info[:, _ALPHA, _ALPHA] += 1.0 / sd**2
        if self.guessing:
            alpha_c, beta_c = self.c_prior
            grad[:, _GAMMA] += (alpha_c - 1.0) * (1.0 - c_flat) - (beta_c - 1.0) * c_flat
            info[:, _GAMMA, _GAMMA] += (alpha_c + beta_c - 2.0) * c_flat * (1.0 - c_flat)
        return grad, info


def _m_step(eta: FloatArray, expected: _Expected, model: _Model, steps: int = 3) -> FloatArray:
    """Fisher scoring on the free columns with step halving: no item's objective ever falls."""
    free = list(model.free)
    for _ in range(steps):
        grad, info = expected.gradient_information(eta)
        g = grad[:, free]
        h = info[:, free][:, :, free]
        step = np.clip(np.linalg.solve(h, g[..., None])[..., 0], -2.0, 2.0)
        before = expected.objective(eta)
        scale = np.ones(eta.shape[0])
        for _ in range(12):
            trial = eta.copy()
            trial[:, free] += scale[:, None] * step
            worse = expected.objective(trial) < before - 1e-12
            if not worse.any():
                break
            scale = np.where(worse, scale / 2.0, scale)
        else:
            trial[worse] = eta[worse]  # still no better after 12 halvings: keep those items
        eta = trial
        if model.common_slope:
            eta = _common_slope_step(eta, expected)
        if np.max(np.abs(scale[:, None] * step)) < 1e-8:
            break
    return eta


def _common_slope_step(eta: FloatArray, expected: _Expected) -> FloatArray:
    """One step-halved scoring step on the 1PL's shared ``ln a`` (its prior counted once)."""
    grad, info = expected.gradient_information(eta, slope_prior=False)
    g, h = float(grad[:, _ALPHA].sum()), float(info[:, _ALPHA, _ALPHA].sum())
    alpha = float(eta[0, _ALPHA])

    def total(value: float) -> float:
        trial = eta.copy()
        trial[:, _ALPHA] = value
        prior = 0.0
        if expected.log_a_prior is not None:
            mu, sd = expected.log_a_prior
            prior = -0.5 * ((value - mu) / sd) ** 2
        return float(expected.objective(trial, slope_prior=False).sum()) + prior

    if expected.log_a_prior is not None:
        mu, sd = expected.log_a_prior
        g -= (alpha - mu) / sd**2
        h += 1.0 / sd**2
    before = total(alpha)
    step = max(-1.0, min(1.0, g / h))
    for _ in range(12):
        if total(alpha + step) >= before - 1e-12:
            out = eta.copy()
            out[:, _ALPHA] = alpha + step
            return out
        step /= 2.0
    return eta


def calibrate(
    responses: npt.ArrayLike,
    model: CalibrationModel = "2pl",
    *,
    item_ids: Sequence[str] | None = None,
    quadrature_points: int = 41,
    quadrature_bound: float = 5.0,
    max_cycles: int = 500,
    tol: float = 1e-4,
    ll_tol: float = 1e-7,
    min_responses: int = 10,
    c_prior: tuple[float, float] = (6.0, 16.0),
    log_a_prior: tuple[float, float] | None = None,
) -> Calibration:
    """Calibrate item parameters from responses (1, 0, NaN = not administered).

    Args:
        responses: persons × items matrix.
        model: ``"rasch"`` (a ≡ 1), ``"1pl"`` (one common a), ``"2pl"`` or ``"3pl"``.
        item_ids: ids of the columns (default ``"0"``, ``"1"``, …).
        quadrature_points, quadrature_bound: equally spaced nodes on ``[−bound, bound]``.
        max_cycles, tol, ll_tol: convergence settings (see the module docstring).
        min_responses: columns with fewer responses are skipped (listed in ``skipped``).
        c_prior: Beta prior on the 3PL lower asymptote.
        log_a_prior: optional ``(mean, sd)`` of a normal prior on ``ln a``.

    Raises:
        InvalidResponses: values other than 0, 1 and NaN; no item with enough responses.
        ShapeMismatch: not a matrix, or ``item_ids`` of the wrong length.
        InvalidConfiguration: an unknown model or unusable settings.
    """
    if model not in ("rasch", "1pl", "2pl", "3pl"):
        raise InvalidConfiguration(f"model must be rasch, 1pl, 2pl or 3pl, got {model!r}")
    if quadrature_points < 5 or not quadrature_bound > 0 or max_cycles < 1 or min_responses < 1:
        raise InvalidConfiguration(
            "need quadrature_points >= 5, quadrature_bound > 0, "
            "max_cycles >= 1 and min_responses >= 1"
        )
    if not (c_prior[0] >= 1 and c_prior[1] >= 1):
        raise InvalidConfiguration(f"c_prior must be Beta(α, β) with α, β >= 1, got {c_prior}")
    if log_a_prior is not None and not log_a_prior[1] > 0:
        raise InvalidConfiguration(f"log_a_prior sd must be > 0, got {log_a_prior}")
    x_all = response_matrix(responses)
    ids = (
        tuple(str(i) for i in item_ids)
        if item_ids is not None
        else tuple(str(j) for j in range(x_all.shape[1]))
    )
    if len(ids) != x_all.shape[1]:
        raise ShapeMismatch(f"{len(ids)} item ids for {x_all.shape[1]} response columns")
    observed_all = ~np.isnan(x_all)
    counts = observed_all.sum(axis=0)
    keep = counts >= min_responses
    if not keep.any():
        raise InvalidResponses(f"no item has at least {min_responses} responses")
    x = x_all[:, keep]
    obs = observed_all[:, keep].astype(np.float64)
    xf = np.where(obs > 0, x, 0.0)
    wrong = obs - xf
    persons = obs.sum(axis=1) > 0
    xf_p, obs_p, wrong_p = xf[persons], obs[persons], wrong[persons]

    spec = _MODELS[model]
    nodes = np.linspace(-quadrature_bound, quadrature_bound, quadrature_points)
    log_w = -0.5 * nodes**2
    log_w -= np.logaddexp.reduce(log_w)
    eta = _start_values(xf_p, obs_p, spec, c_prior)

    def e_step(eta: FloatArray) -> tuple[FloatArray, float]:
        ln_p, ln_q = _curves(eta, nodes, spec.guessing)[:2]
        ll = xf_p @ ln_p + wrong_p @ ln_q + log_w
        top = ll.max(axis=1, keepdims=True)
        post = np.exp(ll - top)
        total = post.sum(axis=1, keepdims=True)
        post /= total
        return post, float((top[:, 0] + np.log(total[:, 0])).sum())

    converged = False
    previous = -math.inf
    change = math.inf
    max_change = math.inf
    cycles = 0
    for cycles in range(1, max_cycles + 1):  # noqa: B007 (cycles is reported)
        post, loglik = e_step(eta)
        expected = _Expected(
            nodes, xf_p.T @ post, obs_p.T @ post, spec.guessing, log_a_prior, c_prior
        )
        penalised = (
            loglik
            + float(expected.log_prior(eta, slope_prior=not spec.common_slope).sum())
            + _shared_slope_prior(eta, spec, log_a_prior)
        )
        change = penalised - previous
        old = np.concatenate(_abc(eta))
        eta = _m_step(eta, expected, spec)
        max_change = float(np.max(np.abs(np.concatenate(_abc(eta)) - old)))
        if max_change < tol and abs(change) < ll_tol * abs(penalised):
            converged = True
            break
        previous = penalised

    post, loglik = e_step(eta)
    se_a, se_b, se_c = _standard_errors(
        eta, model, nodes, post, xf_p, wrong_p, log_a_prior, c_prior
    )
    theta = np.zeros(x.shape[0])
    theta_se = np.ones(x.shape[0])
    mean = post @ nodes
    theta[persons] = mean
    theta_se[persons] = np.sqrt(np.maximum(post @ nodes**2 - mean**2, 0.0))
    a, b, c = _abc(eta)
    return Calibration(
        model=model,
        item_ids=tuple(i for i, k in zip(ids, keep, strict=True) if k),
        a=a,
        b=b,
        c=c,
        se_a=se_a,
        se_b=se_b,
        se_c=se_c,
        n_responses=counts[keep].astype(np.int64),
        skipped=tuple(i for i, k in zip(ids, keep, strict=True) if not k),
        iterations=cycles,
        converged=converged,
        log_likelihood=loglik,
        log_likelihood_change=float(change),
        max_parameter_change=max_change,
        theta=theta,
        theta_se=theta_se,
    )


def _shared_slope_prior(
    eta: FloatArray, spec: _Model, log_a_prior: tuple[float, float] | None
) -> float:
    """The 1PL's slope prior, counted once (per-item priors cover the other models)."""
    if not spec.common_slope or log_a_prior is None:
        return 0.0
    mu, sd = log_a_prior
    return -0.5 * ((float(eta[0, _ALPHA]) - mu) / sd) ** 2


def _start_values(
    xf: FloatArray, obs: FloatArray, spec: _Model, c_prior: tuple[float, float]
) -> FloatArray:
    p = np.clip(xf.sum(axis=0) / np.maximum(obs.sum(axis=0), 1.0), 0.02, 0.98)
    eta = np.zeros((p.size, 3))
    eta[:, _GAMMA] = -np.inf
    if spec.guessing:
        c0 = (c_prior[0] - 1.0) / (c_prior[0] + c_prior[1] - 2.0)
        p = np.clip((p - c0) / (1.0 - c0), 0.05, 0.95)
        eta[:, _GAMMA] = math.log(c0 / (1.0 - c0))
    eta[:, _D] = np.log(p / (1.0 - p)) * 1.3
    return eta


def _standard_errors(
    eta: FloatArray,
    model: CalibrationModel,
    nodes: FloatArray,
    post: FloatArray,
    xf: FloatArray,
    wrong: FloatArray,
    log_a_prior: tuple[float, float] | None,
    c_prior: tuple[float, float],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cross-product information of the person scores, inverted; delta method to a, b, c."""
    spec = _MODELS[model]
    _, _, p, ps, qs, ratio = _curves(eta, nodes, spec.guessing)
    a, b, c = _abc(eta)
    items = a.size
    ax = a[:, None] * nodes[None, :]
    g1_z = (1.0 - c[:, None]) * qs * ratio  # ∂ ln P / ∂z
    g0_z = -ps  # ∂ ln Q / ∂z
    # Each person's score for each free parameter (Fisher's identity: posterior-weighted).
    scores: dict[int, FloatArray] = {
        _ALPHA: xf * (post @ (g1_z * ax).T) + wrong * (post @ (g0_z * ax).T),
        _D: xf * (post @ g1_z.T) + wrong * (post @ g0_z.T),
    }
    if spec.guessing:
        g1_g = c[:, None] * (1.0 - c[:, None]) * qs / p
        scores[_GAMMA] = xf * (post @ g1_g.T) - wrong * c[None, :]
    columns = list(spec.free)
    if spec.common_slope:
        columns = [_ALPHA, *columns]
        scores[_ALPHA] = scores[_ALPHA].sum(axis=1, keepdims=True)
    stacked = np.concatenate([scores[k] for k in columns], axis=1)
    info = stacked.T @ stacked
    # Prior curvature: the priors are part of the penalised likelihood that was maximised.
    offset = 0
    for k in columns:
        width = scores[k].shape[1]
        diag = np.arange(offset, offset + width)
        if k == _ALPHA and log_a_prior is not None:
            info[diag, diag] += 1.0 / log_a_prior[1] ** 2
        if k == _GAMMA:
            info[diag, diag] += (c_prior[0] + c_prior[1] - 2.0) * c * (1.0 - c)
        offset += width
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(info)
    var = np.maximum(np.diag(cov), 0.0)
    start = {k: sum(scores[j].shape[1] for j in columns[: columns.index(k)]) for k in columns}
    zeros = np.zeros(items)
    d_at = start[_D] + np.arange(items)
    var_d = var[d_at]
    if _ALPHA in start:
        alpha_at = start[_ALPHA] + (
            np.zeros(items, dtype=np.int64) if spec.common_slope else np.arange(items)
        )
        var_alpha, cov_ad = var[alpha_at], cov[alpha_at, d_at]
    else:
        var_alpha = cov_ad = zeros
    # b = −d e^{−α}: ∂b/∂α = −b, ∂b/∂d = −1/a.
    var_b = b**2 * var_alpha + var_d / a**2 + 2.0 * b / a * cov_ad
    se_c = (
        c * (1.0 - c) * np.sqrt(var[start[_GAMMA] + np.arange(items)]) if spec.guessing else zeros
    )
    return a * np.sqrt(var_alpha), np.sqrt(np.maximum(var_b, 0.0)), se_c
