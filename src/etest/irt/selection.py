"""Item selection: maximum information with exposure control, content balancing and exclusions.

:func:`select_item` chooses the next item in four steps:

1. **Eligibility.** Items already administered in this attempt, and ``excluded`` items, are never
   chosen. Items ``seen`` in earlier attempts are the last resort: they are considered only when no
   unseen eligible item is left at all (``seen_fallback=True``).
2. **Content balancing** (Kingsbury & Zara 1989, prorated deficit). With target shares ``π_s``,
   the skill with the largest deficit ``π_s (n + 1) − n_s`` is served first (ties by the order of
   the targets). When that skill has no eligible item, the next skill is tried and a
   :class:`ContentRelaxation` is recorded — a target is never dropped silently.
3. **Maximum information with randomesque** (Kingsbury & Zara 1989): one of the ``k`` most
   informative items of the chosen group at θ̂, uniformly at random (``k = 1`` is plain MFI; ties
   in information go to the lower bank position). The search is exact but does not evaluate every
   item of a large bank (:mod:`etest.irt.infoindex`).
4. **Sympson–Hetter** (1985), when exposure parameters are given: the drawn item is administered
   with probability ``K_j``; a rejected item is set aside for the rest of the attempt and the
   draw repeats among the rest (``set_aside``; the engine rebuilds that set from the seed, so it
   stays stateless). If every candidate of the group is set aside, the most informative item of
   the group is served without a lottery (``exposure_override=True``). Derive ``K`` with
   :func:`etest.irt.simulation.sympson_hetter`, which runs this same rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from etest.irt._types import BoolArray, FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.errors import InvalidConfiguration, NoEligibleItem, ShapeMismatch
from etest.irt.infoindex import information_index
from etest.irt.randomness import RandomSource

__all__ = [
    "ContentPlan",
    "ContentRelaxation",
    "Selection",
    "choose_item",
    "content_deficits",
    "exposure_array",
    "select_item",
]


@dataclass(frozen=True)
class ContentRelaxation:
    """A content target that could not be met at one position.

    ``reason`` is ``"exhausted"`` (the skill has no eligible item left) or ``"only_seen_items"``
    (its eligible items were all seen in earlier attempts, so an unseen item of another skill was
    preferred).
    """

    position: int
    skill: str
    reason: Literal["exhausted", "only_seen_items"]


@dataclass(frozen=True)
class Selection:
    """The chosen item and how it was chosen.

    Attributes:
        item: bank position of the chosen item.
        information: its Fisher information at θ̂.
        candidates: the randomesque candidates of the final draw, most informative first.
        skill: the skill it was chosen for (``None`` without content targets).
        relaxations: content targets that could not be met at this position.
        seen_fallback: the item was seen in an earlier attempt (no unseen item was eligible).
        exposure_rejections: items that lost the Sympson–Hetter lottery at this position.
        exposure_override: every candidate was set aside; the most informative was served.
    """

    item: int
    information: float
    candidates: tuple[int, ...]
    skill: str | None = None
    relaxations: tuple[ContentRelaxation, ...] = ()
    seen_fallback: bool = False
    exposure_rejections: tuple[int, ...] = ()
    exposure_override: bool = False


def _positions(bank: ItemBank, name: str, values: Sequence[int] | npt.ArrayLike) -> IntArray:
    idx = np.asarray(values, dtype=np.int64).reshape(-1)
    if np.any((idx < 0) | (idx >= len(bank))):
        raise ShapeMismatch(f"{name} contains a position outside the bank (0..{len(bank) - 1})")
    return idx


def exposure_array(bank: ItemBank, exposure: Mapping[str, float] | npt.ArrayLike) -> FloatArray:
    """Sympson–Hetter parameters aligned with the bank (items missing from a mapping get 1)."""
    if isinstance(exposure, Mapping):
        out = np.ones(len(bank))
        for item_id, k in exposure.items():
            try:
                out[bank.index_of(item_id)] = float(k)
            except KeyError:
                raise InvalidConfiguration(
                    f"exposure parameter for unknown item {item_id!r}"
                ) from None
    else:
        out = np.array(exposure, dtype=np.float64)
        if out.shape != (len(bank),):
            raise ShapeMismatch(
                f"exposure parameters have shape {out.shape}, bank has {len(bank)} items"
            )
    if not np.all((out >= 0) & (out <= 1)):
        j = int(np.flatnonzero(~((out >= 0) & (out <= 1)))[0])
        raise InvalidConfiguration(f"exposure parameter of item {bank.ids[j]!r} must be in [0, 1]")
    return out


@dataclass(frozen=True)
class ContentPlan:
    """Content targets resolved against a bank: a share and a tie-break rank per bank skill.

    Lists, not arrays: a bank has a handful of skills, and this runs on every step.
    """

    shares: tuple[float, ...]
    rank: tuple[int, ...]

    @classmethod
    def build(cls, bank: ItemBank, targets: Mapping[str, float]) -> ContentPlan:
        """Align ``targets`` with ``bank.skill_names``.

        Raises:
            InvalidConfiguration: a skill with a positive target has no item in the bank.
        """
        lookup = {s: k for k, s in enumerate(bank.skill_names)}
        shares = [0.0] * len(lookup)
        rank = [len(targets)] * len(lookup)
        for r, (skill, share) in enumerate(targets.items()):
            if skill not in lookup:
                if share > 0:
                    raise InvalidConfiguration(
                        f"content target for skill {skill!r}, which no item has"
                    )
                continue
            shares[lookup[skill]] = float(share)
            rank[lookup[skill]] = r
        return cls(shares=tuple(shares), rank=tuple(rank))

    def order(self, counts: Sequence[int]) -> tuple[list[float], list[int]]:
        """Deficits ``π_s (n + 1) − n_s`` and skill codes by decreasing deficit (ties: targets)."""
        n1 = sum(counts) + 1
        deficits = [share * n1 - count for share, count in zip(self.shares, counts, strict=True)]
        order = sorted(range(len(deficits)), key=lambda k: (-deficits[k], self.rank[k], k))
        return deficits, order


def content_deficits(
    bank: ItemBank, targets: Mapping[str, float], administered: Sequence[int] | npt.ArrayLike
) -> tuple[FloatArray, IntArray]:
    """Prorated deficits ``π_s (n + 1) − n_s`` per bank skill and the order to serve skills in.

    Returns ``(deficits, order)``: ``deficits`` is aligned with ``bank.skill_names``; ``order``
    lists skill codes by decreasing deficit, ties by the order of ``targets`` then by name.

    Raises:
        InvalidConfiguration: a skill with a positive target has no item in the bank.
    """
    idx = _positions(bank, "administered", administered)
    counts = np.bincount(bank.skill_codes[idx], minlength=len(bank.skill_names)).tolist()
    deficits, order = ContentPlan.build(bank, targets).order(counts)
    return np.asarray(deficits, dtype=np.float64), np.asarray(order, dtype=np.int64)


def _draw(
    bank: ItemBank,
    theta: float,
    mask: BoolArray,
    k: int,
    rng: RandomSource | None,
    exposure: FloatArray | None,
    set_aside: BoolArray | None,
) -> tuple[int, float, tuple[int, ...], tuple[int, ...], bool]:
    """Randomesque draw among the top ``k`` of ``mask``, then the Sympson–Hetter lottery."""
    index = information_index(bank)
    if exposure is None:
        top, values = index.top(theta, mask, k)
        pick = (
            0 if len(top) == 1 or rng is None else min(int(rng.random() * len(top)), len(top) - 1)
        )
        return top[pick], values[pick], tuple(top), (), False
    lottery = mask if set_aside is None else mask & ~set_aside
    rejected: list[int] = []
    while True:
        top, values = index.top(theta, lottery, k)
        if not top:
            break
        pick = (
            0 if len(top) == 1 or rng is None else min(int(rng.random() * len(top)), len(top) - 1)
        )
        item = top[pick]
        if exposure[item] >= 1.0 or (rng is not None and float(rng.random()) < exposure[item]):
            return item, values[pick], tuple(top), tuple(rejected), False
        rejected.append(item)
        if len(rejected) == 1:
            lottery = lottery.copy()
        lottery[item] = False
    # Every candidate is set aside or lost the lottery: serve the best of the group anyway.
    top, values = index.top(theta, mask, 1)
    return top[0], values[0], (top[0],), tuple(rejected), True


def select_item(
    bank: ItemBank,
    theta: float,
    rng: RandomSource | None = None,
    *,
    administered: Sequence[int] | npt.ArrayLike = (),
    seen: Sequence[int] | npt.ArrayLike = (),
    excluded: Sequence[int] | npt.ArrayLike = (),
    randomesque_k: int = 1,
    exposure: Mapping[str, float] | npt.ArrayLike | None = None,
    set_aside: Sequence[int] | npt.ArrayLike = (),
    content_targets: Mapping[str, float] | None = None,
) -> Selection:
    """Choose the next item at ability ``theta`` (see the module docstring for the rules).

    Args:
        bank: the item bank.
        theta: current ability estimate.
        rng: randomness for randomesque and Sympson–Hetter draws; required when
            ``randomesque_k > 1`` or ``exposure`` is given.
        administered: positions already served in this attempt (never chosen again).
        seen: positions seen in earlier attempts (chosen only as a last resort).
        excluded: positions that must not be served at all.
        randomesque_k: draw among the ``k`` most informative eligible items.
        exposure: Sympson–Hetter ``K_j`` by item id, or an array aligned with the bank.
        set_aside: positions that lost the Sympson–Hetter lottery earlier in this attempt.
        content_targets: target share per skill, summing to 1.

    Raises:
        NoEligibleItem: every item is administered or excluded.
        InvalidConfiguration: ``randomesque_k < 1``, a random rule without ``rng``, or content
            targets naming a skill no item has.
    """
    if randomesque_k < 1:
        raise InvalidConfiguration(f"randomesque_k must be >= 1, got {randomesque_k}")
    k_array = None if exposure is None else exposure_array(bank, exposure)
    if rng is None and (randomesque_k > 1 or k_array is not None):
        raise InvalidConfiguration("randomesque (k > 1) and Sympson-Hetter selection need an rng")
    adm = _positions(bank, "administered", administered)
    available = np.ones(len(bank), dtype=np.bool_)
    available[adm] = False
    available[_positions(bank, "excluded", excluded)] = False
    unseen = available.copy()
    unseen[_positions(bank, "seen", seen)] = False
    plan = None if content_targets is None else ContentPlan.build(bank, content_targets)
    counts = np.bincount(bank.skill_codes[adm], minlength=len(bank.skill_names)).astype(np.int64)
    aside = np.zeros(len(bank), dtype=np.bool_)
    aside[_positions(bank, "set_aside", set_aside)] = True
    return choose_item(
        bank, theta, available, unseen, counts, plan, randomesque_k, rng, k_array, aside
    )


def choose_item(
    bank: ItemBank,
    theta: float,
    available: BoolArray,
    unseen: BoolArray,
    skill_counts: IntArray,
    plan: ContentPlan | None,
    randomesque_k: int,
    rng: RandomSource | None,
    exposure: FloatArray | None,
    set_aside: BoolArray | None = None,
) -> Selection:
    """The selection rules on prepared arrays (the engine's entry; see :func:`select_item`).

    ``available`` marks items neither administered nor excluded, ``unseen`` those also not seen
    before, ``skill_counts`` the administered items per bank skill, ``set_aside`` the items that
    lost the Sympson–Hetter lottery earlier in the attempt.
    """
    n = int(skill_counts.sum())
    if not available.any():
        raise NoEligibleItem(
            f"no eligible item: {n} administered and the rest of the {len(bank)} excluded"
        )
    seen_fallback = not unseen.any()
    pool = available if seen_fallback else unseen
    chosen_mask = pool
    skill: str | None = None
    relaxations: list[ContentRelaxation] = []
    if plan is not None:
        _, order = plan.order(skill_counts.tolist())
        for code in order:
            mask = pool & bank.skill_masks[code]
            if mask.any():
                chosen_mask, skill = mask, bank.skill_names[code]
                break
            if plan.shares[code] > 0:
                reason: Literal["exhausted", "only_seen_items"] = (
                    "only_seen_items" if (available & bank.skill_masks[code]).any() else "exhausted"
                )
                relaxations.append(
                    ContentRelaxation(position=n, skill=bank.skill_names[code], reason=reason)
                )
    item, info, candidates, rejections, override = _draw(
        bank, theta, chosen_mask, randomesque_k, rng, exposure, set_aside
    )
    return Selection(
        item=item,
        information=info,
        candidates=candidates,
        skill=skill,
        relaxations=tuple(relaxations),
        seen_fallback=seen_fallback,
        exposure_rejections=rejections,
        exposure_override=override,
    )
