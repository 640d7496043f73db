"""MML calibration of generalized partial credit items (Bock–Aitkin EM; Muraki 1992).

:func:`calibrate_gpcm` takes a persons × items matrix of scores ``0 … k_j`` with NaN for items a
person was not given (ignorable in adaptive data, as for :func:`etest.irt.calibration.calibrate`)
and estimates each item's slope ``a`` and steps ``b_1 … b_k``. A column with ``k = 1`` is a 2PL
item (the GPCM with one step), so one run calibrates a test that mixes 0/1 items and gap items.
θ ~ N(0, 1) fixes the scale.

* **E-step**: each person's posterior over equally spaced nodes from one matrix product of the
  one-hot scores (persons × Σ(k_j + 1)) with the log category probabilities; the expected count of
  each score of each item at each node.
* **M-step**: per item, in intercept form ``z_x = x·a·θ + c_x`` (``c_0 = 0``) over
  ``η = (ln a, c_1 … c_k)``, Fisher scoring with the analytic gradient and expected information of
  the multinomial logit (``Σ_q n_q Cov_q(f)`` of the design ``f_x = (x a θ_q, e_x)``), step-halved
  so the item's expected log-likelihood (plus the optional ``ln a`` prior) never falls; all items
  in one batched solve. Steps: ``b_x = −(c_x − c_{x−1}) / a``.
* **Items left out**: fewer than ``min_responses`` responses (``skipped``), or a score in
  ``0..k`` that nobody obtained (``excluded``; its steps have no finite estimate — collapse the
  categories or wait for data): ``"all_correct"``/``"all_wrong"`` for a 0/1 column,
  ``"no_score_<x>"`` otherwise.
* **Standard errors**: the empirical cross-product information of the person scores (Fisher's
  identity), inverted as a whole, carried to ``a`` and ``b_x`` by the delta method.

* **Held items** (``held``, :class:`HeldItems`): items whose parameters are known (0/1 items of a
  2PL/3PL run just made, GPCM items stored in the bank) add each person's log-likelihood at the
  nodes to the E-step, with the population ``N(mean, sd)`` of that run as the prior: the free
  GPCM items are estimated on the scale those items set, as if anchored beside them in one run.
  This is how gap items are calibrated alongside a 3PL run (the 3PL's guessing is not part of
  this EM, so the two share persons, not one M-step).

Not here: guessing; use :func:`~etest.irt.calibration.calibrate` for 3PL columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.calibration import numeric_matrix
from etest.irt.errors import InvalidConfiguration, InvalidResponses, ShapeMismatch

__all__ = ["HeldItems", "PolytomousCalibration", "calibrate_gpcm"]


@dataclass(frozen=True, eq=False)
class HeldItems:
    """Items at known parameters that inform each person's ability during a GPCM calibration.

    Attributes:
        bank: the held items (any mix of 0/1 and GPCM items).
        responses: persons × ``len(bank)`` scores (0/1, or ``0..k``), NaN = not given; the same
            persons, in the same order, as the calibrated matrix.
        population_mean, population_sd: the ability distribution on their scale (the prior).
    """

    bank: ItemBank
    responses: npt.ArrayLike
    population_mean: float = 0.0
    population_sd: float = 1.0

    def log_likelihood(self, nodes: FloatArray, persons: int) -> FloatArray:
        """Each person's log-likelihood of the held responses at ``nodes`` (persons × nodes)."""
        x = _scores(self.responses)
        if x.shape != (persons, len(self.bank)):
            raise ShapeMismatch(
                f"held responses have shape {x.shape}, expected ({persons}, {len(self.bank)})"
            )
        if not self.population_sd > 0:
            raise InvalidConfiguration(f"population_sd must be > 0, got {self.population_sd}")
        out = np.zeros((persons, nodes.size))
        for j in range(len(self.bank)):
            rows = np.flatnonzero(~np.isnan(x[:, j]))
            if rows.size == 0:
                continue
            scores = x[rows, j].astype(np.int64)
            lp = self.bank.category_log_probabilities(nodes, j)
            if scores.max() >= lp.shape[0]:
                raise InvalidResponses(
                    f"a held score above the maximum {lp.shape[0] - 1} of {self.bank.ids[j]!r}"
                )
            out[rows] += np.maximum(lp[scores], -1e300)
        return out


@dataclass(frozen=True, eq=False)
class PolytomousCalibration:
    """GPCM item parameters with standard errors and convergence information.

    Attributes:
        item_ids: ids of the calibrated columns.
        a: slopes; steps: step difficulties, items × m with NaN after each item's last step.
        se_a, se_steps: standard errors (same shapes).
        max_score: each calibrated item's ``k``.
        n_responses: responses per calibrated item.
        skipped: ids with fewer than ``min_responses`` responses.
        excluded: ids with a score nobody obtained, with the reason.
        iterations, converged, log_likelihood, max_parameter_change: as in
            :class:`~etest.irt.calibration.Calibration`.
        theta, theta_se: each person's EAP ability and posterior SD under the final parameters.
    """

    item_ids: tuple[str, ...]
    a: FloatArray
    steps: FloatArray
    se_a: FloatArray
    se_steps: FloatArray
    max_score: IntArray
    n_responses: IntArray
    skipped: tuple[str, ...]
    excluded: dict[str, str]
    iterations: int
    converged: bool
    log_likelihood: float
    max_parameter_change: float
    theta: FloatArray
    theta_se: FloatArray
    log_likelihood_change: float = field(default=0.0)

    def to_bank(self, skills: Sequence[str] | None = None) -> ItemBank:
        """The calibrated items as an :class:`ItemBank` (``k = 1`` columns become 2PL items)."""
        return ItemBank.from_arrays(
            self.item_ids, self.a, self.steps[:, 0], skills=skills, steps=self.steps
        )

    def parameters(self) -> dict[str, tuple[float, tuple[float, ...]]]:
        """``{item id: (a, (b_1, …, b_k))}``."""
        return {
            i: (float(a), tuple(float(v) for v in s[:k]))
            for i, a, s, k in zip(self.item_ids, self.a, self.steps, self.max_score, strict=True)
        }


def _scores(responses: npt.ArrayLike) -> FloatArray:
    x = numeric_matrix(responses)
    bad = ~np.isnan(x) & ((x != np.round(x)) | (x < 0))
    if bad.any():
        p, j = (int(v[0]) for v in np.nonzero(bad))
        raise InvalidResponses(
            f"score {x[p, j]!r} (person {p}, item column {j}) is not a whole number >= 0 or NaN"
        )
    return x


def calibrate_gpcm(
    responses: npt.ArrayLike,
    *,
    item_ids: Sequence[str] | None = None,
    max_scores: Sequence[int] | npt.ArrayLike | None = None,
    quadrature_points: int = 41,
    quadrature_bound: float = 5.0,
    max_cycles: int = 500,
    tol: float = 1e-4,
    ll_tol: float = 1e-7,
    min_responses: int = 10,
    log_a_prior: tuple[float, float] | None = None,
    held: HeldItems | None = None,
) -> PolytomousCalibration:
    """Calibrate GPCM (and, for ``k = 1`` columns, 2PL) items from scores ``0..k`` and NaN.

    Args:
        responses: persons × items matrix of scores, NaN = not administered.
        item_ids: ids of the columns (default ``"0"``, ``"1"``, …).
        max_scores: each column's ``k`` (default: the highest score observed in it).
        quadrature_points, quadrature_bound: equally spaced nodes on ``[−bound, bound]``.
        max_cycles, tol, ll_tol: stop when no ``a`` or ``b_x`` moves by ``tol`` and the
            log-likelihood changes by less than ``ll_tol`` relatively.
        min_responses: columns with fewer responses are skipped.
        log_a_prior: optional ``(mean, sd)`` of a normal prior on ``ln a``.
        held: items at known parameters answered by the same persons: their likelihood and
            population set the scale (see the module's doc); default θ ~ N(0, 1) alone.

    Raises:
        InvalidResponses: a score that is not a whole number in ``0..k``; no usable column.
        ShapeMismatch: not a matrix, or ``item_ids``/``max_scores`` of the wrong length.
        InvalidConfiguration: unusable settings.
    """
    if quadrature_points < 5 or not quadrature_bound > 0 or max_cycles < 1 or min_responses < 1:
        raise InvalidConfiguration(
            "need quadrature_points >= 5, quadrature_bound > 0, "
            "max_cycles >= 1 and min_responses >= 1"
        )
    if log_a_prior is not None and not log_a_prior[1] > 0:
        raise InvalidConfiguration(f"log_a_prior sd must be > 0, got {log_a_prior}")
    x_all = _scores(responses)
    width = x_all.shape[1]
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else tuple(map(str, range(width)))
    if len(ids) != width:
        raise ShapeMismatch(f"{len(ids)} item ids for {width} response columns")
    top = np.nan_to_num(np.nanmax(np.where(np.isnan(x_all), -1.0, x_all), axis=0), nan=0.0)
    k_all = (
        np.maximum(top, 1.0).astype(np.int64)
        if max_scores is None
        else np.asarray(max_scores, dtype=np.int64).reshape(-1)
    )
    if k_all.shape != (width,) or np.any(k_all < 1):
        raise ShapeMismatch(f"max_scores must give a k >= 1 for each of the {width} columns")
    over = ~np.isnan(x_all) & (x_all > k_all[None, :])
    if over.any():
        p, j = (int(v[0]) for v in np.nonzero(over))
        raise InvalidResponses(
            f"score {x_all[p, j]!r} (person {p}, item column {j}) is above its maximum "
            f"{int(k_all[j])}"
        )
    counts = (~np.isnan(x_all)).sum(axis=0)
    enough = counts >= min_responses
    excluded: dict[str, str] = {}
    for j in np.flatnonzero(enough).tolist():
        col = x_all[:, j]
        got = np.bincount(col[~np.isnan(col)].astype(np.int64), minlength=int(k_all[j]) + 1)
        missing = np.flatnonzero(got == 0)
        if missing.size:
            if k_all[j] == 1:
                excluded[ids[j]] = "all_wrong" if got[0] else "all_correct"
            else:
                excluded[ids[j]] = f"no_score_{int(missing[0])}"
    keep = enough & np.array([i not in excluded for i in ids])
    if not keep.any():
        raise InvalidResponses(
            f"no item has at least {min_responses} responses with every score obtained"
        )
    nodes = np.linspace(-quadrature_bound, quadrature_bound, quadrature_points)
    prior = (0.0, 1.0)
    held_ll = None
    if held is not None:
        held_ll = held.log_likelihood(nodes, x_all.shape[0])
        prior = (float(held.population_mean), float(held.population_sd))
    em = _EM(x_all[:, keep], k_all[keep], nodes, log_a_prior, held_ll, prior)
    converged, cycles = em.run(max_cycles, tol, ll_tol)
    return em.result(
        tuple(i for i, kept in zip(ids, keep, strict=True) if kept),
        counts[keep],
        tuple(ids[j] for j in np.flatnonzero(~enough)),
        excluded,
        converged,
        cycles,
    )


class _EM:
    """EM state: η = (ln a, c_1 … c_m) per item (padding columns past k unused)."""

    def __init__(
        self,
        x: FloatArray,
        k: IntArray,
        nodes: FloatArray,
        log_a_prior: tuple[float, float] | None,
        held: FloatArray | None = None,
        prior: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.k, self.nodes, self.log_a_prior = k, nodes, log_a_prior
        items = k.size
        self.m = m = int(k.max())
        obs = ~np.isnan(x)
        self.persons = obs.any(axis=1)
        log_w = -0.5 * ((nodes - prior[0]) / prior[1]) ** 2
        # the log prior at the nodes, plus each person's held items (persons × nodes)
        self.log_w = (log_w - np.logaddexp.reduce(log_w))[None, :] + (
            held[self.persons] if held is not None else 0.0
        )
        x, obs = x[self.persons], obs[self.persons]
        self.x = np.where(obs, x, 0.0)
        self.obs = obs.astype(np.float64)
        cats = np.arange(m + 1)
        onehot = (self.x[:, :, None] == cats) & obs[:, :, None]  # persons × items × m+1
        self.onehot = onehot.reshape(x.shape[0], items * (m + 1)).astype(np.float64)
        self.allowed = cats[None, :] <= k[:, None]  # items × m+1
        self.free = self.allowed[:, 1:]  # which c_x are parameters
        got = onehot.sum(axis=0) + 0.5
        self.eta = np.zeros((items, m + 1))
        self.eta[:, 1:] = np.where(self.free, np.log(got[:, 1:] / got[:, :1]), 0.0)
        self.change = self.max_change = math.inf

    def _log_probs(self, eta: FloatArray) -> FloatArray:
        """``ln P_x`` per item, category, node (items × m+1 × nodes); −∞ past ``k``."""
        a = np.exp(eta[:, 0])
        cats = np.arange(self.m + 1, dtype=np.float64)
        z = cats[None, :, None] * a[:, None, None] * self.nodes[None, None, :]
        z = z + np.concatenate((np.zeros((eta.shape[0], 1)), eta[:, 1:]), axis=1)[:, :, None]
        z = np.where(self.allowed[:, :, None], z, -np.inf)
        return np.asarray(z - np.logaddexp.reduce(z, axis=1, keepdims=True), dtype=np.float64)

    def e_step(self) -> tuple[FloatArray, float]:
        lp = self._log_probs(self.eta)
        flat = np.where(np.isfinite(lp), lp, 0.0).reshape(-1, self.nodes.size)
        ll = self.onehot @ flat + self.log_w
        top = ll.max(axis=1, keepdims=True)
        post = np.exp(ll - top)
        total = post.sum(axis=1, keepdims=True)
        post /= total
        return post, float((top[:, 0] + np.log(total[:, 0])).sum())

    def _prior(self, eta: FloatArray) -> FloatArray:
        if self.log_a_prior is None:
            return np.zeros(eta.shape[0])
        mu, sd = self.log_a_prior
        return np.asarray(-0.5 * ((eta[:, 0] - mu) / sd) ** 2, dtype=np.float64)

    def _objective(self, eta: FloatArray, r: FloatArray) -> FloatArray:
        lp = self._log_probs(eta)
        fit = np.where(r > 0, r * np.where(np.isfinite(lp), lp, 0.0), 0.0).sum(axis=(1, 2))
        return np.asarray(fit + self._prior(eta), dtype=np.float64)

    def _m_step(self, r: FloatArray, steps: int = 3) -> None:
        """Batched Fisher scoring on η with step halving (``r``: items × m+1 × nodes)."""
        n = r.sum(axis=1)  # items × nodes
        cats = np.arange(self.m + 1, dtype=np.float64)
        eta = self.eta
        for _ in range(steps):
            p = np.exp(self._log_probs(eta))
            a = np.exp(eta[:, 0])
            mean = np.einsum("jxq,x->jq", p, cats)
            at = a[:, None] * self.nodes[None, :]  # ∂z_x/∂α = x·a·θ
            grad = np.empty((eta.shape[0], self.m + 1))
            grad[:, 0] = (at * (np.einsum("jxq,x->jq", r, cats) - n * mean)).sum(axis=1)
            grad[:, 1:] = (r[:, 1:] - n[:, None, :] * p[:, 1:]).sum(axis=2)
            # Expected information Σ_q n_q Cov_q(f), f_x = (x·aθ, e_x) for x = 1..m.
            var = np.einsum("jxq,x->jq", p, cats**2) - mean**2
            info = np.empty((eta.shape[0], self.m + 1, self.m + 1))
            info[:, 0, 0] = (n * at**2 * var).sum(axis=1)
            dev = cats[None, 1:, None] - mean[:, None, :]
            cross = (n[:, None, :] * at[:, None, :] * p[:, 1:] * dev).sum(axis=2)
            info[:, 0, 1:] = cross
            info[:, 1:, 0] = cross
            pn = p[:, 1:] * np.sqrt(n)[:, None, :]
            info[:, 1:, 1:] = -np.einsum("jxq,jyq->jxy", pn, pn)
            diag = (n[:, None, :] * p[:, 1:]).sum(axis=2)
            info[:, np.arange(1, self.m + 1), np.arange(1, self.m + 1)] += diag
            if self.log_a_prior is not None:
                mu, sd = self.log_a_prior
                grad[:, 0] -= (eta[:, 0] - mu) / sd**2
                info[:, 0, 0] += 1.0 / sd**2
            # Padding columns (x > k): identity rows, zero gradient.
            pad = ~np.concatenate((np.ones((eta.shape[0], 1), dtype=bool), self.free), axis=1)
            grad[pad] = 0.0
            used = (~pad).astype(np.float64)
            info *= used[:, :, None] * used[:, None, :]
            jj, xx = np.nonzero(pad)
            info[jj, xx, xx] = 1.0
            step = np.clip(np.linalg.solve(info, grad[..., None])[..., 0], -2.0, 2.0)
            before = self._objective(eta, r)
            scale = np.ones(eta.shape[0])
            trial = eta
            for _ in range(12):
                trial = eta + scale[:, None] * step
                worse = self._objective(trial, r) < before - 1e-12
                if not worse.any():
                    break
                scale = np.where(worse, scale / 2.0, scale)
            else:
                trial[worse] = eta[worse]
            eta = trial
            if np.max(np.abs(scale[:, None] * step)) < 1e-8:
                break
        self.eta = eta

    def parameters(self, eta: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        """``a`` and the steps (items × m, NaN past ``k``) from η."""
        e = self.eta if eta is None else eta
        a = np.exp(e[:, 0])
        c = np.concatenate((np.zeros((e.shape[0], 1)), e[:, 1:]), axis=1)
        steps = -(c[:, 1:] - c[:, :-1]) / a[:, None]
        return a, np.where(self.free, steps, np.nan)

    def run(self, max_cycles: int, tol: float, ll_tol: float) -> tuple[bool, int]:
        previous = -math.inf
        items = self.eta.shape[0]
        for cycle in range(1, max_cycles + 1):
            post, loglik = self.e_step()
            penalised = loglik + float(self._prior(self.eta).sum())
            a0, s0 = self.parameters()
            r = (self.onehot.T @ post).reshape(items, self.m + 1, self.nodes.size)
            self._m_step(r)
            a1, s1 = self.parameters()
            self.change = penalised - previous
            self.max_change = float(
                max(np.max(np.abs(a1 - a0)), np.nanmax(np.abs(s1 - s0), initial=0.0))
            )
            if self.max_change < tol and abs(self.change) < ll_tol * abs(penalised):
                return True, cycle
            previous = penalised
        return False, max_cycles

    def _standard_errors(self, post: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Cross-product information of the person scores, inverted; delta method to a, b."""
        items, m = self.eta.shape[0], self.m
        p = np.exp(self._log_probs(self.eta))  # items × m+1 × nodes
        a = np.exp(self.eta[:, 0])
        cats = np.arange(m + 1, dtype=np.float64)
        mean = np.einsum("jxq,x->jq", p, cats)
        persons = post.shape[0]
        onehot = self.onehot.reshape(persons, items, m + 1)
        blocks: list[FloatArray] = []
        where: list[IntArray] = []
        offset = 0
        for j in range(items):
            kj = int(self.k[j])
            s_alpha = a[j] * (self.x[:, j] * (post @ self.nodes) - post @ (self.nodes * mean[j]))
            s_c = onehot[:, j, 1 : kj + 1] - post @ p[j, 1 : kj + 1].T
            block = np.column_stack((s_alpha, s_c)) * self.obs[:, j, None]
            blocks.append(block)
            where.append(np.arange(offset, offset + kj + 1))
            offset += kj + 1
        scores = np.concatenate(blocks, axis=1)
        info = scores.T @ scores
        if self.log_a_prior is not None:
            first = np.array([w[0] for w in where])
            info[first, first] += 1.0 / self.log_a_prior[1] ** 2
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov = np.linalg.pinv(info)
        _, steps = self.parameters()
        se_a = np.empty(items)
        se_steps = np.full((items, m), np.nan)
        for j, w in enumerate(where):
            sub = cov[np.ix_(w, w)]
            kj = w.size - 1
            se_a[j] = a[j] * math.sqrt(max(sub[0, 0], 0.0))
            for v in range(1, kj + 1):
                # b_v = −(c_v − c_{v−1}) e^{−α}: ∂/∂α = −b_v, ∂/∂c_v = −1/a, ∂/∂c_{v−1} = 1/a.
                g = np.zeros(kj + 1)
                g[0] = -steps[j, v - 1]
                g[v] = -1.0 / a[j]
                if v > 1:
                    g[v - 1] = 1.0 / a[j]
                se_steps[j, v - 1] = math.sqrt(max(float(g @ sub @ g), 0.0))
        return se_a, se_steps

    def result(
        self,
        ids: tuple[str, ...],
        counts: IntArray,
        skipped: tuple[str, ...],
        excluded: dict[str, str],
        converged: bool,
        cycles: int,
    ) -> PolytomousCalibration:
        post, loglik = self.e_step()
        se_a, se_steps = self._standard_errors(post)
        a, steps = self.parameters()
        n_all = self.persons.size
        theta = np.zeros(n_all)
        theta_se = np.ones(n_all)
        mean = post @ self.nodes
        theta[self.persons] = mean
        theta_se[self.persons] = np.sqrt(np.maximum(post @ self.nodes**2 - mean**2, 0.0))
        return PolytomousCalibration(
            item_ids=ids,
            a=a,
            steps=steps,
            se_a=se_a,
            se_steps=se_steps,
            max_score=self.k.copy(),
            n_responses=np.asarray(counts, dtype=np.int64),
            skipped=skipped,
            excluded=excluded,
            iterations=cycles,
            converged=converged,
            log_likelihood=loglik,
            max_parameter_change=self.max_change,
            theta=theta,
            theta_se=theta_se,
            log_likelihood_change=float(self.change),
        )
