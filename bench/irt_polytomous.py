"""Polytomous (GPCM) items: calibration against girth, and what they do to a simulated CAT.

1. **Calibration.** Scores 0..k of ``--persons`` simulees on 20 GPCM items (k = 2, 3 or 4;
   a ~ lognormal(0, 0.4), steps ~ N(0, 1)) with 30 % of the cells missing, drawn from the model's
   category probabilities. :func:`etest.irt.calibrate_gpcm` and ``girth.pcm_mml`` (an independent
   GPCM implementation; missing cells as girth's INVALID_RESPONSE) fit the same matrix; printed:
   seconds, correlation and RMSE of a and of the steps against the truth, and the largest
   difference between the two programs.
2. **CAT.** The same simulees (true θ ~ N(0, 1)) through the production engine
   (:func:`etest.irt.simulate`, design default: 10 cut scores, 95 % interval stop, randomesque 5,
   SE ≤ 0.35, 10–40 items) on two banks of equal size: 300 dichotomous 3PL items, and the same
   bank with 60 of them replaced by GPCM items (k = 2–4, the parameters of gap items). Printed:
   mean length, RMSE, exact and within-one placement, share of administered items that were
   polytomous, ms per step.

Run:  .venv/bin/python bench/irt_polytomous.py          (writes bench/results/irt_polytomous.json)
      .venv/bin/python bench/irt_polytomous.py --persons 1000 --simulees 300   (a quick look)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from girth import pcm_mml
from girth.utilities.utils import INVALID_RESPONSE

from etest.irt import EngineConfig, ItemBank, calibrate_gpcm, gpcm_probabilities, simulate

RESULTS = Path(__file__).parent / "results" / "irt_polytomous.json"
CUTS = (-2.7, -2.1, -1.5, -0.9, -0.3, 0.3, 0.9, 1.5, 2.1, 2.7)


def gpcm_items(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and NaN-padded steps of ``n`` items with k = 2, 3 or 4 (cycled)."""
    k = np.array([2, 3, 4])[np.arange(n) % 3]
    a = np.clip(rng.lognormal(0.0, 0.4, n), 0.4, 2.5)
    steps = np.full((n, 4), np.nan)
    for j, kj in enumerate(k):
        steps[j, :kj] = rng.normal(0.0, 1.0, kj)
    return a, steps


def draw_scores(theta: np.ndarray, a: np.ndarray, steps: np.ndarray, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    p = gpcm_probabilities(theta, a, steps)
    u = rng.random((theta.size, a.size, 1))
    return (np.cumsum(p, axis=-1)[..., :-1] < u).sum(axis=-1).astype(np.float64)


def recovery(est: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {
        "correlation": float(np.corrcoef(est, true)[0, 1]),
        "rmse": float(np.sqrt(np.mean((est - true) ** 2))),
    }


def calibration(persons: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, 1])
    a, steps = gpcm_items(20, rng)
    x = draw_scores(rng.normal(size=persons), a, steps, rng)
    x[rng.random(x.shape) < 0.3] = np.nan
    given = ~np.isnan(steps)
    t = time.perf_counter()
    ours = calibrate_gpcm(x)
    ours_s = time.perf_counter() - t
    data = np.where(np.isnan(x), INVALID_RESPONSE, x).T.astype(np.int64)
    t = time.perf_counter()
    theirs = pcm_mml(data, {"quadrature_n": 41})
    theirs_s = time.perf_counter() - t
    g_a, g_steps = theirs["Discrimination"], theirs["Difficulty"]
    return {
        "persons": persons,
        "items": 20,
        "missing": 0.3,
        "etest": {
            "seconds": ours_s,
            "iterations": ours.iterations,
            "a": recovery(ours.a, a),
            "steps": recovery(ours.steps[given], steps[given]),
        },
        "girth": {
            "seconds": theirs_s,
            "a": recovery(g_a, a),
            "steps": recovery(g_steps[given], steps[given]),
        },
        "max_abs_difference": {
            "a": float(np.max(np.abs(ours.a - g_a))),
            "steps": float(np.max(np.abs(ours.steps[given] - g_steps[given]))),
        },
    }


def banks(seed: int) -> tuple[ItemBank, ItemBank]:
    rng = np.random.default_rng([seed, 2])
    n = 300
    a = np.clip(rng.lognormal(0.0, 0.3, n), 0.4, 2.5)
    b = rng.normal(0.0, 1.3, n)
    c = rng.uniform(0.15, 0.25, n)
    ids = [f"item-{j:04d}" for j in range(n)]
    plain = ItemBank.from_arrays(ids, a, b, c)
    swap = rng.choice(n, 60, replace=False)
    pa, ps = gpcm_items(60, rng)
    steps = np.full((n, 4), np.nan)
    steps[swap] = ps
    a2, c2 = a.copy(), c.copy()
    a2[swap], c2[swap] = pa, 0.0
    return plain, ItemBank.from_arrays(ids, a2, b, c2, steps=steps)


def cat(bank: ItemBank, thetas: np.ndarray, seed: int) -> dict[str, Any]:
    config = EngineConfig(cut_scores=CUTS)
    start = time.perf_counter()
    result = simulate(bank, config, abilities=thetas, seed=seed)
    seconds = time.perf_counter() - start
    s = result.summary()
    poly = int(result.exposure_counts[bank.polytomous].sum())
    return {
        "mean_length": s["length"]["mean"],
        "rmse": s["rmse"],
        "bias": s["bias"],
        "accuracy_exact": s["classification"]["accuracy_exact"],
        "accuracy_within_one": s["classification"]["accuracy_within_one"],
        "polytomous_share": poly / int(result.exposure_counts.sum()),
        "ms_per_step": 1000 * seconds / result.steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--simulees", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    cal = calibration(args.persons, args.seed)
    print(
        f"calibration: {cal['persons']} persons x 20 GPCM items (k = 2-4), 30 % missing\n"
        f"{'':8}| seconds | corr a | RMSE a | corr steps | RMSE steps"
    )
    for name in ("etest", "girth"):
        r = cal[name]
        print(
            f"{name:8}| {r['seconds']:7.2f} | {r['a']['correlation']:6.3f} | {r['a']['rmse']:6.3f}"
            f" | {r['steps']['correlation']:10.3f} | {r['steps']['rmse']:10.3f}"
        )
    diff = cal["max_abs_difference"]
    print(f"largest |etest - girth|: a {diff['a']:.4f}, steps {diff['steps']:.4f}\n")

    thetas = np.random.default_rng([args.seed, 3]).normal(0.0, 1.0, args.simulees)
    plain, mixed = banks(args.seed)
    rows = {"dichotomous": cat(plain, thetas, args.seed), "mixed": cat(mixed, thetas, args.seed)}
    print(
        f"CAT, {args.simulees} simulees, design default (10 cuts, 95 % interval, SE <= 0.35)\n"
        "bank                  | length | RMSE  | exact | within one | poly share | ms/step"
    )
    labels = {"dichotomous": "300 3PL", "mixed": "240 3PL + 60 GPCM"}
    for key, r in rows.items():
        print(
            f"{labels[key]:22}| {r['mean_length']:6.1f} | {r['rmse']:.3f} | "
            f"{r['accuracy_exact']:.3f} | {r['accuracy_within_one']:10.3f} | "
            f"{r['polytomous_share']:10.3f} | {r['ms_per_step']:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "seed": args.seed,
                "calibration": cal,
                "cat": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
