"""Placement quality by simulation: simulated candidates at each level take a PT flow through the
same engine code that serves real attempts (:mod:`etest.attempt.engines`), answering by the model
of each item: the 2PL/3PL (right with full credit), or the GPCM for an item with steps (a score
0 … k, drawn by inverting the category probabilities). Reports, per true level: exact-level and
within-one-level placement, mean and maximum length; and how often the most used item was
served. Used to choose the PT defaults (``docs/placement.md``).

``guessing`` makes the simulated candidates guess on choice items (single and multiple choice,
hottext) with at least that probability of a right answer, whatever the item's stored ``c``: the
engine keeps scoring with the stored parameters, so a bank stored without ``c`` misplaces
guessers exactly as it would misplace real ones."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from etest import irt
from etest.attempt.engines import Engine, ItemInfo, build_engine
from etest.content.schemas import FlowFile, max_points
from etest.content.service import engine_with_ids

#: Item types a candidate can answer by guessing among the options (hottext: among the pieces
#: of its text).
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice", "hottext"})


@dataclass(frozen=True)
class Bank:
    items: dict[uuid.UUID, ItemInfo]
    by_code: dict[str, uuid.UUID]
    #: The choice items (:data:`CHOICE_TYPES`): the ones ``guessing`` applies to.
    choice: frozenset[uuid.UUID] = frozenset()


def item_uuid(code: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"etest-item:{code}")


def load_bank(folder: Path) -> Bank:
    """Every item of the flow files in ``folder`` (banks and flows), keyed by a stable id."""
    items: dict[uuid.UUID, ItemInfo] = {}
    by_code: dict[str, uuid.UUID] = {}
    choice: set[uuid.UUID] = set()
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if "format" not in data:
            continue
        for item in FlowFile.model_validate(data).items:
            if item.irt is None:
                continue
            key = item_uuid(item.code)
            by_code[item.code] = key
            steps = item.irt.steps if item.irt.model == "GPCM" else None
            items[key] = ItemInfo(
                key,
                item.skill,
                item.level,
                item.irt.a,
                item.irt.b,
                item.irt.c,
                tuple(steps) if steps else None,
                max_points(item.type, item.gaps),
            )
            if item.type in CHOICE_TYPES:
                choice.add(key)
    return Bank(items, by_code, frozenset(choice))


def engine_config(flow: FlowFile, bank: Bank) -> dict[str, Any]:
    """The stored form of a flow's engine, made by the import's own function."""
    assert flow.engine is not None
    config, _ = engine_with_ids(
        flow.engine,
        bank.by_code,
        lambda levels: [c for c, i in bank.by_code.items() if bank.items[i].level in levels],
    )
    return config


@dataclass
class LevelRow:
    level: str
    n: int = 0
    exact: int = 0
    within_one: int = 0
    lengths: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "n": self.n,
            "exact": round(self.exact / self.n, 3) if self.n else None,
            "within_one": round(self.within_one / self.n, 3) if self.n else None,
            "mean_length": round(float(np.mean(self.lengths)), 1) if self.lengths else None,
            "max_length": max(self.lengths) if self.lengths else None,
        }


def bands(cut_scores: list[float], levels: list[str]) -> list[tuple[float, float]]:
    """The ability interval of each level; the open ends are closed one band-width out."""
    width = (
        (cut_scores[-1] - cut_scores[0]) / max(1, len(cut_scores) - 1)
        if len(cut_scores) > 1
        else 1.0
    )
    edges = [cut_scores[0] - 1.5 * width, *cut_scores, cut_scores[-1] + 1.5 * width]
    return [(edges[i], edges[i + 1]) for i in range(len(levels))]


def run_candidate(
    engine: Engine,
    bank: Bank,
    theta: float,
    seed: int,
    rng: np.random.Generator,
    max_steps: int = 200,
    *,
    guessing: float | None = None,
    exposure: dict[uuid.UUID, int] | None = None,
) -> tuple[str | None, int]:
    """One simulated attempt; the candidate's true model is the item's, with the lower asymptote
    raised to ``guessing`` on choice items. Served items are counted into ``exposure``."""
    history: list[tuple[uuid.UUID, int]] = []
    for _ in range(max_steps):
        decision = engine.decide(seed, history, set())
        if decision.item_id is None:
            return decision.level, len(history)
        info = bank.items[decision.item_id]
        history.append((decision.item_id, simulated_points(info, theta, rng, guessing, bank)))
        if exposure is not None:
            exposure[decision.item_id] = exposure.get(decision.item_id, 0) + 1
    return None, len(history)


def simulated_points(
    info: ItemInfo,
    theta: float,
    rng: np.random.Generator,
    guessing: float | None = None,
    bank: Bank | None = None,
) -> int:
    """The points a simulee of ability ``theta`` earns on an item: a GPCM item's score drawn
    from its category probabilities; otherwise full credit (``max_points``) with the
    2PL/3PL probability, else nothing (its parameters describe full credit only)."""
    u = float(rng.random())
    if info.polytomous and info.steps is not None:
        probs = irt.gpcm_probabilities(theta, info.a or 1.0, list(info.steps))
        cumulative = np.cumsum(np.asarray(probs, dtype=float).reshape(-1))
        drawn = int(np.searchsorted(cumulative, u, side="right"))
        return min(drawn, len(info.steps))
    a, b, c = info.a or 1.0, info.b or 0.0, info.c or 0.0
    if guessing is not None and bank is not None and info.id in bank.choice:
        c = max(c, guessing)
    p = c + (1 - c) / (1 + math.exp(-a * (theta - b)))
    return info.max_points if u < p else 0


def study(
    config: dict[str, Any],
    bank: Bank,
    levels: list[str],
    cut_scores: list[float],
    *,
    per_level: int = 100,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    guessing: float | None = None,
    exposure: dict[uuid.UUID, int] | None = None,
) -> list[LevelRow]:
    """Simulate ``per_level`` candidates with abilities spread evenly inside each level band.
    ``guessing``: the candidates' chance of guessing a choice item right (at least the item's
    own ``c``; the engine still uses the stored parameters). ``exposure``: served items are
    counted into it."""
    if guessing is not None and not 0 <= guessing < 1:
        raise ValueError(f"guessing must be in [0, 1), not {guessing}")
    engine = build_engine(config, bank.items, levels)
    rng = np.random.default_rng(seed)
    rows = []
    for index, (level, (low, high)) in enumerate(
        zip(levels, bands(cut_scores, levels), strict=True)
    ):
        row = LevelRow(level)
        for k in range(per_level):
            theta = low + (high - low) * (k + 0.5) / per_level
            placed, length = run_candidate(
                engine,
                bank,
                theta,
                int(rng.integers(2**62)),
                rng,
                guessing=guessing,
                exposure=exposure,
            )
            row.n += 1
            row.lengths.append(length)
            if placed is not None:
                distance = abs(levels.index(placed) - index)
                row.exact += distance == 0
                row.within_one += distance <= 1
            if progress:
                progress(1)
        rows.append(row)
    return rows


def overall(rows: list[LevelRow]) -> dict[str, Any]:
    n = sum(r.n for r in rows)
    lengths = [x for r in rows for x in r.lengths]
    return {
        "level": "all",
        "n": n,
        "exact": round(sum(r.exact for r in rows) / n, 3),
        "within_one": round(sum(r.within_one for r in rows) / n, 3),
        "mean_length": round(float(np.mean(lengths)), 1),
        "max_length": max(lengths),
    }


def flow_study(
    flow_path: Path,
    *,
    per_level: int = 100,
    seed: int = 0,
    levels: list[str] | None = None,
    cut_scores: list[float] | None = None,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    guessing: float | None = None,
    exposure: dict[uuid.UUID, int] | None = None,
) -> dict[str, Any]:
    """Placement quality of one PT flow file, with the bank read from the files beside it.
    Levels and cut scores default to the flow's plan in ``etest/data/reference.json`` and the
    flow's own cut scores (an irt flow) or those of the plan's irt flow beside it.
    ``guessing`` and ``exposure`` as in :func:`study`; the result's ``exposure`` gives the
    largest and the mean share of candidates served an item of the flow."""
    from etest.plan.service import reference_data

    flow = FlowFile.model_validate(json.loads(flow_path.read_text()))
    if flow.kind != "PT" or flow.engine is None:
        raise ValueError(f"{flow_path} is not a placement-test flow")
    bank = load_bank(flow_path.parent)
    if levels is None:
        plan = next(p for p in reference_data()["plans"] if p["code"] == flow.plan)
        levels = [str(lv["level"]) for lv in plan["levels"]]
    if cut_scores is None:
        cut_scores = list(getattr(flow.engine, "cut_scores", []) or []) or _scale_cuts(
            flow_path.parent, levels, reference_data()
        )
    if len(cut_scores) != len(levels) - 1:
        raise ValueError(f"need {len(levels) - 1} cut scores for {flow.plan}")
    config = {**engine_config(flow, bank), **(overrides or {})}
    counts: dict[uuid.UUID, int] = {} if exposure is None else exposure
    rows = study(
        config,
        bank,
        levels,
        cut_scores,
        per_level=per_level,
        seed=seed,
        progress=progress,
        guessing=guessing,
        exposure=counts,
    )
    return {
        "flow": flow.code,
        "engine": config["type"],
        "per_level": per_level,
        "seed": seed,
        "guessing": guessing,
        "settings": {
            k: v for k, v in config.items() if k not in ("pool", "groups", "pool_levels", "type")
        },
        "levels": [r.as_dict() for r in rows],
        "overall": overall(rows),
        "exposure": exposure_rates(counts, _flow_items(config), sum(r.n for r in rows)),
    }


def _flow_items(config: dict[str, Any]) -> set[str]:
    """The ids of the items a stored engine can serve."""
    if config["type"] == "staged":
        return {i for g in config["groups"] for i in g["items"]}
    if config["type"] == "irt":
        return set(config["pool"])
    return {i for s in config["sections"] for i in s["pool"]}


def exposure_rates(
    counts: dict[uuid.UUID, int], items: set[str], candidates: int
) -> dict[str, Any]:
    """Exposure of a flow's items: the share of candidates served the most used item
    (``max_rate``), the mean share over all the flow's items, served or not (``mean_rate``),
    and the share of its items nobody was served."""
    if not items or not candidates:
        return {"items": len(items), "max_rate": None, "mean_rate": None, "never_used": None}
    rates = [counts.get(uuid.UUID(i), 0) / candidates for i in items]
    return {
        "items": len(items),
        "max_rate": round(max(rates), 3),
        "mean_rate": round(sum(rates) / len(rates), 3),
        "never_used": round(sum(r == 0 for r in rates) / len(rates), 3),
    }


def _scale_cuts(folder: Path, levels: list[str], reference: dict[str, Any]) -> list[float]:
    """Cut scores between ``levels`` taken from any irt flow beside them: the ability scale is
    one scale, so a cut between two levels is the same in every plan."""
    plans = {p["code"]: [str(lv["level"]) for lv in p["levels"]] for p in reference["plans"]}
    between: dict[tuple[str, str], float] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        engine = data.get("engine") or {}
        if engine.get("type") == "irt" and data.get("plan") in plans:
            scale = plans[data["plan"]]
            between.update(
                {(scale[i], scale[i + 1]): float(c) for i, c in enumerate(engine["cut_scores"])}
            )
    return [
        between[(levels[i], levels[i + 1])]
        for i in range(len(levels) - 1)
        if (levels[i], levels[i + 1]) in between
    ]


def markdown(result: dict[str, Any]) -> str:
    guessing = result.get("guessing")
    guess = f"; choice items guessed at {guessing}" if guessing is not None else ""
    lines = [
        f"**{result['flow']}** ({result['engine']}; {result['per_level']} simulated "
        f"candidates per level, seed {result['seed']}{guess})",
        "",
        "| True level | Exact | Within one | Mean length | Max length |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in [*result["levels"], result["overall"]]:
        lines.append(
            f"| {row['level']} | {row['exact']:.1%} | {row['within_one']:.1%} | "
            f"{row['mean_length']} | {row['max_length']} |"
        )
    exposure = result.get("exposure") or {}
    if exposure.get("max_rate") is not None:
        lines += [
            "",
            f"Exposure over the flow's {exposure['items']} items: most used item "
            f"{exposure['max_rate']:.1%} of candidates, mean {exposure['mean_rate']:.1%}, "
            f"never used {exposure['never_used']:.1%}.",
        ]
    return "\n".join(lines)
