"""Mixed-format placement: the service's placement simulation with and without cloze items.

The same simulated candidates take the demo placement test (``pt_neo_plus``: EAP with the
N(0, 1.5) prior, SE ≤ 0.30, 10–40 items, randomesque 5, the four skills a quarter each) through
the service's own engine (:class:`etest.attempt.engines.IrtEngine`, as
:mod:`etest.attempt.quality` runs it), on three banks:

1. **0/1 only**: the demo bank without its gap items (every other item: 3PL choice items, 2PL
   typed, ordering and matching items).
2. **+ cloze, GPCM**: the same bank with cloze items added until they are 20 % of it (3, 4 or
   5 gaps; spread over the levels like the demo bank: ``b`` in the level's band, the steps
   spread over 1.2 band widths around it, ``a`` ~ N(1.1, 0.17) in 0.8–1.6); the engine scores
   them 0 … k (the GPCM).
3. **+ cloze, full credit only**: the same cloze items, answered gap by gap as in 2, but the
   engine sees each one as right only with every gap right, with a 2PL fitted to the GPCM's
   probability of full credit (what ``docs/placement.md`` does with a dichotomous-model item
   that has several gaps).

Candidates: ``--per-level`` of them spread evenly inside each level's ability band (the
:func:`etest.attempt.quality.bands`), the same abilities and seeds in every condition. Printed
per condition: exact and within-one placement (with their Monte Carlo SE), mean length, mean
reported SE at the stop, RMSE of θ̂, and the share of served items that were cloze items. Then
what partial credit buys per item: the information of a cloze item at its ``b`` under the GPCM
against the 2PL of its full credit.

Run:  .venv/bin/python bench/mixed_format.py    (writes bench/results/mixed_format.json)
      .venv/bin/python bench/mixed_format.py --per-level 20 --out /tmp/mf.json   (a quick look)
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from etest import irt
from etest.attempt.engines import IrtEngine, ItemInfo
from etest.attempt.quality import Bank, bands, load_bank, simulated_points

DEMO = Path(__file__).resolve().parents[1] / "src" / "etest" / "data" / "demo"
RESULTS = Path(__file__).parent / "results" / "mixed_format.json"
LEVELS = ["Pre A1", "A1", "A1+", "A2", "A2+", "B1", "B1+", "B2", "B2+", "C1", "C1-Bridge"]
CUTS = [-2.25, -1.75, -1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1.75, 2.25]
#: The demo bank's bands (scripts/demo_bank_params.py): the outer levels end at ±3.
BANDS = {
    "Pre A1": (-3.0, -2.3),
    **{LEVELS[i]: (CUTS[i - 1], CUTS[i]) for i in range(1, 10)},
    "C1-Bridge": (2.3, 3.0),
}
SKILLS = ("reading", "grammar", "vocabulary")


def config(ids: list[uuid.UUID]) -> dict[str, Any]:
    """The stored engine of ``pt_neo_plus`` over a pool of ``ids``."""
    flow = json.loads((DEMO / "pt_neo_plus.json").read_text())["engine"]
    settings = {k: v for k, v in flow.items() if k not in ("pool_levels",)}
    return {**settings, "pool": [str(i) for i in ids]}


def cloze_items(n: int, rng: np.random.Generator) -> list[ItemInfo]:
    """``n`` GPCM cloze items spread over the levels (3–5 gaps)."""
    out = []
    for j in range(n):
        level = LEVELS[j % len(LEVELS)]
        lo, hi = BANDS[level]
        b = rng.uniform(lo, hi)
        k = 3 + j % 3
        width = 1.2 * (hi - lo)
        raw = [b + width * (v / (k - 1) - 0.5) + 0.1 * (rng.random() - 0.5) for v in range(k)]
        shift = b - sum(raw) / k
        steps = tuple(round(s + shift, 3) for s in raw)
        a = float(np.clip(rng.normal(1.1, 0.17), 0.8, 1.6))
        item_id = uuid.uuid5(uuid.NAMESPACE_URL, f"etest-bench-cloze:{j}")
        out.append(ItemInfo(item_id, SKILLS[j % 3], level, round(a, 2), b, 0.0, steps, k))
    return out


def full_credit_2pl(item: ItemInfo) -> tuple[float, float]:
    """``(a, b)`` of the 2PL closest to the GPCM's probability of full credit (least squares
    on the logit where it lies in 2 %–98 %)."""
    assert item.steps is not None and item.a is not None
    theta = np.linspace(-6, 6, 481)
    p = irt.gpcm_probabilities(theta, item.a, list(item.steps)).reshape(theta.size, -1)[:, -1]
    keep = (p > 0.02) & (p < 0.98)
    slope, intercept = np.polyfit(theta[keep], np.log(p[keep] / (1 - p[keep])), 1)
    return float(slope), float(-intercept / slope)


def as_full_credit(item: ItemInfo) -> ItemInfo:
    """The same cloze item as the engine sees a dichotomous-model item with several gaps."""
    a, b = full_credit_2pl(item)
    return replace(item, a=a, b=b, c=0.0, steps=None)


def run(
    engine: IrtEngine,
    truth: dict[uuid.UUID, ItemInfo],
    theta: float,
    seed: int,
    rng: np.random.Generator,
    cloze: set[uuid.UUID],
) -> tuple[int | None, int, float, float, int]:
    """One candidate: (placed level index, length, reported SE, θ̂, cloze items served).
    Answers are drawn from the true items (a cloze item gap by gap)."""
    history: list[tuple[uuid.UUID, int]] = []
    served_cloze = 0
    for _ in range(200):
        decision = engine.decide(seed, history, set())
        if decision.item_id is None:
            level = LEVELS.index(decision.level) if decision.level in LEVELS else None
            return level, len(history), decision.se or math.nan, decision.theta or 0.0, served_cloze
        served_cloze += decision.item_id in cloze
        history.append((decision.item_id, simulated_points(truth[decision.item_id], theta, rng)))
    return None, len(history), math.nan, math.nan, served_cloze


def condition(
    name: str,
    seen: dict[uuid.UUID, ItemInfo],
    truth: dict[uuid.UUID, ItemInfo],
    cloze: set[uuid.UUID],
    per_level: int,
    seed: int,
) -> dict[str, Any]:
    engine = IrtEngine(config(list(seen)), seen, LEVELS)
    rng = np.random.default_rng(seed)
    exact = within = length = cloze_served = 0
    ses: list[float] = []
    errors: list[float] = []
    n = 0
    start = time.perf_counter()
    for index, (low, high) in enumerate(bands(CUTS, LEVELS)):
        for k in range(per_level):
            theta = low + (high - low) * (k + 0.5) / per_level
            placed, used, se, estimate, by_cloze = run(
                engine, truth, theta, int(rng.integers(2**62)), rng, cloze
            )
            n += 1
            length += used
            cloze_served += by_cloze
            ses.append(se)
            errors.append(estimate - theta)
            if placed is not None:
                exact += placed == index
                within += abs(placed - index) <= 1
    seconds = time.perf_counter() - start

    def share(count: int) -> dict[str, float]:
        p = count / n
        return {"rate": round(p, 4), "mc_se": round(math.sqrt(p * (1 - p) / n), 4)}

    return {
        "condition": name,
        "bank_items": len(seen),
        "cloze_items": len(cloze),
        "candidates": n,
        "exact": share(exact),
        "within_one": share(within),
        "mean_length": round(length / n, 2),
        "mean_se": round(float(np.nanmean(ses)), 4),
        "rmse": round(float(np.sqrt(np.nanmean(np.square(errors)))), 4),
        "cloze_share_of_served": round(cloze_served / length, 4),
        "seconds": round(seconds, 1),
    }


def information(items: list[ItemInfo]) -> dict[str, Any]:
    """Mean information of the cloze items at their own ``b``: GPCM against full credit."""
    rows: dict[int, list[tuple[float, float]]] = {}
    for item in items:
        assert item.steps is not None and item.b is not None and item.a is not None
        gpcm = float(irt.gpcm_information(item.b, item.a, list(item.steps)).reshape(-1)[0])
        a, b = full_credit_2pl(item)
        binary = float(irt.item_information(item.b, a, b).reshape(-1)[0])
        rows.setdefault(item.max_points, []).append((gpcm, binary))
    return {
        str(k): {
            "items": len(v),
            "gpcm": round(float(np.mean([g for g, _ in v])), 3),
            "full_credit_2pl": round(float(np.mean([b for _, b in v])), 3),
        }
        for k, v in sorted(rows.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-level", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--share", type=float, default=0.2, help="cloze share of the bank")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    demo: Bank = load_bank(DEMO)
    plain = {i: info for i, info in demo.items.items() if info.max_points == 1}
    count = round(len(plain) * args.share / (1 - args.share))
    items = cloze_items(count, np.random.default_rng([args.seed, 1]))
    cloze = {c.id for c in items}
    mixed = {**plain, **{c.id: c for c in items}}
    binary = {**plain, **{c.id: as_full_credit(c) for c in items}}
    rows = [
        condition("0/1 only", plain, plain, set(), args.per_level, args.seed),
        condition("+ cloze, GPCM", mixed, mixed, cloze, args.per_level, args.seed),
        condition("+ cloze, full credit only", binary, mixed, cloze, args.per_level, args.seed),
    ]
    print(
        f"pt_neo_plus's engine, {args.per_level} candidates per level x {len(LEVELS)} levels, "
        f"seed {args.seed}; {len(plain)} 0/1 items, {count} cloze items (3-5 gaps)\n"
        "condition                  | items | exact         | within one    | length | SE    "
        "| RMSE  | cloze served"
    )
    for r in rows:
        print(
            f"{r['condition']:27}| {r['bank_items']:5} | {r['exact']['rate']:.3f} ± "
            f"{r['exact']['mc_se']:.3f} | {r['within_one']['rate']:.3f} ± "
            f"{r['within_one']['mc_se']:.3f} | {r['mean_length']:6.2f} | {r['mean_se']:.3f} | "
            f"{r['rmse']:.3f} | {r['cloze_share_of_served']:.3f}"
        )
    info = information(items)
    print("\ninformation of a cloze item at its b (mean): gaps | GPCM | full credit (2PL)")
    for k, v in info.items():
        print(f"  {k} gaps ({v['items']} items) | {v['gpcm']:.3f} | {v['full_credit_2pl']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "seed": args.seed,
                "per_level": args.per_level,
                "conditions": rows,
                "information_at_b": info,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
