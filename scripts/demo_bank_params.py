#!/usr/bin/env python3
"""Set the IRT parameters of the demo bank (``src/etest/data/demo/bank-*.json``) by formula.

For maintainers; stdlib only. The parameters are made up, **not calibrated**: they give a demo
bank that behaves like a real one until `etest calibrate` replaces them (docs/demo-bank.md).

    scripts/demo_bank_params.py           # rewrite the ``irt`` of every bank item; bump the
                                          # ``version`` of a bank file whose parameters changed
    scripts/demo_bank_params.py --check   # write nothing; exit 1 if a file differs

Only ``irt`` (and a changed file's ``version``) is written: codes, texts, keys and media stay as
they are. The same files give the same bytes; a second run changes nothing. The formula, per
level and skill, for the cell's ``n`` items in the order they appear in the file (the order they
were written, roughly easier to harder):

- ``b`` of the ``k``-th item (k = 0 .. n-1) in the level's band ``lo .. hi`` (cut scores -2.25 ..
  2.25, 0.5 apart; Pre A1 -3.0 .. -2.3, C1-Bridge 2.3 .. 3.0):
  ``lo + (hi - lo) / n * (k + 0.5 + 0.6 * (u - 0.5))``, so evenly spread with a jitter of at most
  0.3 of a step: never on a cut score, never all on the centre;
- ``a`` = ``1.1 + 0.17 * z`` clipped to 0.8 .. 1.6;
- ``c`` (choice items only, model ``3PL``): the chance of a blind guess, 1 / number of options for
  single choice (0.25 with four options) and 1 / C(options, keys) for multiple choice (0.1 for
  "Which TWO" of five) and hottext (one piece of text of the body's pieces); the other dichotomous
  types (text entry, ordering, matching) are ``2PL`` without ``c``;
- items with gaps (cloze, gap_match) are scored 0 .. k, one point a gap, and get the ``GPCM``:
  ``a`` as above and ``k`` step difficulties spread evenly over ``STEP_SPREAD`` times the band's
  width around the item's ``b`` (the first gap's step the easiest), each with a jitter of at most
  0.05, recentred so that their mean is ``b`` again; ``b`` is written too (the mean, as the flow
  format stores it).

The gap items (cloze, gap_match, hottext; issue 17) are cells of their own: ``n`` counts the gap
items of the level and skill, not the others, so adding them left every older item's parameters
as they were.

``u`` is uniform on [0, 1) and ``z`` standard normal (Box-Muller), both from SHA-256 of
``SEED:code:name``: an item keeps its draws whatever else changes in the bank.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "etest" / "data" / "demo"
SEED = "etest-demo-bank-1"
LEVELS = ["Pre A1", "A1", "A1+", "A2", "A2+", "B1", "B1+", "B2", "B2+", "C1", "C1-Bridge"]
CUTS = [-2.25, -1.75, -1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1.75, 2.25]
#: The band of each level: between its cut scores; the outer levels end at -3.0 and 3.0 with a
#: margin from the cut (the bands that tests/content/test_demo_bank.py checks).
BANDS = {
    "Pre A1": (-3.0, -2.3),
    **{LEVELS[i]: (CUTS[i - 1], CUTS[i]) for i in range(1, 10)},
    "C1-Bridge": (2.3, 3.0),
}
A_MEAN, A_SD, A_MIN, A_MAX = 1.1, 0.17, 0.8, 1.6
JITTER = 0.6
#: The width the GPCM steps of a gap item cover, as a share of its level's band.
STEP_SPREAD = 1.2
STEP_JITTER = 0.1
#: Item types with a body of [[id]] markers (etest.content.schemas.BODY_TYPES) and those of them
#: scored one point a gap.
BODY_TYPES = ("cloze", "gap_match", "hottext")
GAP_TYPES = ("cloze", "gap_match")


def uniform(code: str, name: str) -> float:
    """A number in [0, 1) fixed by the item code: the first 8 bytes of a SHA-256."""
    digest = hashlib.sha256(f"{SEED}:{code}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def normal(code: str, name: str) -> float:
    u1, u2 = uniform(code, name + "1"), uniform(code, name + "2")
    return math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)


def guessing(item: dict[str, Any]) -> float | None:
    """The blind-guess chance of a choice item; None for the other types."""
    options = len(item.get("options", []))
    if item["type"] == "single_choice":
        return 1 / options
    if item["type"] in ("multiple_choice", "hottext"):
        return 1 / math.comb(options, len(item["key"]["correct"]))
    return None


def steps(item: dict[str, Any], b: float) -> list[float]:
    """The GPCM step difficulties of a gap item: one a gap, evenly spread around ``b``."""
    lo, hi = BANDS[item["level"]]
    k = len(item["gaps"])
    width = STEP_SPREAD * (hi - lo)
    raw = [
        b + width * (j / (k - 1) - 0.5) + STEP_JITTER * (uniform(item["code"], f"s{j}") - 0.5)
        for j in range(k)
    ]
    shift = b - sum(raw) / k
    return [round(s + shift, 3) for s in raw]


def params(item: dict[str, Any], k: int, n: int) -> dict[str, Any]:
    lo, hi = BANDS[item["level"]]
    code = item["code"]
    b = lo + (hi - lo) / n * (k + 0.5 + JITTER * (uniform(code, "b") - 0.5))
    a = min(A_MAX, max(A_MIN, A_MEAN + A_SD * normal(code, "a")))
    if item["type"] in GAP_TYPES:
        at = steps(item, b)
        return {"model": "GPCM", "a": round(a, 2), "b": round(sum(at) / len(at), 6), "steps": at}
    c = guessing(item)
    if c is None:
        return {"model": "2PL", "a": round(a, 2), "b": round(b, 3)}
    return {"model": "3PL", "a": round(a, 2), "b": round(b, 3), "c": round(c, 3)}


def with_params(bank: dict[str, Any]) -> dict[str, Any]:
    """A copy of a bank file with every item's ``irt`` set by the formula."""
    out = json.loads(json.dumps(bank))
    cells: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
    for item in out["items"]:
        gap = item["type"] in BODY_TYPES
        cells.setdefault((item["level"], item["skill"], gap), []).append(item)
    for cell in cells.values():
        for k, item in enumerate(cell):
            item["irt"] = params(item, k, len(cell))
    if [i["irt"] for i in out["items"]] != [i.get("irt") for i in bank["items"]]:
        out["version"] = bank["version"] + 1
    return out


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a diff")
    parser.add_argument("--demo-dir", type=Path, default=DEMO)
    args = parser.parse_args(argv)
    stale = []
    for path in sorted(args.demo_dir.glob("bank-*.json")):
        bank = json.loads(path.read_text(encoding="utf-8"))
        new = with_params(bank)
        if new == bank:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(dump(new), encoding="utf-8")
            print(f"{path.name}: version {bank['version']} -> {new['version']}")
    if args.check and stale:
        print("parameters differ from scripts/demo_bank_params.py:", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
