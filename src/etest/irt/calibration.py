"""Item calibration by marginal maximum likelihood: Bock–Aitkin EM on a quadrature grid.

:func:`calibrate` takes a persons × items response matrix with NaN for items a person was not
given (adaptive data leave most cells empty; unseen items contribute nothing, which is ignorable
because the engine's choices depend only on observed responses — Mislevy & Wu 1996) and estimates
Rasch, 1PL (one common slope), 2PL or 3PL parameters — one model for every column, or a model per
column (``models=``) mixed in one run. θ ~ N(0, 1) fixes the scale, unless items are anchored.

* **E-step** (Bock & Aitkin 1981): each person's posterior over ``quadrature_points`` equally
  spaced nodes, computed with matrix products on the observed-cell mask; expected correct and
  expected responses per item and node.
* **M-step**: per item, in slope–intercept form ``P = c + (1 − c) σ(a θ + d)`` over
  ``η = (ln a, d, logit c)``, Fisher scoring with analytic gradients and expected information
  (plus prior curvature), step-halved so the penalised likelihood never falls. Items are scored
  in groups of one model; the 1PL columns share one slope, which takes its own scoring step after
  their intercepts.
* **Priors**: the 3PL columns (and only they) put ``c ~ Beta(6, 16)`` (mode 0.25, four options;
  Swaminathan & Gifford 1986) on ``c``; an optional normal prior on ``ln a``
  (``log_a_prior=(mean, sd)``) tames slopes. Priors are densities on ``ln a`` and ``c`` themselves
  (no Jacobian), so the estimates are modes.
* **Anchoring** (``fixed={id: (a, b, c)}``): anchored items keep the given parameters and take
  part in every E-step; since they carry the bank's scale, the ability distribution is no longer
  fixed at N(0, 1): its mean and SD are re-estimated after every M-step from the posterior moments
  (fixed-parameter calibration with the prior updated every cycle, Kim 2006), so the free items'
  estimates land on the anchors' scale.
* **Items without variance** (among those who answered, all right or all wrong) have no finite
  maximum-likelihood estimate: they are left out and listed in ``Calibration.excluded`` with the
  reason (``"all_correct"`` / ``"all_wrong"``) instead of drifting to b = −200 (anchored items are
  kept: they are not estimated).
* **Convergence**: largest change of any ``a``, ``b`` or ``c`` (and of the population mean and SD
  when estimated) below ``tol`` and relative change of the penalised log-likelihood below
  ``ll_tol``, else ``converged=False`` after ``max_cycles``.
* **Standard errors**: the empirical cross-product information (sum over persons of the outer
  products of their score vectors, Fisher's identity), inverted as a whole and carried to ``a``,
  ``b`` and ``c`` by the delta method; the population's mean and ln SD are part of it when they
  are estimated. Fixed parameters (Rasch ``a``, 1/2PL ``c``, anchored items) get SE 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, cast

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from etest.irt._types import BoolArray, FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.errors import EmptyBank, InvalidConfiguration, InvalidResponses, ShapeMismatch

__all__ = ["Calibration", "CalibrationModel", "calibrate", "response_matrix"]

CalibrationModel: TypeAlias = Literal["rasch", "1pl", "2pl", "3pl"]


@dataclass(frozen=True, eq=False)
class Calibration:
    """Estimated item parameters with standard errors and convergence information.

    Attributes:
        model: the default model of the run (``calibrate``'s ``model``).
        item_ids: ids of the calibrated items: free columns with at least ``min_responses`` and
            both right and wrong answers, and anchored columns with any response.
        a, b, c: parameters (logistic metric, slope–difficulty form).
        se_a, se_b, se_c: standard errors (0 for parameters the model fixes and anchored items).
        n_responses: responses per calibrated item.
        skipped: ids of items left out for having fewer than ``min_responses`` responses.
        iterations: EM cycles run.
        converged: the convergence criteria were met before ``max_cycles``.
        log_likelihood: final marginal log-likelihood (without priors).
        log_likelihood_change: change of the penalised log-likelihood in the last cycle.
        max_parameter_change: largest change of any ``a``, ``b`` or ``c`` in the last cycle.
        theta, theta_se: each person's EAP ability and posterior SD under the final parameters.
        models: the model of each calibrated item.
        anchored: per calibrated item, whether it was held at its ``fixed`` values.
        excluded: ids of items left out for having no variance, with the reason
            (``"all_correct"`` or ``"all_wrong"``).
        population_mean, population_sd: the ability distribution (0 and 1 unless items were
            anchored, when they are estimated on the anchors' scale).
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
    models: tuple[CalibrationModel, ...] = ()
    anchored: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    excluded: dict[str, str] = field(default_factory=dict)
    population_mean: float = 0.0
    population_sd: float = 1.0

    def to_bank(self, skills: Sequence[str] | None = None) -> ItemBank:
        """The calibrated items as an :class:`ItemBank` (``skills`` aligned with ``item_ids``)."""
        return ItemBank.from_arrays(self.item_ids, self.a, self.b, self.c, 1.0, skills=skills)

    def parameters(self) -> dict[str, tuple[float, float, float]]:
        """``{item id: (a, b, c)}`` of the calibrated items (the shape ``fixed`` takes)."""
        return {
            i: (float(a), float(b), float(c))
            for i, a, b, c in zip(self.item_ids, self.a, self.b, self.c, strict=True)
        }


def numeric_matrix(responses: npt.ArrayLike) -> FloatArray:
    """A non-empty persons × items float64 matrix (NaN: not administered); the values are for
    the caller to check (0/1 here, scores 0..k in ``calibration_polytomous``)."""
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
    return x


def response_matrix(responses: npt.ArrayLike) -> FloatArray:
    """Validate a persons × items matrix of 1, 0 and NaN (not administered); return float64."""
    x = numeric_matrix(responses)
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
    with np.errstate(divide="ignore"):  # c = 0 (an item without guessing): ln c = −∞
        ln_p = np.logaddexp(np.log(c), np.log1p(-c) + ln_ps)
    ln_q = np.log1p(-c) + ln_qs
    return ln_p, ln_q, p, ps, qs, np.divide(ps, p, out=np.ones_like(ps), where=p > 0)


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


_MODEL_NAMES = ("rasch", "1pl", "2pl", "3pl")


@dataclass(frozen=True, eq=False)
class _Design:
    """What :func:`calibrate` works on after validation: the kept columns and their roles."""

    x: FloatArray  # persons × kept items, NaN not administered
    ids: tuple[str, ...]  # ids of the input columns
    keep: BoolArray  # input columns calibrated (free or anchored)
    models: tuple[CalibrationModel, ...]  # per kept column
    anchored: BoolArray  # per kept column
    anchor_eta: FloatArray  # kept × 3, η of the anchored columns (rows of free ones unused)
    counts: IntArray  # responses per input column
    skipped: tuple[str, ...]
    excluded: dict[str, str]


def _design(
    responses: npt.ArrayLike,
    model: CalibrationModel,
    models: Sequence[str] | None,
    fixed: Mapping[str, tuple[float, float, float]] | None,
    item_ids: Sequence[str] | None,
    min_responses: int,
) -> _Design:
    x_all = response_matrix(responses)
    width = x_all.shape[1]
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else tuple(map(str, range(width)))
    if len(ids) != width:
        raise ShapeMismatch(f"{len(ids)} item ids for {width} response columns")
    per_column = _column_models(model, models, ids)
    anchors = _anchors(fixed or {}, ids)
    observed = ~np.isnan(x_all)
    counts = observed.sum(axis=0).astype(np.int64)
    right = np.where(observed, x_all, 0.0).sum(axis=0)
    is_anchor = np.array([i in anchors for i in ids], dtype=bool)
    enough = counts >= min_responses
    flat = enough & ((right == 0) | (right == counts)) & ~is_anchor
    keep = (enough & ~flat) | (is_anchor & (counts > 0))
    if not keep.any():
        raise InvalidResponses(
            f"no item has at least {min_responses} responses with both right and wrong answers"
        )
    excluded = {
        ids[j]: ("all_correct" if right[j] == counts[j] else "all_wrong")
        for j in np.flatnonzero(flat)
    }
    anchor_eta = np.zeros((int(keep.sum()), 3))
    anchor_eta[:, _GAMMA] = -np.inf
    for row, column in enumerate(np.flatnonzero(keep).tolist()):
        anchor_eta[row] = anchors.get(ids[column], anchor_eta[row])
    return _Design(
        x=x_all[:, keep],
        ids=ids,
        keep=keep,
        models=tuple(cast(CalibrationModel, per_column[j]) for j in np.flatnonzero(keep)),
        anchored=is_anchor[keep],
        anchor_eta=anchor_eta,
        counts=counts,
        skipped=tuple(ids[j] for j in np.flatnonzero(~keep & ~flat)),
        excluded=excluded,
    )


def _column_models(
    model: CalibrationModel, models: Sequence[str] | None, ids: tuple[str, ...]
) -> list[str]:
    per_column = [str(model)] * len(ids) if models is None else [str(m) for m in models]
    if len(per_column) != len(ids):
        raise ShapeMismatch(f"{len(per_column)} models for {len(ids)} response columns")
    for j, m in enumerate(per_column):
        if m not in _MODEL_NAMES:
            raise InvalidConfiguration(
                f"model of item {ids[j]!r} must be {_MODEL_NAMES}, got {m!r}"
            )
    return per_column


def _anchors(
    fixed: Mapping[str, tuple[float, float, float]], ids: tuple[str, ...]
) -> dict[str, FloatArray]:
    """η = (ln a, −a b, logit c) of each anchored item among the columns (others are ignored)."""
    out: dict[str, FloatArray] = {}
    columns = set(ids)
    for item, params in fixed.items():
        if str(item) not in columns:
            continue
        try:
            a, b, c = (float(v) for v in params)
        except (TypeError, ValueError):
            raise InvalidConfiguration(
                f"fixed[{item!r}] must be (a, b, c), got {params!r}"
            ) from None
        if not (math.isfinite(a) and math.isfinite(b) and a > 0 and 0.0 <= c < 1.0):
            raise InvalidConfiguration(
                f"fixed[{item!r}] = {params!r}: need finite a > 0, finite b and 0 <= c < 1"
            )
        gamma = -math.inf if c == 0.0 else math.log(c / (1.0 - c))
        out[str(item)] = np.array([math.log(a), -a * b, gamma])
    return out


def calibrate(
    responses: npt.ArrayLike,
    model: CalibrationModel = "2pl",
    *,
    models: Sequence[str] | None = None,
    fixed: Mapping[str, tuple[float, float, float]] | None = None,
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
        model: ``"rasch"`` (a ≡ 1), ``"1pl"`` (one common a), ``"2pl"`` or ``"3pl"``: the model
            of every column unless ``models`` says otherwise.
        models: one model per column (mixed in one run). The ``"1pl"`` columns share one slope;
            ``c_prior`` applies to the ``"3pl"`` columns only.
        fixed: anchored items, ``{item id: (a, b, c)}``: held at these values (not estimated), so
            the free items land on their scale; the ability distribution's mean and SD are then
            estimated. Ids that are not among the columns are ignored.
        item_ids: ids of the columns (default ``"0"``, ``"1"``, …).
        quadrature_points, quadrature_bound: equally spaced nodes on ``[−bound, bound]``.
        max_cycles, tol, ll_tol: convergence settings (see the module docstring).
        min_responses: free columns with fewer responses are skipped (listed in ``skipped``).
        c_prior: Beta prior on the 3PL lower asymptote.
        log_a_prior: optional ``(mean, sd)`` of a normal prior on ``ln a``.

    Raises:
        InvalidResponses: values other than 0, 1 and NaN; no item with enough responses.
        ShapeMismatch: not a matrix, or ``item_ids`` or ``models`` of the wrong length.
        InvalidConfiguration: an unknown model, unusable settings or anchor values.
    """
    _check_settings(model, quadrature_points, quadrature_bound, max_cycles, min_responses)
    if not (c_prior[0] >= 1 and c_prior[1] >= 1):
        raise InvalidConfiguration(f"c_prior must be Beta(α, β) with α, β >= 1, got {c_prior}")
    if log_a_prior is not None and not log_a_prior[1] > 0:
        raise InvalidConfiguration(f"log_a_prior sd must be > 0, got {log_a_prior}")
    design = _design(responses, model, models, fixed, item_ids, min_responses)
    nodes = np.linspace(-quadrature_bound, quadrature_bound, quadrature_points)
    em = _EM(design, nodes, c_prior, log_a_prior)
    converged, cycles = em.run(max_cycles, tol, ll_tol)
    return em.result(model, converged, cycles)


def _check_settings(
    model: str, quadrature_points: int, quadrature_bound: float, max_cycles: int, min_responses: int
) -> None:
    if model not in _MODEL_NAMES:
        raise InvalidConfiguration(f"model must be rasch, 1pl, 2pl or 3pl, got {model!r}")
    if quadrature_points < 5 or not quadrature_bound > 0 or max_cycles < 1 or min_responses < 1:
        raise InvalidConfiguration(
            "need quadrature_points >= 5, quadrature_bound > 0, "
            "max_cycles >= 1 and min_responses >= 1"
        )


class _EM:
    """The EM state of one calibration: η per kept item, the population, the last figures."""

    def __init__(
        self,
        design: _Design,
        nodes: FloatArray,
        c_prior: tuple[float, float],
        log_a_prior: tuple[float, float] | None,
    ) -> None:
        self.design, self.nodes = design, nodes
        self.c_prior, self.log_a_prior = c_prior, log_a_prior
        obs = ~np.isnan(design.x)
        self.persons = obs.any(axis=1)
        self.obs = obs[self.persons].astype(np.float64)
        self.xf = np.where(obs, design.x, 0.0)[self.persons]
        self.wrong = self.obs - self.xf
        free = ~design.anchored
        self.groups = {
            name: np.flatnonzero(free & (np.array(design.models) == name))
            for name in _MODEL_NAMES
            if np.any(free & (np.array(design.models) == name))
        }
        self.eta = design.anchor_eta.copy()
        for name, idx in self.groups.items():
            self.eta[idx] = _start_values(self.xf[:, idx], self.obs[:, idx], _MODELS[name], c_prior)
        self.guessing = bool(np.any(np.isfinite(self.eta[:, _GAMMA])))
        self.estimate_population = bool(design.anchored.any())
        self.mean, self.sd = 0.0, 1.0
        self.change = self.max_change = math.inf

    def e_step(self) -> tuple[FloatArray, float]:
        """Each person's posterior over the nodes and the marginal log-likelihood."""
        ln_p, ln_q = _curves(self.eta, self.nodes, self.guessing)[:2]
        log_w = -0.5 * ((self.nodes - self.mean) / self.sd) ** 2
        log_w -= np.logaddexp.reduce(log_w)
        ll = self.xf @ ln_p + self.wrong @ ln_q + log_w
        top = ll.max(axis=1, keepdims=True)
        post = np.exp(ll - top)
        total = post.sum(axis=1, keepdims=True)
        post /= total
        return post, float((top[:, 0] + np.log(total[:, 0])).sum())

    def _expected(self, post: FloatArray, name: str, idx: IntArray) -> _Expected:
        return _Expected(
            self.nodes,
            self.xf[:, idx].T @ post,
            self.obs[:, idx].T @ post,
            _MODELS[name].guessing,
            self.log_a_prior,
            self.c_prior,
        )

    def run(self, max_cycles: int, tol: float, ll_tol: float) -> tuple[bool, int]:
        previous = -math.inf
        for cycle in range(1, max_cycles + 1):
            post, loglik = self.e_step()
            penalised = loglik
            old = np.concatenate([*_abc(self.eta), [self.mean, self.sd]])
            for name, idx in self.groups.items():
                spec, expected = _MODELS[name], self._expected(post, name, idx)
                penalised += float(
                    expected.log_prior(self.eta[idx], slope_prior=not spec.common_slope).sum()
                )
                penalised += _shared_slope_prior(self.eta[idx], spec, self.log_a_prior)
                self.eta[idx] = _m_step(self.eta[idx], expected, spec)
            if self.estimate_population:
                mean = post @ self.nodes
                self.mean = float(mean.mean())
                self.sd = float(np.sqrt(max((post @ self.nodes**2).mean() - self.mean**2, 1e-4)))
            self.change = penalised - previous
            new = np.concatenate([*_abc(self.eta), [self.mean, self.sd]])
            self.max_change = float(np.max(np.abs(new - old)))
            if self.max_change < tol and abs(self.change) < ll_tol * abs(penalised):
                return True, cycle
            previous = penalised
        return False, max_cycles

    def result(self, model: CalibrationModel, converged: bool, cycles: int) -> Calibration:
        d = self.design
        post, loglik = self.e_step()
        se_a, se_b, se_c = _standard_errors(self, post)
        theta = np.zeros(d.x.shape[0])
        theta_se = np.ones(d.x.shape[0])
        mean = post @ self.nodes
        theta[self.persons] = mean
        theta_se[self.persons] = np.sqrt(np.maximum(post @ self.nodes**2 - mean**2, 0.0))
        a, b, c = _abc(self.eta)
        anchored = d.anchored.copy()
        anchored.setflags(write=False)
        return Calibration(
            model=model,
            item_ids=tuple(i for i, k in zip(d.ids, d.keep, strict=True) if k),
            a=a,
            b=b,
            c=c,
            se_a=se_a,
            se_b=se_b,
            se_c=se_c,
            n_responses=d.counts[d.keep],
            skipped=d.skipped,
            iterations=cycles,
            converged=converged,
            log_likelihood=loglik,
            log_likelihood_change=float(self.change),
            max_parameter_change=self.max_change,
            theta=theta,
            theta_se=theta_se,
            models=d.models,
            anchored=anchored,
            excluded=dict(d.excluded),
            population_mean=self.mean,
            population_sd=self.sd,
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


def _person_scores(em: _EM, post: FloatArray) -> list[tuple[int, IntArray, FloatArray]]:
    """Each person's score for each free parameter (Fisher's identity: posterior-weighted), as
    blocks ``(η column or −1 for the population, items, persons × width)``."""
    eta, nodes, xf, wrong = em.eta, em.nodes, em.xf, em.wrong
    _, _, p, ps, qs, ratio = _curves(eta, nodes, em.guessing)
    a, _, c = _abc(eta)
    ax = a[:, None] * nodes[None, :]
    g1_z = (1.0 - c[:, None]) * qs * ratio  # ∂ ln P / ∂z
    g0_z = -ps  # ∂ ln Q / ∂z
    blocks: list[tuple[int, IntArray, FloatArray]] = []
    for name, idx in em.groups.items():
        spec = _MODELS[name]
        columns = [_ALPHA, *spec.free] if spec.common_slope else list(spec.free)
        for k in columns:
            if k == _ALPHA:
                s = xf[:, idx] * (post @ (g1_z * ax)[idx].T) + wrong[:, idx] * (
                    post @ (g0_z * ax)[idx].T
                )
                if spec.common_slope:
                    s = s.sum(axis=1, keepdims=True)
            elif k == _D:
                s = xf[:, idx] * (post @ g1_z[idx].T) + wrong[:, idx] * (post @ g0_z[idx].T)
            else:
                g1_g = (c[:, None] * (1.0 - c[:, None]) * qs / p)[idx]
                s = xf[:, idx] * (post @ g1_g.T) - wrong[:, idx] * c[None, idx]
            blocks.append((k, idx, s))
    if em.estimate_population:
        z = (nodes - em.mean) / em.sd
        both = np.stack([post @ z / em.sd, post @ (z**2 - 1.0)], axis=1)
        blocks.append((-1, np.zeros(0, dtype=np.int64), both))
    return blocks


def _standard_errors(em: _EM, post: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cross-product information of the person scores, inverted; delta method to a, b, c.

    Anchored items and parameters a model fixes have no column (SE 0); when the population is
    estimated its mean and ln SD are columns too, so their uncertainty reaches the items' SEs.
    """
    a, b, c = _abc(em.eta)
    items = a.size
    blocks = _person_scores(em, post)
    stacked = np.concatenate([s for _, _, s in blocks], axis=1)
    info = stacked.T @ stacked
    position = {k: np.full(items, -1, dtype=np.int64) for k in (_ALPHA, _D, _GAMMA)}
    offset = 0
    for k, idx, s in blocks:
        width = s.shape[1]
        diag = np.arange(offset, offset + width)
        # Prior curvature: the priors are part of the penalised likelihood that was maximised.
        if k == _ALPHA and em.log_a_prior is not None:
            info[diag, diag] += 1.0 / em.log_a_prior[1] ** 2
        if k == _GAMMA:
            info[diag, diag] += (em.c_prior[0] + em.c_prior[1] - 2.0) * c[idx] * (1.0 - c[idx])
        if k >= 0:
            position[k][idx] = diag if width == idx.size else offset
        offset += width
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(info)
    var = np.append(np.maximum(np.diag(cov), 0.0), 0.0)  # index −1: a parameter not estimated
    cov = np.pad(cov, ((0, 1), (0, 1)))
    at_a, at_d, at_g = position[_ALPHA], position[_D], position[_GAMMA]
    var_alpha, var_d, cov_ad = var[at_a], var[at_d], cov[at_a, at_d]
    # b = −d e^{−α}: ∂b/∂α = −b, ∂b/∂d = −1/a.
    var_b = b**2 * var_alpha + var_d / a**2 + 2.0 * b / a * cov_ad
    se_c = c * (1.0 - c) * np.sqrt(var[at_g])
    return a * np.sqrt(var_alpha), np.sqrt(np.maximum(var_b, 0.0)), se_c
