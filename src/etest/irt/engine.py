"""The adaptive placement engine, rebuildable from (bank, configuration, seed, responses).

An attempt's next step is a pure function of the bank, the :class:`EngineConfig`, the attempt's
seed and the responses so far: any process can continue any attempt, and a replay reproduces the
item sequence exactly. The randomness of step ``n`` (randomesque and Sympson–Hetter draws) comes
from :class:`~etest.irt.randomness.StepRandom` ``(seed, n)``, ``n`` the number of items already
administered (a counter-based generator: the same draws on every platform and numpy version);
the EAP log posterior is accumulated in administration order, so replaying the responses gives the
same bits as updating incrementally.

Two ways in:

* :func:`next_step` — stateless: pass everything, get a :class:`Step` (the next item, or why the
  test stops, with θ̂, SE and diagnostics).
* :class:`CatEngine` — the same, with the per-bank preparation done once (keep one per bank
  version); ``engine.start(seed)`` gives an :class:`EngineState` to feed responses to one at a time.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.config import EngineConfig
from etest.irt.errors import InvalidConfiguration, InvalidResponses
from etest.irt.estimation import eap_from_log_posterior, estimate_ability, response_arrays
from etest.irt.infoindex import information_index
from etest.irt.placement import Placement, place
from etest.irt.randomness import StepRandom
from etest.irt.selection import ContentPlan, Selection, choose_item, exposure_array
from etest.irt.stopping import StopReason, sprt_increments, stop_reason

__all__ = ["CatEngine", "EngineState", "Step", "next_step"]


@dataclass(frozen=True)
class Step:
    """The outcome of one engine step.

    Attributes:
        item: bank position of the next item, or ``None`` when the test stops.
        item_id: its id, or ``None``.
        stop_reason: why the test stops, or ``None`` when it continues.
        theta: current ability estimate (after the responses so far).
        se: its standard error.
        n_administered: number of items answered so far.
        selection: how the item was chosen (``None`` when stopping).
        sprt_ratios: ``Λ_k`` per cut when the SPRT rule is configured, else ``None``.
        placement: level, position and level probabilities — set when the test stops.
    """

    item: int | None
    item_id: str | None
    stop_reason: StopReason | None
    theta: float
    se: float
    n_administered: int
    selection: Selection | None = None
    sprt_ratios: tuple[float, ...] | None = None
    placement: Placement | None = None

    @property
    def finished(self) -> bool:
        """Whether the test stops here."""
        return self.stop_reason is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the step (for an attempt's audit trail)."""
        out: dict[str, Any] = {
            "item": self.item,
            "item_id": self.item_id,
            "stop_reason": None if self.stop_reason is None else self.stop_reason.value,
            "theta": self.theta,
            "se": self.se,
            "n_administered": self.n_administered,
        }
        if self.selection is not None:
            sel = self.selection
            out["selection"] = {
                "information": sel.information,
                "candidates": list(sel.candidates),
                "skill": sel.skill,
                "relaxations": [vars(r) for r in sel.relaxations],
                "seen_fallback": sel.seen_fallback,
                "exposure_rejections": list(sel.exposure_rejections),
                "exposure_override": sel.exposure_override,
            }
        if self.sprt_ratios is not None:
            out["sprt_ratios"] = list(self.sprt_ratios)
        if self.placement is not None:
            out["placement"] = {
                "level": self.placement.level,
                "position": self.placement.position,
                "probabilities": list(self.placement.probabilities),
            }
        return out


class CatEngine:
    """A (bank, configuration) pair, validated and prepared once.

    Raises:
        InvalidConfiguration: content targets for a skill no item has, or exposure parameters
            for an unknown item id.

    Attributes:
        content_warnings: targets that cannot be met at full length (too few items of a skill
            for its largest-remainder quota of ``max_items``); the engine still runs and records
            a :class:`~etest.irt.selection.ContentRelaxation` whenever a target is missed.
    """

    def __init__(self, bank: ItemBank, config: EngineConfig) -> None:
        self.bank = bank
        self.config = config
        self.grid = config.grid
        self.cuts: FloatArray = np.asarray(config.cut_scores, dtype=np.float64)
        self.exposure: FloatArray | None = (
            None
            if config.exposure_control is None
            else exposure_array(bank, config.exposure_control)
        )
        self.content_plan: ContentPlan | None = None
        self.content_warnings: tuple[str, ...] = ()
        if config.content_targets is not None:
            self.content_plan = ContentPlan.build(bank, config.content_targets)
            self.content_warnings = tuple(_quota_shortfalls(bank, config))
        self._random = config.randomesque_k > 1 or self.exposure is not None
        # Per-item rows are shared by every engine on this bank with the same grid (or the same
        # SPRT points): a stateless next_step in a long-lived process computes each row once.
        shared = _ROW_CACHE.setdefault(bank, {})
        self._ll_rows = shared.setdefault(("grid", config.grid_points, config.grid_bound), {})
        self._sprt_rows = shared.setdefault(("sprt", config.cut_scores, config.sprt_delta), {})

    def likelihood_row(self, item: int) -> FloatArray:
        """``ln P_x`` of one item on the grid nodes for each score ``x``, shape ``(k + 1, nodes)``
        (``[ln Q, ln P]`` for a dichotomous item; cached).

        Computed per item, never in a batch, so an attempt updated answer by answer and the same
        attempt rebuilt from its responses add exactly the same values.
        """
        row = self._ll_rows.get(item)
        if row is None:
            row = self.bank.category_log_probabilities(self.grid.nodes, item)
            row.setflags(write=False)
            self._ll_rows[item] = row
        return row

    def sprt_row(self, item: int) -> FloatArray:
        """One item's SPRT increments at every cut, one row per score (``[if wrong, if correct]``
        for a dichotomous item; cached)."""
        row = self._sprt_rows.get(item)
        if row is None:
            bank = self.bank
            idx = np.array([item], dtype=np.int64)
            row = np.stack(
                [
                    sprt_increments(bank, idx, np.array([x]), self.cuts, self.config.sprt_delta)[0]
                    for x in range(int(bank.max_score[item]) + 1)
                ]
            )
            row.setflags(write=False)
            self._sprt_rows[item] = row
        return row

    def start(
        self,
        seed: int,
        *,
        seen: Sequence[int] | npt.ArrayLike = (),
        excluded: Sequence[int] | npt.ArrayLike = (),
    ) -> EngineState:
        """A fresh attempt; ``seen`` items (earlier attempts) are served only as a last resort."""
        return EngineState(self, seed, seen, excluded)

    def next_step(
        self,
        seed: int,
        administered: Sequence[int] | npt.ArrayLike,
        responses: Sequence[int] | npt.ArrayLike,
        *,
        seen: Sequence[int] | npt.ArrayLike = (),
        excluded: Sequence[int] | npt.ArrayLike = (),
    ) -> Step:
        """Rebuild the attempt from its responses and return the next step."""
        idx, x = response_arrays(self.bank, administered, responses)
        state = self.start(seed, seen=seen, excluded=excluded)
        for item, response in zip(idx.tolist(), x.astype(np.int64).tolist(), strict=True):
            state.record(item, response)
        return state.step()


_ROW_CACHE: weakref.WeakKeyDictionary[ItemBank, dict[tuple[object, ...], dict[int, FloatArray]]] = (
    weakref.WeakKeyDictionary()
)


def _quota_shortfalls(bank: ItemBank, config: EngineConfig) -> list[str]:
    targets = config.content_targets or {}
    n = config.max_items
    raw = {s: share * n for s, share in targets.items()}
    quota = {s: int(v) for s, v in raw.items()}
    for s in sorted(raw, key=lambda s: raw[s] - quota[s], reverse=True)[: n - sum(quota.values())]:
        quota[s] += 1
    have = {s: int(np.sum(bank.skill_codes == k)) for k, s in enumerate(bank.skill_names)}
    return [
        f"skill {s!r}: quota {q} of {n} items but only {have.get(s, 0)} in the bank"
        for s, q in quota.items()
        if have.get(s, 0) < q
    ]


class EngineState:
    """One attempt in progress: feed responses with :meth:`record`, ask :meth:`step` what next.

    Not thread-safe; cheap to rebuild (see :meth:`CatEngine.next_step`).
    """

    def __init__(
        self,
        engine: CatEngine,
        seed: int,
        seen: Sequence[int] | npt.ArrayLike,
        excluded: Sequence[int] | npt.ArrayLike,
    ) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise InvalidConfiguration(f"seed must be a non-negative integer, got {seed!r}")
        bank = engine.bank
        self.engine = engine
        self.seed = int(seed)
        self.seen: IntArray = _checked_positions(bank, "seen", seen)
        self.excluded: IntArray = _checked_positions(bank, "excluded", excluded)
        self.administered: list[int] = []
        self.responses: list[int] = []
        self._available = np.ones(len(bank), dtype=np.bool_)
        self._available[self.excluded] = False
        self._unseen = self._available.copy()
        self._unseen[self.seen] = False
        self._left = int(self._available.sum())
        self._skill_counts = np.zeros(len(bank.skill_names), dtype=np.int64)
        self._log_post = engine.grid.log_prior.copy()
        self._set_aside = np.zeros(len(bank), dtype=np.bool_)
        self._last: Step | None = None
        self._sprt: FloatArray | None = (
            np.zeros(engine.cuts.size) if engine.config.classification == "sprt" else None
        )

    def record(self, item: int, response: int) -> None:
        """Add the response (0 or 1; a score ``0..k`` for a polytomous item) to an item served
        by this attempt, in serving order.

        Raises:
            InvalidResponses: a position outside the bank, an item already administered or
                excluded, or a response that is not 0 or 1 (not a score in ``0..k``).
        """
        bank = self.engine.bank
        if not (isinstance(item, (int, np.integer)) and 0 <= item < len(bank)):
            raise InvalidResponses(
                f"item position {item!r} is outside the bank (0..{len(bank) - 1})"
            )
        item = int(item)
        if not self._available[item]:
            what = "already administered" if item in self.administered else "excluded"
            raise InvalidResponses(f"item {bank.ids[item]!r} is {what}")
        top = int(bank.max_score[item])
        if response not in range(top + 1):
            allowed = "0 or 1" if top == 1 else f"a score in 0..{top}"
            raise InvalidResponses(
                f"response {response!r} to item {bank.ids[item]!r} is not {allowed}"
            )
        x = int(response)
        if self.engine.exposure is not None:
            # Items that lost the Sympson–Hetter lottery at this position stay set aside; a
            # rebuilt attempt replays the step to learn them (its draws depend on seed and step).
            selection = self.step().selection
            if selection is not None:
                self._set_aside[list(selection.exposure_rejections)] = True
        self._last = None
        self._log_post += self.engine.likelihood_row(item)[x]
        if self._sprt is not None:
            self._sprt += self.engine.sprt_row(item)[x]
        self._available[item] = False
        self._unseen[item] = False
        self._left -= 1
        self._skill_counts[bank.skill_codes[item]] += 1
        self.administered.append(item)
        self.responses.append(x)

    def estimate(self) -> tuple[float, float]:
        """Current ``(θ̂, SE)`` with the configured estimator."""
        engine = self.engine
        if engine.config.estimator == "eap":
            return eap_from_log_posterior(self._log_post, engine.grid)
        est = estimate_ability(
            engine.bank, self.administered, self.responses, engine.config.estimator, engine.grid
        )
        return est.theta, est.se

    def step(self) -> Step:
        """Stop (with the reason and placement) or choose the next item.

        The answer depends only on the responses so far: asking twice gives the same step.
        """
        if self._last is None:
            self._last = self._step()
        return self._last

    def _step(self) -> Step:
        engine, cfg, bank = self.engine, self.engine.config, self.engine.bank
        n = len(self.administered)
        theta, se = self.estimate()
        sprt = None if self._sprt is None else tuple(float(v) for v in self._sprt)
        reason = stop_reason(
            cfg, n_administered=n, theta=theta, se=se, items_left=self._left, sprt_ratios=self._sprt
        )
        sel: Selection | None = None
        if reason is None:
            rng = StepRandom(self.seed, n) if engine._random else None
            sel = choose_item(
                bank,
                theta,
                self._available,
                self._unseen,
                self._skill_counts,
                engine.content_plan,
                cfg.randomesque_k,
                rng,
                engine.exposure,
                self._set_aside,
            )
            # The last rule (min_information) needs the best eligible item only when the chosen
            # one, a lower bound for it, falls short.
            if n >= cfg.min_items and sel.information < cfg.min_information:
                best = information_index(bank).top(theta, self._available, 1)[1][0]
                reason = stop_reason(
                    cfg,
                    n_administered=n,
                    theta=theta,
                    se=se,
                    items_left=self._left,
                    best_information=best,
                    sprt_ratios=self._sprt,
                )
        if reason is not None or sel is None:
            return Step(
                item=None,
                item_id=None,
                stop_reason=reason,
                theta=theta,
                se=se,
                n_administered=n,
                sprt_ratios=sprt,
                placement=place(theta, se, engine.cuts),
            )
        return Step(
            item=sel.item,
            item_id=bank.ids[sel.item],
            stop_reason=None,
            theta=theta,
            se=se,
            n_administered=n,
            selection=sel,
            sprt_ratios=sprt,
        )


def _checked_positions(
    bank: ItemBank, name: str, values: Sequence[int] | npt.ArrayLike
) -> IntArray:
    idx = np.asarray(values).reshape(-1)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise InvalidResponses(f"{name} must be integer bank positions, got {idx.dtype}")
    idx = idx.astype(np.int64)
    if np.any((idx < 0) | (idx >= len(bank))):
        raise InvalidResponses(f"{name} contains a position outside the bank (0..{len(bank) - 1})")
    return idx


def next_step(
    bank: ItemBank,
    config: EngineConfig,
    seed: int,
    administered: Sequence[int] | npt.ArrayLike,
    responses: Sequence[int] | npt.ArrayLike,
    *,
    seen: Sequence[int] | npt.ArrayLike = (),
    excluded: Sequence[int] | npt.ArrayLike = (),
) -> Step:
    """The next step of an attempt, rebuilt from scratch (see the module docstring).

    Args:
        bank: the item bank the attempt is pinned to.
        config: the engine configuration (cut scores included).
        seed: the attempt's stored seed (a non-negative integer).
        administered: bank positions served so far, in order.
        responses: the score of each (0/1, or 0..k for a polytomous item), in the same order
            (a timed-out item is 0).
        seen: positions seen in the candidate's earlier attempts (last resort).
        excluded: positions that must not be served.

    Returns:
        The :class:`Step`: the next item, or the stop reason with the placement.
    """
    return CatEngine(bank, config).next_step(
        seed, administered, responses, seen=seen, excluded=excluded
    )
