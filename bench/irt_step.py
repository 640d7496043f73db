"""Per-step speed and accuracy of etest.irt against catsim on the same banks and candidates.

For banks of 300, 1,000 and 5,000 3PL items and the same simulated candidates (true θ ~ N(0, 1)),
both engines run the same rules: randomesque selection among the 5 most informative items, start
at θ = 0, stop when SE ≤ 0.35 with 10 to 40 items. catsim (0.21) estimates by maximum likelihood
(bounded search, Dodd's heuristic for perfect patterns) with SE = 1/√I(θ̂); etest.irt by EAP
(N(0, 1) prior, 121 nodes) with the posterior SD as SE. "Per step" is the wall time of the whole
simulation (select + estimate + stop check + simulated answer) divided by the items administered.

Also timed: etest.irt's stateless ``next_step`` (rebuild an attempt from 20 responses, then
select), and the design's default configuration (10 cut scores, 95 % interval classification
stop, content balancing over four skills).

Each engine is timed ``--repeats`` times (default 2) and the fastest run counts: the machine is
shared and a burst of load elsewhere should not decide the comparison.

Run:  .venv/bin/python bench/irt_step.py            (writes bench/results/irt_step.json)
      .venv/bin/python bench/irt_step.py --simulees 200 --sizes 300   (a quick look)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from catsim.estimation import NumericalSearchEstimator
from catsim.initialization import FixedPointInitializer
from catsim.item_bank import ItemBank as CatsimBank
from catsim.selection import RandomesqueSelector
from catsim.simulation import Simulator
from catsim.stopping import MinErrorStopper

from etest.irt import CatEngine, EngineConfig, ItemBank, next_step, simulate

RESULTS = Path(__file__).parent / "results" / "irt_step.json"
CUTS = (-2.7, -2.1, -1.5, -0.9, -0.3, 0.3, 0.9, 1.5, 2.1, 2.7)
SKILLS = ("listening", "reading", "grammar", "vocabulary")


def make_bank(n: int, seed: int) -> ItemBank:
    """A plausible 3PL bank: a ~ lognormal(0, 0.3) in [0.4, 2.5], b ~ N(0, 1.3), c ~ U(.15, .25)."""
    rng = np.random.default_rng([seed, n])
    a = np.clip(rng.lognormal(0.0, 0.3, n), 0.4, 2.5)
    b = rng.normal(0.0, 1.3, n)
    c = rng.uniform(0.15, 0.25, n)
    skills = [SKILLS[j % 4] for j in range(n)]
    return ItemBank.from_arrays([f"item-{j:05d}" for j in range(n)], a, b, c, skills=skills)


def run_catsim(bank: ItemBank, thetas: np.ndarray, seed: int) -> dict[str, Any]:
    items = np.column_stack([bank.a, bank.b, bank.c, bank.d])
    sim = Simulator(CatsimBank(items), thetas, seed=seed)
    start = time.perf_counter()
    sim.simulate(
        FixedPointInitializer(0.0),
        RandomesqueSelector(5),
        NumericalSearchEstimator(),
        MinErrorStopper(0.35, min_items=10, max_items=40),
    )
    seconds = time.perf_counter() - start
    lengths = np.array([len(x) for x in sim.administered_items])
    est = np.array(sim.latest_estimations)
    err = est - thetas
    return {
        "ms_per_step": 1000 * seconds / lengths.sum(),
        "seconds": seconds,
        "mean_length": float(lengths.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "bias": float(err.mean()),
    }


def run_etest(
    bank: ItemBank, config: EngineConfig, thetas: np.ndarray, seed: int
) -> dict[str, Any]:
    bank = bank.subset(range(len(bank)))  # a fresh bank object: its caches start cold
    start = time.perf_counter()
    engine = CatEngine(bank, config)  # preparation, selection index included, is timed
    result = simulate(bank, config, abilities=thetas, seed=seed, engine=engine)
    seconds = time.perf_counter() - start
    summary = result.summary()
    return {
        "ms_per_step": 1000 * seconds / result.steps,
        "seconds": seconds,
        "mean_length": summary["length"]["mean"],
        "rmse": summary["rmse"],
        "bias": summary["bias"],
        "accuracy_exact": summary["classification"]["accuracy_exact"],
        "accuracy_within_one": summary["classification"]["accuracy_within_one"],
        "stop_reasons": summary["stop_reasons"],
        "max_exposure": summary["exposure"]["max_rate"],
    }


def time_next_step(bank: ItemBank, config: EngineConfig, repeats: int = 200) -> float:
    """Median ms of a stateless next_step call after 20 responses (fresh engine each call)."""
    history = config.replace(se_target=None, min_information=0.0)
    engine = CatEngine(bank, history)
    state = engine.start(7)
    for j in range(20):
        step = state.step()
        assert step.item is not None
        state.record(step.item, j % 2)
    adm, resp = list(state.administered), list(state.responses)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        next_step(bank, config, 7, adm, resp)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulees", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 5000])
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--repeats", type=int, default=2, help="time each engine this many times, keep the fastest"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    same_rules = EngineConfig(
        cut_scores=(),
        classification="off",
        randomesque_k=5,
        min_items=10,
        max_items=40,
        se_target=0.35,
        min_information=0.0,
    )
    design = EngineConfig(cut_scores=CUTS, content_targets=dict.fromkeys(SKILLS, 0.25))
    thetas = np.random.default_rng(args.seed).normal(0.0, 1.0, args.simulees)
    rows = []
    for size in args.sizes:
        bank = make_bank(size, args.seed)
        # The machine is shared: each engine runs `repeats` times (same inputs, same results) and
        # the fastest run counts, so a burst of load elsewhere does not decide the comparison.
        cat = min(
            (run_catsim(bank, thetas, args.seed) for _ in range(args.repeats)),
            key=lambda r: r["ms_per_step"],
        )
        ours = min(
            (run_etest(bank, same_rules, thetas, args.seed) for _ in range(args.repeats)),
            key=lambda r: r["ms_per_step"],
        )
        default = run_etest(bank, design, thetas, args.seed)
        rows.append(
            {
                "items": size,
                "catsim": cat,
                "etest_same_rules": ours,
                "etest_design_default": default,
                "speedup": cat["ms_per_step"] / ours["ms_per_step"],
                "next_step_stateless_ms": time_next_step(bank, same_rules),
            }
        )
        r = rows[-1]
        print(
            f"{size:>5} items  catsim {cat['ms_per_step']:.3f} ms/step  "
            f"etest {ours['ms_per_step']:.3f} ms/step  speedup {r['speedup']:.1f}x",
            flush=True,
        )

    print()
    header = (
        f"{'items':>5} | {'catsim ms/step':>14} | {'etest ms/step':>13} | {'speedup':>7} | "
        f"{'catsim RMSE':>11} | {'etest RMSE':>10} | {'catsim len':>10} | {'etest len':>9} | "
        f"{'next_step ms':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        c, o = r["catsim"], r["etest_same_rules"]
        print(
            f"{r['items']:>5} | {c['ms_per_step']:>14.3f} | {o['ms_per_step']:>13.3f} | "
            f"{r['speedup']:>6.1f}x | {c['rmse']:>11.3f} | {o['rmse']:>10.3f} | "
            f"{c['mean_length']:>10.1f} | {o['mean_length']:>9.1f} | "
            f"{r['next_step_stateless_ms']:>12.3f}"
        )
    print()
    print("design default (10 cuts, 95% interval stop, 4-skill balancing):")
    for r in rows:
        d = r["etest_design_default"]
        print(
            f"{r['items']:>5} items: {d['ms_per_step']:.3f} ms/step, "
            f"length {d['mean_length']:.1f}, RMSE {d['rmse']:.3f}, "
            f"exact {d['accuracy_exact']:.3f}, within one {d['accuracy_within_one']:.3f}, "
            f"stops {d['stop_reasons']}"
        )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "command": "python bench/irt_step.py "
                + f"--simulees {args.simulees} --seed {args.seed}",
                "simulees": args.simulees,
                "seed": args.seed,
                "machine": {
                    "python": platform.python_version(),
                    "processor": platform.processor(),
                    "numpy": np.__version__,
                },
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
