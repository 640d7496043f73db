"""Placement quality of the demo PT flows, and the alternatives their defaults were chosen from.

    .venv/bin/python bench/placement_quality.py [--per-level 200]
    .venv/bin/python bench/placement_quality.py --guessing [--per-level 200]

Each row is what `etest simulate src/etest/data/demo/<flow>.json --per-level N` prints for that
flow with the stated overrides. Writes bench/results/placement_quality.json and prints markdown
tables (pasted into docs/placement.md).

``--guessing`` prints the before/after table of docs/placement.md instead: ``pt_neo_plus`` with
candidates who guess on choice items (``flow_study(guessing=...)``), on the demo bank of
``--before`` (a git revision; by default the last one whose bank had no guessing parameters, read
from git into a temporary folder) and on the bank as it is now."""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from etest.attempt.quality import flow_study, markdown

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "etest" / "data" / "demo"
#: The last commit whose demo bank was 2PL: every item without c, the flow at version 2.
BEFORE = "1ad962e"
#: (bank, the candidates' guessing on choice items; None: they answer by the stored model).
GUESSING: list[tuple[str, float | None]] = [
    ("before", 0.2),
    ("before", 0.25),
    ("now", 0.25),
    ("now", None),
]
CHOICES = {
    "pt_neo_plus.json": [
        {"prior": {"mean": 0.0, "sd": 1.0}},
        {"prior": {"mean": 0.0, "sd": 2.0}},
        {"se_target": 0.35},
        {"randomesque": 3},
        {"max_items": 45, "se_target": 0.33},
    ],
    "pt_neo_plus_staged.json": [
        {"advance_threshold": a, "stop_threshold": s, "max_consecutive_wrong": m}
        for a, s, m in ((0.8, 0.5, 3), (0.7, 0.3, 5), (0.6, 0.4, 5), (0.6, 0.2, 50))
    ],
    "pt_neo_jr.json": [
        {"advance_threshold": a, "stop_threshold": s, "max_consecutive_wrong": m}
        for a, s, m in ((0.8, 0.5, 3), (0.6, 0.4, 5), (0.8, 0.4, 5), (0.6, 0.2, 50))
    ],
}


def demo_at(revision: str, folder: Path) -> Path:
    """The demo folder's JSON files as of a git revision, written into ``folder``."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, "src/etest/data/demo/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in names:
        if name.endswith(".json"):
            data = subprocess.run(
                ["git", "show", f"{revision}:{name}"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            (folder / Path(name).name).write_bytes(data)
    return folder


def guessing_table(per_level: int, seed: int, before: str) -> dict[str, Any]:
    """pt_neo_plus with guessers on the bank of ``before`` and on the current bank."""
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"before": demo_at(before, Path(tmp)), "now": DEMO}
        runs = [
            {
                "bank": bank,
                "guessing": guess,
                "result": flow_study(
                    folders[bank] / "pt_neo_plus.json",
                    per_level=per_level,
                    seed=seed,
                    guessing=guess,
                ),
            }
            for bank, guess in GUESSING
        ]
    titles = [
        f"{'2PL bank (' + before + ')' if r['bank'] == 'before' else '3PL bank (now)'}, "
        + (f"guessing {r['guessing']}" if r["guessing"] is not None else "truth = model")
        for r in runs
    ]
    print(
        f"**pt_neo_plus with guessers** ({per_level} simulated candidates per level, seed "
        f"{seed}); each cell: exact / within one level / mean length\n"
    )
    print("| True level | " + " | ".join(titles) + " |")
    print("|---|" + "---:|" * len(runs))
    results = [r["result"] for r in runs]
    for n, row in enumerate([*results[0]["levels"], results[0]["overall"]]):
        cells = [
            (res["levels"][n] if n < len(res["levels"]) else res["overall"]) for res in results
        ]
        print(
            f"| {row['level']} | "
            + " | ".join(
                f"{c['exact']:.1%} / {c['within_one']:.1%} / {c['mean_length']}" for c in cells
            )
            + " |"
        )
    print(
        "| worst level within one | "
        + " | ".join(f"{min(x['within_one'] for x in res['levels']):.1%}" for res in results)
        + " |",
        flush=True,
    )
    return {"before": before, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-level", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--guessing", action="store_true", help="print the before/after table of guessers only"
    )
    parser.add_argument("--before", default=BEFORE, help="git revision of the 2PL demo bank")
    args = parser.parse_args()
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    path = results / "placement_quality.json"
    if args.guessing:
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved["guessing"] = guessing_table(args.per_level, args.seed, args.before)
        path.write_text(json.dumps(saved, indent=1))
        return
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
            setting = ", ".join(
                f"prior=N({v['mean']}, {v['sd']})" if k == "prior" else f"{k}={v}"
                for k, v in alt["overrides"].items()
            )
            print(
                f"| {setting} | {o['exact']:.1%} | {o['within_one']:.1%} | "
                f"{alt['worst_level_within_one']:.1%} | {o['mean_length']} | "
                f"{o['max_length']} |",
                flush=True,
            )
        print()
        out[flow] = {"default": final, "alternatives": alternatives}
    if path.exists() and "guessing" in (saved := json.loads(path.read_text())):
        out["guessing"] = saved["guessing"]
    path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
