"""2PL calibration speed and parameter recovery on sparse data.

20,000 simulated candidates × 100 items, 70 % of the cells missing at random (NaN), responses
from a 2PL with a ~ lognormal(0, 0.3) and b ~ N(0, 1), θ ~ N(0, 1). Times ``etest.irt.calibrate``
(Bock–Aitkin EM, 41 quadrature nodes, default convergence rule) and reports how well it recovers
the generating parameters, and whether the reported standard errors match the actual errors.
Target: under 30 s on the 2-core reference machine, correlation above 0.95 for a and for b.

Run:  .venv/bin/python bench/irt_calibration.py      (writes bench/results/irt_calibration.json)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from etest.irt import calibrate, probability

RESULTS = Path(__file__).parent / "results" / "irt_calibration.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--missing", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=20240602)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    a = rng.lognormal(0.0, 0.3, args.items)
    b = rng.normal(0.0, 1.0, args.items)
    theta = rng.normal(0.0, 1.0, args.persons)
    x = (rng.random((args.persons, args.items)) < probability(theta, a, b)).astype(float)
    x[rng.random(x.shape) < args.missing] = np.nan
    observed = float(np.mean(~np.isnan(x)))

    start = time.perf_counter()
    cal = calibrate(x, "2pl")
    seconds = time.perf_counter() - start

    err_a, err_b = cal.a - a, cal.b - b
    result = {
        "command": "python bench/irt_calibration.py",
        "persons": args.persons,
        "items": args.items,
        "observed_share": observed,
        "seed": args.seed,
        "seconds": seconds,
        "iterations": cal.iterations,
        "converged": cal.converged,
        "log_likelihood": cal.log_likelihood,
        "final_log_likelihood_change": cal.log_likelihood_change,
        "final_max_parameter_change": cal.max_parameter_change,
        "corr_a": float(np.corrcoef(a, cal.a)[0, 1]),
        "corr_b": float(np.corrcoef(b, cal.b)[0, 1]),
        "rmse_a": float(np.sqrt(np.mean(err_a**2))),
        "rmse_b": float(np.sqrt(np.mean(err_b**2))),
        "mean_se_a": float(np.mean(cal.se_a)),
        "sd_error_a": float(np.std(err_a)),
        "mean_se_b": float(np.mean(cal.se_b)),
        "sd_error_b": float(np.std(err_b)),
        "theta_correlation": float(np.corrcoef(theta, cal.theta)[0, 1]),
        "machine": {"python": platform.python_version(), "numpy": np.__version__},
    }
    print(f"2PL, {args.persons} persons x {args.items} items, {observed:.0%} of cells observed")
    print(f"time {seconds:.2f} s, {cal.iterations} EM cycles, converged {cal.converged}")
    print(f"corr(a) {result['corr_a']:.4f}  corr(b) {result['corr_b']:.4f}")
    print(f"RMSE a {result['rmse_a']:.4f}  RMSE b {result['rmse_b']:.4f}")
    print(
        f"mean SE a {result['mean_se_a']:.4f} vs SD of error {result['sd_error_a']:.4f}; "
        f"mean SE b {result['mean_se_b']:.4f} vs SD of error {result['sd_error_b']:.4f}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
