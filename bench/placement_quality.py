"""Placement quality of the demo PT flows, and the alternatives their defaults were chosen from.

    .venv/bin/python bench/placement_quality.py [--per-level 200]

Each row is what `etest simulate src/etest/data/demo/<flow>.json --per-level N` prints for that
flow with the stated overrides. Writes bench/results/placement_quality.json and prints markdown
tables (pasted into docs/placement.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from etest.attempt.quality import flow_study, markdown

DEMO = Path(__file__).resolve().parents[1] / "src" / "etest" / "data" / "demo"
CHOICES = {
    "pt_neo_plus.json": [{"se_target": se} for se in (0.35, 0.32, 0.3, 0.28)],
    "pt_neo_plus_staged.json": [
        {"advance_threshold": a, "stop_threshold": s, "max_consecutive_wrong": m}
        for a, s, m in ((0.8, 0.5, 3), (0.7, 0.3, 5), (0.6, 0.4, 5), (0.6, 0.2, 50))
    ],
    "pt_neo_jr.json": [
        {"advance_threshold": a, "stop_threshold": s, "max_consecutive_wrong": m}
        for a, s, m in ((0.8, 0.5, 3), (0.6, 0.4, 5), (0.6, 0.2, 50))
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-level", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    out: dict[str, object] = {}
    for flow, variants in CHOICES.items():
        final = flow_study(DEMO / flow, per_level=args.per_level, seed=args.seed)
        print(markdown(final), "\n", flush=True)
        alternatives = []
        for overrides in variants:
            result = flow_study(
                DEMO / flow, per_level=args.per_level // 2, seed=args.seed, overrides=overrides
            )
            alternatives.append(
                {
                    "overrides": overrides,
                    "overall": result["overall"],
                    "worst_level_within_one": min(r["within_one"] for r in result["levels"]),
                }
            )
        print(f"| {flow} setting | Exact | Within one | Worst level within one | Mean | Max |")
        print("|---|---:|---:|---:|---:|---:|")
        for alt in alternatives:
            o = alt["overall"]
            setting = ", ".join(f"{k}={v}" for k, v in alt["overrides"].items())
            print(
                f"| {setting} | {o['exact']:.1%} | {o['within_one']:.1%} | "
                f"{alt['worst_level_within_one']:.1%} | {o['mean_length']} | "
                f"{o['max_length']} |",
                flush=True,
            )
        print()
        out[flow] = {"default": final, "alternatives": alternatives}
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "placement_quality.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
