"""The three engines behind one interface. An engine is built from a pinned assessment version
and its items (cached per process by version: both are immutable) and answers one question:
given the seed, the items served so far with their scores, and the items the candidate saw in
earlier attempts — which item comes next, or why does the test stop? Nothing else is kept, so
any process can serve any attempt.

* ``fixed`` (CT): sections drawn from their pools, unseen items first, shuffled by the seed.
* ``staged`` (PT): core groups level by level, refinement groups between plus-levels.
* ``irt`` (PT): :mod:`etest.irt` — EAP, maximum information, classification stop.

The history is one *score* per answered operational item: the points it earned (``responses
.points``; 1 or 0 for an item scored right or wrong; 0 for a position whose time ran out). What
an engine makes of a score depends on the item's model, never on its type:

* an ``irt`` item calibrated with the GPCM (``ItemInfo.steps``) enters the estimate with its
  score 0 … k, so a cloze with three of five gaps right counts as partial knowledge;
* an item with a dichotomous model (2PL, 3PL, none) enters it as right only with full credit
  (score == ``ItemInfo.max_points``), even when it has several gaps: its parameters were
  estimated on full credit, and scoring it otherwise would misread them;
* ``staged`` counts an item right only with full credit; ``fixed`` never looks at scores.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from etest import irt
from etest.attempt.cache import STATES_PER_ENGINE, Lru
from etest.attempt.pilots import Pilots
from etest.content.schemas import max_points
from etest.kit.levels import LEVELS

if TYPE_CHECKING:
    from etest.models import Assessment, AssessmentVersion, Item

#: The engine's history: each answered operational item with the points it earned, in order.
History = Sequence[tuple[uuid.UUID, int]]


@dataclass(frozen=True)
class ItemInfo:
    """What the engines know of an item: its skill and level, its IRT parameters and the points
    it is scored out of. ``steps``: the GPCM step difficulties of a polytomous item (then ``b``
    is their mean), ``None`` for a dichotomous model."""

    id: uuid.UUID
    skill: str
    level: str | None
    a: float | None
    b: float | None
    c: float | None
    steps: tuple[float, ...] | None = None
    max_points: int = 1

    @property
    def polytomous(self) -> bool:
        """Whether the engine scores the item 0 … k (GPCM), not right/wrong."""
        return self.steps is not None and len(self.steps) > 1

    def engine_score(self, points: int) -> int:
        """The score this item enters the estimate with: its points for a GPCM item (never
        more than its steps), else 1 for full credit and 0 for anything less."""
        if self.steps is not None and len(self.steps) > 1:
            return max(0, min(int(points), len(self.steps)))
        return int(points >= self.max_points)


def item_info(row: Item) -> ItemInfo:
    """An item row as the engines see it (the placement engine and the publish checks)."""
    steps = row.irt_steps if row.irt_model == "GPCM" and row.irt_steps else None
    return ItemInfo(
        row.id,
        row.skill,
        row.level,
        row.irt_a,
        row.irt_b,
        row.irt_c,
        tuple(float(x) for x in steps) if steps else None,
        max_points(row.type, row.gaps),
    )


@dataclass(frozen=True)
class Decision:
    """The next item, or the stop with its reason and (PT) placement."""

    item_id: uuid.UUID | None
    stop_reason: str | None = None
    level: str | None = None
    position: float | None = None
    theta: float | None = None
    se: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    planned_total: int | None = None


class Engine(Protocol):
    #: The fewest answers a placement needs (PT): fewer, and the attempt ends unplaced.
    min_answers: int

    def decide(self, seed: int, history: History, seen_before: set[uuid.UUID]) -> Decision: ...


@dataclass
class Version:
    """A pinned assessment version with its engine, built once per process (versions never
    change; see :mod:`etest.attempt.cache`)."""

    version: AssessmentVersion
    assessment: Assessment
    engine: Engine
    plan_levels: list[str]
    #: The version's pilot items (``None``: none), read once with the version.
    pilots: Pilots | None = None


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _prefer_unseen(
    ids: list[uuid.UUID], seen: set[uuid.UUID], rng: np.random.Generator
) -> list[uuid.UUID]:
    """The ids in a seeded random order, items seen in earlier attempts last."""
    ordered = [ids[i] for i in rng.permutation(len(ids))]
    return [i for i in ordered if i not in seen] + [i for i in ordered if i in seen]


class FixedEngine:
    def __init__(self, config: dict[str, Any]) -> None:
        self.sections = [
            (s["skill"], int(s["count"]), [uuid.UUID(i) for i in s["pool"]])
            for s in config["sections"]
        ]
        self.shuffle = bool(config.get("shuffle_items", True))
        self.total = sum(count for _, count, _ in self.sections)
        # a CT is scored on its planned length: missing answers score zero, no minimum
        self.min_answers = 0

    def sequence(self, seed: int, seen_before: set[uuid.UUID]) -> list[uuid.UUID]:
        out: list[uuid.UUID] = []
        for n, (_, count, pool) in enumerate(self.sections):
            fresh = [i for i in pool if i not in out]
            out.extend(_prefer_unseen(sorted(fresh), seen_before, _rng(seed, 1, n))[:count])
        if self.shuffle:
            out = [out[i] for i in _rng(seed, 2).permutation(len(out))]
        return out

    def decide(self, seed: int, history: History, seen_before: set[uuid.UUID]) -> Decision:
        sequence = self.sequence(seed, seen_before)
        if len(history) >= len(sequence):
            return Decision(None, "complete", planned_total=len(sequence))
        return Decision(sequence[len(history)], planned_total=len(sequence))


class StagedEngine:
    """DynEd-style staged placement (see ``docs/placement.md`` for how it is tuned)."""

    def __init__(
        self,
        config: dict[str, Any],
        plan_levels: list[str],
        items: dict[uuid.UUID, ItemInfo] | None = None,
    ) -> None:
        # an item is right with full credit: the points each item is scored out of
        self.full = {i: info.max_points for i, info in (items or {}).items()}
        self.advance = float(config.get("advance_threshold", 0.8))
        self.stop = float(config.get("stop_threshold", 0.5))
        self.max_wrong = int(config.get("max_consecutive_wrong", 3))
        core: dict[str, list[uuid.UUID]] = {}
        refinement: dict[str, list[uuid.UUID]] = {}
        for group in config["groups"]:
            target = core if group.get("role", "core") == "core" else refinement
            target.setdefault(group["level"], []).extend(uuid.UUID(i) for i in group["items"])
        self.levels = [lv for lv in plan_levels if lv in core]
        start = config.get("start_level") or (self.levels[0] if self.levels else None)
        self.start = self.levels.index(start) if start in self.levels else 0
        self.core, self.refinement, self.plan_levels = core, refinement, plan_levels
        # default: the shortest test this engine stops on by itself (max_consecutive_wrong
        # wrong in a row, or the whole first group when it is shorter), so a test the engine
        # ended is never unplaced for want of answers unless some of them timed out
        first = len(set(core[self.levels[self.start]])) if self.levels else 1
        self.min_answers = int(config.get("min_answers") or min(self.max_wrong, first))

    def _group(
        self, seed: int, kind: int, level: str, seen: set[uuid.UUID], used: set[uuid.UUID]
    ) -> list[uuid.UUID]:
        pool = (self.core if kind == 0 else self.refinement).get(level, [])
        index = LEVELS.index(level)
        return [
            i
            for i in _prefer_unseen(sorted(pool), seen, _rng(seed, 3, kind, index))
            if i not in used
        ]

    def _next_level(self, level: str) -> str:
        i = self.plan_levels.index(level)
        return self.plan_levels[min(i + 1, len(self.plan_levels) - 1)]

    def decide(self, seed: int, history: History, seen_before: set[uuid.UUID]) -> Decision:
        if not self.levels:
            return Decision(None, "no_items")
        h, wrong_run, used = 0, 0, set[uuid.UUID]()
        placed = self.levels[self.start - 1] if self.start > 0 else self.levels[0]
        i, kind = self.start, 0
        while True:
            level = self.levels[i]
            group = self._group(seed, kind, level, seen_before, used)
            correct = answered = 0
            for item in group:
                if h >= len(history):
                    return Decision(item)
                used.add(item)
                ok = history[h][1] >= self.full.get(item, 1)
                h += 1
                answered += 1
                correct += ok
                wrong_run = 0 if ok else wrong_run + 1
                if wrong_run >= self.max_wrong:
                    return self._stop("max_consecutive_wrong", placed, correct, answered)
            accuracy = correct / answered if answered else 0.0
            if kind == 1:
                result = self._next_level(level) if accuracy >= self.advance else level
                return self._stop("refined", result, correct, answered)
            if accuracy >= self.advance:
                placed = level
                if i + 1 == len(self.levels):
                    return self._stop("top_level", level, correct, answered)
                i += 1
            elif accuracy < self.stop:
                return self._stop("below_stop_threshold", placed, correct, answered)
            elif self.refinement.get(level):
                placed, kind = level, 1
            else:
                return self._stop("placed", level, correct, answered)

    def _stop(self, reason: str, level: str, correct: int, answered: int) -> Decision:
        # Position inside the level: how far the last group went towards the advance mark.
        share = correct / answered if answered else 0.0
        return Decision(
            None, reason, level=level, position=round(min(100.0, 100.0 * share / self.advance), 1)
        )


class IrtEngine:
    def __init__(
        self, config: dict[str, Any], items: dict[uuid.UUID, ItemInfo], plan_levels: list[str]
    ) -> None:
        pool = [items[uuid.UUID(i)] for i in config["pool"]]
        self.pool = pool
        self.ids = [p.id for p in pool]
        self.position = {item_id: n for n, item_id in enumerate(self.ids)}
        self.plan_levels = plan_levels
        bank = irt.ItemBank.from_arrays(
            ids=[str(p.id) for p in pool],
            a=[p.a or 1.0 for p in pool],
            b=[p.b or 0.0 for p in pool],
            c=[p.c or 0.0 for p in pool],
            skills=[p.skill for p in pool],
            steps=_steps(pool),
        )
        self.engine = irt.CatEngine(bank, engine_config(config))
        self._states: Lru[tuple[int, tuple[int, ...]], irt.EngineState] = Lru(self.STATES)
        self.min_answers = int(config.get("min_answers") or config["min_items"])

    #: Attempt states kept per process (a few kB each), least recently used dropped first.
    STATES = STATES_PER_ENGINE

    def decide(self, seed: int, history: History, seen_before: set[uuid.UUID]) -> Decision:
        step = self._state(
            seed,
            [self.position[i] for i, _ in history],
            [self.pool[self.position[i]].engine_score(score) for i, score in history],
            sorted(self.position[i] for i in seen_before if i in self.position),
        ).step()
        if not step.finished:
            assert step.item is not None
            return Decision(self.ids[step.item], theta=step.theta, se=step.se)
        placement = step.placement or irt.place(step.theta, step.se, self.engine.config.cut_scores)
        assert step.stop_reason is not None
        return Decision(
            None,
            step.stop_reason.value,
            level=self.plan_levels[placement.level],
            position=round(placement.position, 1),
            theta=step.theta,
            se=step.se,
            probabilities={
                lv: round(p, 4)
                for lv, p in zip(self.plan_levels, placement.probabilities, strict=True)
            },
        )

    def _state(
        self, seed: int, administered: list[int], responses: list[int], seen: list[int]
    ) -> irt.EngineState:
        """The attempt's engine state after these responses. Rebuilding it replays every
        response (O(n) per item, O(n²) per test), so the state of the last step is kept per
        process and only the new responses are replayed onto it: memoization, not state. It is
        used only when the stored history extends the one it was built from (same seed, same
        items seen before, same responses in the same order); anything else rebuilds from the
        rows, so any process still serves any attempt and the result is the same either way."""
        key = (seed, tuple(seen))
        state = self._states.pop(key)
        done = len(state.administered) if state is not None else 0
        if (
            state is None
            or state.administered != administered[:done]
            or state.responses != responses[:done]
        ):
            state, done = self.engine.start(seed, seen=seen), 0
        for item, response in zip(administered[done:], responses[done:], strict=True):
            state.record(item, response)
        return self._states.put(key, state)


def _steps(pool: list[ItemInfo]) -> list[list[float]] | None:
    """The GPCM steps of a pool (items × most steps, NaN-padded), ``None`` when no item has
    any: the bank of :meth:`etest.irt.ItemBank.from_arrays`."""
    width = max((len(p.steps) for p in pool if p.polytomous and p.steps), default=0)
    if width == 0:
        return None
    nan = float("nan")
    return [
        [*p.steps, *[nan] * (width - len(p.steps))] if p.polytomous and p.steps else [nan] * width
        for p in pool
    ]


#: Stored ``irt`` engine settings and the :class:`etest.irt.EngineConfig` field each sets; a
#: setting absent from a stored engine (a version imported before it existed) takes the core's
#: default, which is also the flow schema's (``content.schemas.IrtEngine``).
IRT_SETTINGS = {
    "estimator": "estimator",
    "min_items": "min_items",
    "max_items": "max_items",
    "se_target": "se_target",
    "randomesque": "randomesque_k",
    "classification": "classification",
    "classification_ci": "ci_level",
    "sprt_delta": "sprt_delta",
    "sprt_alpha": "sprt_alpha",
    "sprt_beta": "sprt_beta",
    "min_information": "min_information",
    "skill_targets": "content_targets",
    "exposure_control": "exposure_control",
}


def engine_config(config: dict[str, Any]) -> irt.EngineConfig:
    """The adaptive engine's settings from a stored ``irt`` engine: every psychometric setting
    of the flow, and the Sympson–Hetter ``exposure_control`` ``{item id: K}`` computed when the
    version was published. The placement engine and the publish checks build it alike."""
    values: dict[str, Any] = {
        field: config[key] for key, field in IRT_SETTINGS.items() if key in config
    }
    prior = config.get("prior")
    # a stored version's "estimated" prior holds the numbers computed when it was published
    # (bank.evidence); a flow file simulated as it is (etest simulate) runs the core's N(0, 1)
    if prior is not None:
        values["prior_mean"], values["prior_sd"] = float(prior["mean"]), float(prior["sd"])
    return irt.EngineConfig(cut_scores=tuple(config["cut_scores"]), **values)


def build_engine(
    config: dict[str, Any], items: dict[uuid.UUID, ItemInfo], plan_levels: list[str]
) -> Engine:
    kind = config["type"]
    if kind == "fixed":
        return FixedEngine(config)
    if kind == "staged":
        return StagedEngine(config, plan_levels, items)
    return IrtEngine(config, items, plan_levels)
