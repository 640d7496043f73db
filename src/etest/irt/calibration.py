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


@dataclass
class _Params:
    alpha: FloatArray  # ln a
    d: FloatArray
    gamma: FloatArray | None  # logit c (3PL only)

    def slopes(self) -> FloatArray:
        return np.asarray(np.exp(self.alpha), dtype=np.float64)

    def guessing(self) -> FloatArray:
        if self.gamma is None:
            return np.zeros_like(self.d)
        return np.asarray(expit(self.gamma), dtype=np.float64)

    def abc(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        a = self.slopes()
        return a, -self.d / a, self.guessing()


def _curves(
    params: _Params, nodes: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per item and node: ``ln P, ln Q, P, P*, Q*`` and ``ratio = P*/P`` (items × nodes)."""
    a = params.slopes()[:, None]
    c = params.guessing()[:, None]
    z = a * nodes[None, :] + params.d[:, None]
    ps, qs = expit(z), expit(-z)
    ln_ps, ln_qs = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    if params.gamma is None:
        return ln_ps, ln_qs, ps, ps, qs, np.ones_like(ps)
    p = c + (1.0 - c) * ps
    ln_p = np.logaddexp(np.log(c), np.log1p(-c) + ln_ps)
    ln_q = np.log1p(-c) + ln_qs
    return ln_p, ln_q, p, ps, qs, ps / p


def _log_prior(
    params: _Params, log_a_prior: tuple[float, float] | None, c_prior: tuple[float, float]
) -> FloatArray:
    out = np.zeros_like(params.d)
    if log_a_prior is not None:
        mu, sd = log_a_prior
        out = out - 0.5 * ((params.alpha - mu) / sd) ** 2
    if params.gamma is not None:
        c = params.guessing()
        out = out + (c_prior[0] - 1.0) * np.log(c) + (c_prior[1] - 1.0) * np.log1p(-c)
    return out


def _objective(
    params: _Params,
    nodes: FloatArray,
    r: FloatArray,
    n: FloatArray,
    log_a_prior: tuple[float, float] | None,
    c_prior: tuple[float, float],
) -> FloatArray:
    ln_p, ln_q = _curves(params, nodes)[:2]
    return np.asarray(
        (r * ln_p + (n - r) * ln_q).sum(axis=1) + _log_prior(params, log_a_prior, c_prior),
        dtype=np.float64,
    )


def _gradient_information(
    params: _Params,
    nodes: FloatArray,
    r: FloatArray,
    n: FloatArray,
    log_a_prior: tuple[float, float] | None,
    c_prior: tuple[float, float],
) -> tuple[FloatArray, FloatArray]:
    """Per item: gradient (items × k) and expected information (items × k × k) in η."""
    _, _, p, ps, qs, ratio = _curves(params, nodes)
    a = params.slopes()[:, None]
    c = params.guessing()[:, None]
    ax = a * nodes[None, :]
    resid = r - n * p
    w_zz = n * ratio * (1.0 - c) * ps * qs
    blocks_g = [(resid * ratio * ax).sum(1), (resid * ratio).sum(1)]
    info = [[(w_zz * ax * ax).sum(1), (w_zz * ax).sum(1)], [None, w_zz.sum(1)]]
    if params.gamma is not None:
        blocks_g.append((resid * c / p).sum(1))
        w_zg = n * c * (1.0 - c) * qs * ratio
        info[0].append((w_zg * ax).sum(1))
        info[1].append(w_zg.sum(1))
        info.append([None, None, (n * c * c * (1.0 - c) * qs / p).sum(1)])
    k = len(blocks_g)
    grad = np.stack(blocks_g, axis=1)
    hess = np.zeros((grad.shape[0], k, k))
    for i in range(k):
        for j in range(i, k):
            value = info[i][j]
            assert value is not None
            hess[:, i, j] = hess[:, j, i] = value
    if log_a_prior is not None:
        mu, sd = log_a_prior
        grad[:, 0] -= (params.alpha - mu) / sd**2
        hess[:, 0, 0] += 1.0 / sd**2
    if params.gamma is not None:
        cc = params.guessing()
        grad[:, 2] += (c_prior[0] - 1.0) * (1.0 - cc) - (c_prior[1] - 1.0) * cc
        hess[:, 2, 2] += (c_prior[0] + c_prior[1] - 2.0) * cc * (1.0 - cc)
    return grad, hess


def _with(params: _Params, eta: FloatArray, rows: npt.NDArray[np.bool_] | None = None) -> _Params:
    """Parameters with η replaced (for ``rows`` only, if given)."""
    alpha, d = params.alpha.copy(), params.d.copy()
    gamma = None if params.gamma is None else params.gamma.copy()
    sel = slice(None) if rows is None else rows
    alpha[sel] = eta[sel, 0] if eta.shape[1] > 1 else alpha[sel]
    d[sel] = eta[sel, 1] if eta.shape[1] > 1 else eta[sel, 0]
    if gamma is not None:
        gamma[sel] = eta[sel, 2]
    return _Params(alpha, d, gamma)


def _m_step(
    params: _Params,
    model: CalibrationModel,
    nodes: FloatArray,
    r: FloatArray,
    n: FloatArray,
    log_a_prior: tuple[float, float] | None,
    c_prior: tuple[float, float],
    newton_steps: int = 3,
) -> _Params:
    """Fisher scoring with step halving; never lowers any item's penalised objective."""
    for _ in range(newton_steps):
        grad, hess = _gradient_information(params, nodes, r, n, log_a_prior, c_prior)
        if model in ("rasch", "1pl"):
            # Intercepts per item with the slope held; the 1PL slope is updated jointly below.
            grad, hess = grad[:, 1:2], hess[:, 1:2, 1:2]
            eta = params.d[:, None]
        else:
            eta = np.stack(
                [params.alpha, params.d] + ([params.gamma] if params.gamma is not None else []),
                axis=1,
            )
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        step = np.clip(step, -2.0, 2.0)
        before = _objective(params, nodes, r, n, log_a_prior, c_prior)
        scale = np.ones(eta.shape[0])
        trial = params
        for _ in range(12):
            new_eta = eta + scale[:, None] * step
            trial = (
                _Params(params.alpha, new_eta[:, 0], params.gamma)
                if eta.shape[1] == 1
                else _with(params, new_eta)
            )
            worse = _objective(trial, nodes, r, n, log_a_prior, c_prior) < before - 1e-12
            if not worse.any():
                break
            scale = np.where(worse, scale / 2.0, scale)
        else:
            keep_old = _objective(trial, nodes, r, n, log_a_prior, c_prior) < before - 1e-12
            trial = _with(
                trial,
                np.stack(
                    [params.alpha, params.d] + ([params.gamma] if params.gamma is not None else []),
                    axis=1,
                ),
                keep_old,
            )
        params = trial
        if model == "1pl":
            params = _common_slope_step(params, nodes, r, n, log_a_prior, c_prior)
        if np.max(np.abs(scale[:, None] * step)) < 1e-8:
            break
    return params


def _common_slope_step(
    params: _Params,
    nodes: FloatArray,
    r: FloatArray,
    n: FloatArray,
    log_a_prior: tuple[float, float] | None,
    c_prior: tuple[float, float],
) -> _Params:
    grad, hess = _gradient_information(params, nodes, r, n, None, c_prior)
    g, h = float(grad[:, 0].sum()), float(hess[:, 0, 0].sum())
    alpha0 = float(params.alpha[0])
    if log_a_prior is not None:
        mu, sd = log_a_prior
        g -= (alpha0 - mu) / sd**2
        h += 1.0 / sd**2
    before = float(_objective(params, nodes, r, n, None, c_prior).sum())
    step = max(-1.0, min(1.0, g / h))
    for _ in range(12):
        trial = _Params(np.full_like(params.alpha, alpha0 + step), params.d, params.gamma)
        if float(_objective(trial, nodes, r, n, None, c_prior).sum()) >= before - 1e-12:
            return trial
        step /= 2.0
    return params


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

    nodes = np.linspace(-quadrature_bound, quadrature_bound, quadrature_points)
    log_w = -0.5 * nodes**2
    log_w -= np.logaddexp.reduce(log_w)
    params = _start_values(xf_p, obs_p, model, c_prior)

    def e_step(p: _Params) -> tuple[FloatArray, float]:
        ln_p, ln_q = _curves(p, nodes)[:2]
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
        post, loglik = e_step(params)
        penalised = loglik + float(_log_prior(params, log_a_prior, c_prior).sum())
        change = penalised - previous
        r = xf_p.T @ post
        n = obs_p.T @ post
        old = np.concatenate(params.abc())
        params = _m_step(params, model, nodes, r, n, log_a_prior, c_prior)
        max_change = float(np.max(np.abs(np.concatenate(params.abc()) - old)))
        if max_change < tol and abs(change) < ll_tol * abs(penalised):
            converged = True
            break
        previous = penalised

    post, loglik = e_step(params)
    se_a, se_b, se_c = _standard_errors(
        params, model, nodes, post, xf_p, wrong_p, log_a_prior, c_prior
    )
    theta = np.zeros(x.shape[0])
    theta_se = np.ones(x.shape[0])
    mean = post @ nodes
    theta[persons] = mean
    theta_se[persons] = np.sqrt(np.maximum(post @ nodes**2 - mean**2, 0.0))
    a, b, c = params.abc()
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


def _start_values(
    xf: FloatArray, obs: FloatArray, model: CalibrationModel, c_prior: tuple[float, float]
) -> _Params:
    p = np.clip(xf.sum(axis=0) / np.maximum(obs.sum(axis=0), 1.0), 0.02, 0.98)
    items = p.size
    if model == "3pl":
        c0 = (c_prior[0] - 1.0) / (c_prior[0] + c_prior[1] - 2.0)
        star = np.clip((p - c0) / (1.0 - c0), 0.05, 0.95)
        d = np.log(star / (1.0 - star)) * 1.3
        return _Params(np.zeros(items), d, np.full(items, math.log(c0 / (1.0 - c0))))
    return _Params(np.zeros(items), np.log(p / (1.0 - p)) * 1.3, None)


def _standard_errors(
    params: _Params,
    model: CalibrationModel,
    nodes: FloatArray,
    post: FloatArray,
    xf: FloatArray,
    wrong: FloatArray,
    log_a_prior: tuple[float, float] | None,
    c_prior: tuple[float, float],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cross-product information of the person scores, inverted; delta method to a, b, c."""
    _, _, p, ps, qs, ratio = _curves(params, nodes)
    a = params.slopes()
    c = params.guessing()
    items = a.size
    ax = a[:, None] * nodes[None, :]
    g1_z = (1.0 - c[:, None]) * qs * ratio  # ∂ ln P / ∂z
    g0_z = -ps  # ∂ ln Q / ∂z
    blocks = {
        "alpha": xf * (post @ (g1_z * ax).T) + wrong * (post @ (g0_z * ax).T),
        "d": xf * (post @ g1_z.T) + wrong * (post @ g0_z.T),
    }
    if params.gamma is not None:
        g1_g = c[:, None] * (1.0 - c[:, None]) * qs / p
        blocks["gamma"] = xf * (post @ g1_g.T) - wrong * c[None, :]
    names = (
        ["d"] if model == "rasch" else ["alpha", "d"] if model != "3pl" else ["alpha", "d", "gamma"]
    )
    columns = []
    for name in names:
        s = blocks[name]
        columns.append(s.sum(axis=1, keepdims=True) if name == "alpha" and model == "1pl" else s)
    scores = np.concatenate(columns, axis=1)
    info = scores.T @ scores
    # Prior curvature (the priors are part of the penalised likelihood being maximised).
    offset = 0
    for name in names:
        width = 1 if name == "alpha" and model == "1pl" else items
        diag = np.arange(offset, offset + width)
        if name == "alpha" and log_a_prior is not None:
            info[diag, diag] += 1.0 / log_a_prior[1] ** 2
        if name == "gamma":
            info[diag, diag] += (c_prior[0] + c_prior[1] - 2.0) * c * (1.0 - c)
        offset += width
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(info)
    var = np.maximum(np.diag(cov), 0.0)
    zeros = np.zeros(items)
    if model == "rasch":
        var_d = var[:items]
        return zeros, np.sqrt(var_d), zeros
    if model == "1pl":
        var_alpha = np.full(items, var[0])
        var_d = var[1:]
        cov_ad = cov[0, 1:]
    else:
        var_alpha, var_d = var[:items], var[items : 2 * items]
        cov_ad = cov[np.arange(items), np.arange(items, 2 * items)]
    b = -params.d / a
    se_a = a * np.sqrt(var_alpha)
    # b = −d e^{−α}: ∂b/∂α = −b, ∂b/∂d = −1/a.
    var_b = b**2 * var_alpha + var_d / a**2 + 2.0 * b / a * cov_ad
    se_b = np.sqrt(np.maximum(var_b, 0.0))
    se_c = zeros if params.gamma is None else c * (1.0 - c) * np.sqrt(var[2 * items : 3 * items])
    return se_a, se_b, se_c
