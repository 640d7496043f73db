"""Simulated candidates through the production engine: accuracy, length, exposure.

:func:`simulate` draws true abilities (or takes them), answers every item the engine serves with
probability ``P_j(θ_true)`` under the (optionally different) *true* parameters, and summarises
what the configuration does: test length, bias and RMSE, classification accuracy against the
true level, stop reasons, exposure and content relaxations. Everything is seeded: simulee ``p``
gets its own stream from ``SeedSequence(seed).spawn``, which pre-draws a uniform ``U[p, j]`` for
every item (common random numbers: a simulee answers item ``j`` the same way under any design)
and the engine seed of the attempt. A polytomous (GPCM) item is scored by inversion with the same
uniform: ``x`` = the number of cumulative category probabilities below ``U[p, j]``.

:func:`sympson_hetter` derives Sympson–Hetter exposure parameters by iterating :func:`simulate`
(Sympson & Hetter 1985; Hetter & Sympson 1997).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.config import EngineConfig
from etest.irt.engine import CatEngine
from etest.irt.errors import InvalidConfiguration, ShapeMismatch
from etest.irt.stopping import StopReason

__all__ = ["ExposureCalibration", "SimulationResult", "simulate", "sympson_hetter"]

_REASONS = tuple(StopReason)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-simulee outcomes of :func:`simulate`; :meth:`summary` turns them into figures.

    Attributes:
        true_theta, theta, se: true ability, final estimate and its SE per simulee.
        length: items administered per simulee.
        stop: index into ``StopReason`` order (``list(StopReason)``) per simulee.
        true_level, placed_level: level of the true ability and of the estimate.
        exposure_counts: how many simulees were given each item.
        selection_counts: how many simulees drew each item for the Sympson–Hetter lottery
            (given or set aside; at most once per simulee, since a rejected item is set aside).
        relaxations: content relaxations per simulee.
        skill_counts: items per skill per simulee (columns: ``bank.skill_names``).
    """

    bank: ItemBank
    config: EngineConfig
    seed: int
    true_theta: FloatArray
    theta: FloatArray
    se: FloatArray
    length: IntArray
    stop: IntArray
    true_level: IntArray
    placed_level: IntArray
    exposure_counts: IntArray
    selection_counts: IntArray
    relaxations: IntArray
    skill_counts: IntArray
    steps: int
    seconds: float

    @property
    def n(self) -> int:
        """Number of simulees."""
        return int(self.true_theta.size)

    def exposure_rates(self) -> FloatArray:
        """Share of simulees given each item."""
        return np.asarray(self.exposure_counts / self.n, dtype=np.float64)

    def conditional(self, edges: npt.ArrayLike | None = None) -> list[dict[str, float]]:
        """Figures per true-ability bin (default: width 0.5 from −4 to 4, open ends)."""
        e = np.asarray(np.arange(-4.0, 4.01, 0.5) if edges is None else edges, dtype=np.float64)
        bins = np.searchsorted(e, self.true_theta, side="right")
        rows: list[dict[str, float]] = []
        for k in range(e.size + 1):
            sel = bins == k
            if not sel.any():
                continue
            err = self.theta[sel] - self.true_theta[sel]
            rows.append(
                {
                    "from": -math.inf if k == 0 else float(e[k - 1]),
                    "to": math.inf if k == e.size else float(e[k]),
                    "n": int(sel.sum()),
                    "mean_se": float(self.se[sel].mean()),
                    "empirical_sd": float(self.theta[sel].std()),
                    "rmse": float(np.sqrt(np.mean(err**2))),
                    "bias": float(err.mean()),
                    "mean_length": float(self.length[sel].mean()),
                    "accuracy_exact": float(
                        np.mean(self.placed_level[sel] == self.true_level[sel])
                    ),
                }
            )
        return rows

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures, with Monte Carlo SEs where they matter."""
        n = self.n
        err = self.theta - self.true_theta
        rmse = float(np.sqrt(np.mean(err**2)))
        levels = len(self.config.cut_scores) + 1
        exact = self.placed_level == self.true_level
        within = np.abs(self.placed_level - self.true_level) <= 1
        confusion = np.zeros((levels, levels), dtype=np.int64)
        np.add.at(confusion, (self.true_level, self.placed_level), 1)
        rates = self.exposure_rates()
        m = self.exposure_counts.astype(np.float64)
        mean_len = float(self.length.mean())
        overlap = (
            float((m * (m - 1)).sum() / (n * (n - 1)) / mean_len) if n > 1 and mean_len else 0.0
        )
        shares = self.skill_counts / np.maximum(self.length, 1)[:, None]

        def mc(p: float) -> float:
            return float(math.sqrt(p * (1 - p) / n))

        acc, acc1 = float(exact.mean()), float(within.mean())
        return {
            "simulees": n,
            "seed": self.seed,
            "bank_items": len(self.bank),
            "config": self.config.to_dict(),
            "length": {
                "mean": mean_len,
                "min": int(self.length.min()),
                "max": int(self.length.max()),
                "histogram": {
                    str(k): int(v)
                    for k, v in zip(*np.unique(self.length, return_counts=True), strict=True)
                },
            },
            "bias": float(err.mean()),
            "bias_mc_se": float(err.std() / math.sqrt(n)),
            "rmse": rmse,
            "mean_se": float(self.se.mean()),
            "correlation": float(np.corrcoef(self.theta, self.true_theta)[0, 1]) if n > 1 else None,
            "classification": {
                "accuracy_exact": acc,
                "accuracy_exact_mc_se": mc(acc),
                "accuracy_within_one": acc1,
                "accuracy_within_one_mc_se": mc(acc1),
                "confusion_true_by_placed": confusion.tolist(),
            },
            "stop_reasons": {
                r.value: float(np.mean(self.stop == i))
                for i, r in enumerate(_REASONS)
                if np.any(self.stop == i)
            },
            "exposure": {
                "max_rate": float(rates.max()),
                "share_never_used": float(np.mean(self.exposure_counts == 0)),
                "overlap": overlap,
            },
            "content": {
                "relaxations_per_test": float(self.relaxations.mean()),
                "tests_with_relaxation": float(np.mean(self.relaxations > 0)),
                "mean_share": {
                    s: float(shares[:, k].mean()) for k, s in enumerate(self.bank.skill_names)
                },
            },
            "conditional": self.conditional(),
            "steps": self.steps,
            "seconds": self.seconds,
            "ms_per_step": 1000.0 * self.seconds / max(self.steps, 1),
        }


def simulate(
    bank: ItemBank,
    config: EngineConfig,
    *,
    n: int = 1000,
    seed: int = 0,
    ability_mean: float = 0.0,
    ability_sd: float = 1.0,
    abilities: npt.ArrayLike | None = None,
    true_bank: ItemBank | None = None,
    progress: Callable[[int], None] | None = None,
    engine: CatEngine | None = None,
) -> SimulationResult:
    """Run ``n`` simulated candidates through the engine.

    Args:
        bank: the bank the engine uses (estimated parameters).
        config: the engine configuration.
        n: number of simulees (ignored when ``abilities`` is given).
        seed: master seed; the same seed gives the same result.
        ability_mean, ability_sd: normal distribution of true abilities.
        abilities: explicit true abilities instead of draws.
        true_bank: parameters that generate the responses (default: ``bank``), e.g. to study
            calibration error; must list the same items.
        progress: called with the number of simulees just finished (for a progress bar).
        engine: a prepared engine for ``bank`` and ``config`` (saves rebuilding it).
    """
    truth = true_bank or bank
    if len(truth) != len(bank):
        raise ShapeMismatch(f"true bank has {len(truth)} items, engine bank {len(bank)}")
    ss = np.random.SeedSequence(seed)
    ability_ss, person_ss = ss.spawn(2)
    if abilities is None:
        if n < 1:
            raise InvalidConfiguration(f"need at least one simulee, got n={n}")
        true_theta = np.random.default_rng(ability_ss).normal(ability_mean, ability_sd, n)
    else:
        true_theta = np.asarray(abilities, dtype=np.float64).reshape(-1)
        if true_theta.size == 0 or not np.all(np.isfinite(true_theta)):
            raise InvalidConfiguration("abilities must be a non-empty list of finite numbers")
    count = true_theta.size
    eng = engine or CatEngine(bank, config)
    cuts = np.asarray(config.cut_scores, dtype=np.float64)
    a, b, c, d = (truth.a.tolist(), truth.b.tolist(), truth.c.tolist(), truth.d.tolist())
    poly = set(truth.polytomous.tolist())
    out_theta = np.empty(count)
    out_se = np.empty(count)
    length = np.empty(count, dtype=np.int64)
    stop = np.empty(count, dtype=np.int64)
    placed = np.empty(count, dtype=np.int64)
    exposure = np.zeros(len(bank), dtype=np.int64)
    selection = np.zeros(len(bank), dtype=np.int64)
    relax = np.zeros(count, dtype=np.int64)
    skills = np.zeros((count, len(bank.skill_names)), dtype=np.int64)
    reason_index = {r: i for i, r in enumerate(_REASONS)}
    steps = 0
    start = time.perf_counter()
    for p, child in enumerate(person_ss.spawn(count)):
        rng = np.random.default_rng(child)
        uniforms = rng.random(len(bank))
        attempt_seed = int(rng.integers(2**63))
        th = float(true_theta[p])
        state = eng.start(attempt_seed)
        while True:
            step = state.step()
            if step.stop_reason is not None:
                break
            sel = step.selection
            assert sel is not None and step.item is not None
            j = step.item
            if sel.exposure_rejections:
                selection[list(sel.exposure_rejections)] += 1
            if sel.relaxations:
                relax[p] += len(sel.relaxations)
            if j in poly:
                state.record(j, _score(truth, j, th, float(uniforms[j])))
            else:
                prob = c[j] + (d[j] - c[j]) / (1.0 + math.exp(-a[j] * (th - b[j])))
                state.record(j, 1 if uniforms[j] < prob else 0)
            steps += 1
        adm = np.asarray(state.administered, dtype=np.int64)
        exposure[adm] += 1
        selection[adm] += 1
        skills[p] = np.bincount(bank.skill_codes[adm], minlength=len(bank.skill_names))
        out_theta[p], out_se[p] = step.theta, step.se
        length[p] = adm.size
        stop[p] = reason_index[step.stop_reason]
        placed[p] = step.placement.level if step.placement is not None else 0
        if progress is not None:
            progress(1)
    seconds = time.perf_counter() - start
    return SimulationResult(
        bank=bank,
        config=config,
        seed=seed,
        true_theta=true_theta,
        theta=out_theta,
        se=out_se,
        length=length,
        stop=stop,
        true_level=np.searchsorted(cuts, true_theta, side="right").astype(np.int64),
        placed_level=placed,
        exposure_counts=exposure,
        selection_counts=selection,
        relaxations=relax,
        skill_counts=skills,
        steps=steps,
        seconds=seconds,
    )


@dataclass(frozen=True)
class ExposureCalibration:
    """Result of :func:`sympson_hetter`.

    Attributes:
        parameters: ``K_j`` by item id (only items with ``K < 1``); put it in
            ``EngineConfig.exposure_control``.
        converged: ``max_j A_j ≤ r_max + allowance`` held on two consecutive rounds.
        rounds: simulation rounds run.
        max_rates: the largest exposure rate after each round.
        allowance: what the criterion allows above ``r_max``: ``tol + z·√(r_max(1 − r_max)/n)``.
        realised_max_rate: the largest exposure rate of ``parameters`` on an independent run
            (``n`` new simulees, seed ``seed + max_rounds``), the figure to quote.
    """

    parameters: dict[str, float]
    converged: bool
    rounds: int
    max_rates: tuple[float, ...]
    allowance: float = 0.0
    realised_max_rate: float = math.nan


def _score(truth: ItemBank, item: int, theta: float, uniform: float) -> int:
    """A polytomous item's score by inversion: the number of cumulative ``P_x(θ)`` below ``U``
    (with one uniform per item, as for dichotomous items, so designs share random numbers)."""
    lp = truth.category_log_probabilities(np.array([theta]), item)[:, 0]
    cumulative = np.cumsum(np.exp(lp))[:-1]
    return int(np.searchsorted(cumulative, uniform, side="right"))


def sympson_hetter(
    bank: ItemBank,
    config: EngineConfig,
    *,
    r_max: float,
    n: int = 5000,
    seed: int = 0,
    ability_mean: float = 0.0,
    ability_sd: float = 1.0,
    max_rounds: int = 30,
    tol: float = 0.0,
    z: float = 3.0,
) -> ExposureCalibration:
    """Derive Sympson–Hetter exposure parameters for a target maximum exposure rate ``r_max``.

    Round ``r`` simulates ``n`` new candidates (seed ``seed + r``) with the current ``K`` and sets
    ``K_j = min(1, r_max / S_j)`` from the share ``S_j`` drawn for the lottery; it stops when the
    largest share given is within ``r_max + tol + z·√(r_max(1 − r_max)/n)`` (its binomial noise)
    on two consecutive rounds, then runs the ``K`` found on new candidates (seed
    ``seed + max_rounds``) for ``realised_max_rate``. Why and figures: docs/irt.md.
    """
    if not 0 < r_max <= 1:
        raise InvalidConfiguration(f"r_max must be in (0, 1], got {r_max}")
    if tol < 0 or z < 0 or n < 1 or max_rounds < 1:
        raise InvalidConfiguration("need tol >= 0, z >= 0, n >= 1 and max_rounds >= 1")
    allowance = tol + z * math.sqrt(r_max * (1.0 - r_max) / n)
    k = np.ones(len(bank))
    max_rates: list[float] = []
    streak = 0

    def run(values: FloatArray, round_seed: int) -> SimulationResult:
        cfg = config.replace(exposure_control=_controlled(bank, values))
        return simulate(
            bank, cfg, n=n, seed=round_seed, ability_mean=ability_mean, ability_sd=ability_sd
        )

    for r in range(max_rounds):
        result = run(k, seed + r)
        given = result.exposure_counts / result.n
        drawn = result.selection_counts / result.n
        max_rates.append(float(given.max()))
        streak = streak + 1 if given.max() <= r_max + allowance else 0
        if streak >= 2:
            break
        k = np.where(drawn <= r_max, 1.0, r_max / np.maximum(drawn, 1e-12))
    check = run(k, seed + max_rounds)
    return ExposureCalibration(
        parameters=_controlled(bank, k),
        converged=streak >= 2,
        rounds=len(max_rates),
        max_rates=tuple(max_rates),
        allowance=allowance,
        realised_max_rate=float(check.exposure_rates().max()),
    )


def _controlled(bank: ItemBank, k: FloatArray) -> dict[str, float]:
    """``K`` by item id of the items with ``K < 1``."""
    return {bank.ids[j]: float(k[j]) for j in np.flatnonzero(k < 1)}
