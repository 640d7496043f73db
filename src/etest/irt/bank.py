"""The item bank: parameter arrays plus ids, skills and (optionally) levels.

A bank may mix dichotomous items (1–4PL: ``a, b, c, d``) with polytomous ones scored ``0 … k``
under the generalized partial credit model (:mod:`etest.irt.polytomous`: ``a`` and the step
difficulties in a row of ``steps``). A bank without polytomous items keeps ``steps = None`` and
runs exactly the dichotomous code (and speed) it always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from etest.irt._types import BoolArray, FloatArray, IntArray
from etest.irt.errors import EmptyBank, InvalidItemParameters, ShapeMismatch
from etest.irt.models import item_information, log_probability
from etest.irt.polytomous import gpcm_information, gpcm_log_probabilities, max_scores

__all__ = ["ItemBank"]

#: ``a`` outside this range is legal but suspicious (reported by :meth:`ItemBank.warnings`).
PLAUSIBLE_A = (0.2, 4.0)


def _float_array(name: str, values: npt.ArrayLike, n: int) -> FloatArray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ShapeMismatch(f"{name}: not an array of numbers ({exc})") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ShapeMismatch(f"{name} has shape {arr.shape}, expected ({n},) to match the item ids")
    arr.setflags(write=False)
    return arr


def fast_information(
    theta: float, a: FloatArray, ab: FloatArray, k: FloatArray, c: FloatArray
) -> FloatArray:
    """1–3PL information ``k e / ((1 + e)² (1 + c e))``, ``e = exp(ab − aθ)``, ``k = a²(1 − c)``."""
    e = a * theta
    e -= ab
    np.maximum(e, -40.0, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    den = e + 1.0
    den *= den
    den *= c * e + 1.0
    e *= k
    e /= den
    return e


@dataclass(frozen=True, eq=False)
class ItemBank:
    """A calibrated item bank on the logistic metric (D = 1), validated on construction.

    Items are addressed by their position (``0 … len(bank) − 1``) everywhere in :mod:`etest.irt`;
    ``ids`` maps positions to the caller's item ids. Arrays are read-only copies.

    Attributes:
        ids: item ids, unique.
        a: slopes, finite and ``> 0``.
        b: difficulties, finite.
        c: lower asymptotes (guessing), in ``[0, 1)``.
        d: upper asymptotes, in ``(c, 1]`` (1 for every 1–3PL item).
        skills: a skill label per item (``""`` when the bank has none); used by content balancing.
        levels: an optional level index per item (``None`` when unknown); used only in reports.
        steps: GPCM step difficulties, items × m with NaN after an item's last step (all NaN for
            a dichotomous item), or ``None`` when every item is dichotomous. A polytomous item
            (``k >= 2`` steps) has ``c = 0``, ``d = 1`` and ``b`` = the mean of its steps (its
            location; :meth:`from_arrays` fills it in).
        max_score: each item's highest score ``k`` (1 for a dichotomous item).
        polytomous: positions of the polytomous items (empty for a dichotomous bank).

    Raises:
        EmptyBank: no items.
        ShapeMismatch: an array's length differs from the number of ids.
        InvalidItemParameters: NaN or infinite parameters, ``a <= 0``, ``c`` outside ``[0, 1)``,
            ``d`` outside ``(c, 1]``, or a duplicate id, or GPCM steps that are not finite and
            contiguous or sit on an item with ``c > 0`` or ``d < 1``; the error names the item.
    """

    ids: tuple[str, ...]
    a: FloatArray
    b: FloatArray
    c: FloatArray
    d: FloatArray
    skills: tuple[str, ...]
    levels: tuple[int | None, ...] | None = None
    steps: FloatArray | None = None
    max_score: IntArray = field(init=False, repr=False)
    polytomous: IntArray = field(init=False, repr=False)
    _is_poly: BoolArray = field(init=False, repr=False)
    skill_names: tuple[str, ...] = field(init=False, repr=False)
    skill_codes: IntArray = field(init=False, repr=False)
    skill_masks: tuple[BoolArray, ...] = field(init=False, repr=False)
    _index: dict[str, int] = field(init=False, repr=False)
    _fast: tuple[FloatArray, FloatArray, FloatArray] | None = field(init=False, repr=False)

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[str],
        a: npt.ArrayLike,
        b: npt.ArrayLike,
        c: npt.ArrayLike = 0.0,
        d: npt.ArrayLike = 1.0,
        skills: Sequence[str] | None = None,
        levels: Sequence[int | None] | None = None,
        steps: npt.ArrayLike | None = None,
    ) -> ItemBank:
        """Build and validate a bank; scalar ``c``/``d`` apply to every item.

        ``steps`` (items × m, NaN-padded) makes the items with two or more steps GPCM items; their
        ``b`` is replaced by the mean of their steps, and a row with exactly one step is the 2PL
        with ``b = b_1``.
        """
        ids_t = tuple(str(i) for i in ids)
        n = len(ids_t)
        if n == 0:
            raise EmptyBank()
        skills_t = tuple(str(s) for s in skills) if skills is not None else ("",) * n
        levels_t = tuple(levels) if levels is not None else None
        b_arr = _float_array("b", b, n)
        steps_arr: FloatArray | None = None
        if steps is not None:
            steps_arr = np.array(steps, dtype=np.float64, ndmin=2)
            if steps_arr.ndim != 2 or steps_arr.shape[0] != n:
                raise ShapeMismatch(f"steps have shape {steps_arr.shape}, expected ({n}, m)")
            counts = (~np.isnan(steps_arr)).sum(axis=1)
            with np.errstate(invalid="ignore"):
                located = np.nanmean(np.where(counts[:, None] > 0, steps_arr, 0.0), axis=1)
            b_arr = np.where(counts > 0, located, b_arr)
        return cls(
            ids=ids_t,
            a=_float_array("a", a, n),
            b=b_arr,
            c=_float_array("c", c, n),
            d=_float_array("d", d, n),
            skills=skills_t,
            levels=levels_t,
            steps=steps_arr,
        )

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise EmptyBank()
        for name in ("a", "b", "c", "d"):
            object.__setattr__(self, name, _float_array(name, getattr(self, name), n))
        if len(self.skills) != n:
            raise ShapeMismatch(f"{len(self.skills)} skills for {n} items")
        if self.levels is not None and len(self.levels) != n:
            raise ShapeMismatch(f"{len(self.levels)} levels for {n} items")
        self._validate()
        self._set_steps(n)
        names = tuple(sorted(set(self.skills)))
        lookup = {s: k for k, s in enumerate(names)}
        codes = np.array([lookup[s] for s in self.skills], dtype=np.int64)
        codes.setflags(write=False)
        object.__setattr__(self, "skill_names", names)
        object.__setattr__(self, "skill_codes", codes)
        masks = tuple(codes == k for k in range(len(names)))
        for mask in masks:
            mask.setflags(write=False)
        object.__setattr__(self, "skill_masks", masks)
        object.__setattr__(self, "_index", {item_id: j for j, item_id in enumerate(self.ids)})
        # Precomputed for information(): a·b and a²(1 − c) (the 1–3PL fast path).
        fast = (
            None if np.any(self.d < 1.0) else (self.a * self.b, self.a**2 * (1.0 - self.c), self.c)
        )
        object.__setattr__(self, "_fast", fast)

    def _set_steps(self, n: int) -> None:
        """Validate ``steps``; keep it only if some item has two or more steps."""
        k = np.ones(n, dtype=np.int64)
        steps = self.steps
        if steps is not None:
            steps = np.array(steps, dtype=np.float64, ndmin=2)
            if steps.shape[0] != n:
                raise ShapeMismatch(f"steps have shape {steps.shape}, expected ({n}, m)")
            given = ~np.isnan(steps)
            k = max_scores(steps)
            for j in np.flatnonzero(k > 0):
                if not given[j, : k[j]].all() or not np.all(np.isfinite(steps[j, : k[j]])):
                    raise InvalidItemParameters(
                        self.ids[j], "GPCM steps must be finite and come first in the row"
                    )
                if self.c[j] != 0.0 or self.d[j] != 1.0:
                    raise InvalidItemParameters(
                        self.ids[j], "a GPCM item has no asymptotes (c = 0 and d = 1)"
                    )
            k = np.maximum(k, 1)
            if np.all(k == 1):
                steps = None
            else:
                steps = steps[:, : int(k.max())]
                steps[k == 1] = np.nan
                steps.setflags(write=False)
        k.setflags(write=False)
        is_poly = k >= 2
        is_poly.setflags(write=False)
        poly = np.flatnonzero(is_poly).astype(np.int64)
        poly.setflags(write=False)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "max_score", k)
        object.__setattr__(self, "polytomous", poly)
        object.__setattr__(self, "_is_poly", is_poly)

    def _validate(self) -> None:
        bad: list[tuple[int, str]] = []
        for name in ("a", "b", "c", "d"):
            arr: FloatArray = getattr(self, name)
            bad += [
                (int(j), f"{name} = {float(arr[j])} is not a finite number")
                for j in np.flatnonzero(~np.isfinite(arr))
            ]
        if not bad:
            rules = (
                (self.a <= 0, "discrimination a = {a} must be > 0"),
                ((self.c < 0) | (self.c >= 1), "lower asymptote c = {c} must be in [0, 1)"),
                ((self.d <= self.c) | (self.d > 1), "upper asymptote d = {d} must be in (c, 1]"),
            )
            for broken, template in rules:
                bad += [
                    (
                        int(j),
                        template.format(a=float(self.a[j]), c=float(self.c[j]), d=float(self.d[j])),
                    )
                    for j in np.flatnonzero(broken)
                ]
        if bad:
            j, reason = min(bad)
            others = len({k for k, _ in bad}) - 1
            suffix = f" (and {others} more invalid item{'s' * (others > 1)})" if others else ""
            raise InvalidItemParameters(self.ids[j], reason + suffix)
        seen: set[str] = set()
        for item_id in self.ids:
            if item_id in seen:
                raise InvalidItemParameters(item_id, "duplicate item id")
            seen.add(item_id)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def unimodal_fast_path(self) -> bool:
        """Whether every item is 1–3PL (closed-form peak, fast information formula)."""
        return self._fast is not None and self.steps is None

    @property
    def model(self) -> Literal["1pl", "2pl", "3pl", "4pl", "gpcm"]:
        """The simplest model that describes every item (``"gpcm"`` when some are polytomous)."""
        if self.steps is not None:
            return "gpcm"
        if np.any(self.d < 1.0):
            return "4pl"
        if np.any(self.c > 0.0):
            return "3pl"
        return "1pl" if np.all(self.a == self.a[0]) else "2pl"

    def information(self, theta: float) -> FloatArray:
        """Fisher information of every item at one ability.

        Same value as :func:`etest.irt.models.item_information`, computed for the 1–3PL as
        ``a²(1 − c) e / ((1 + e)² (1 + c e))`` with ``e = exp(−a(θ − b))`` (logit clipped at −40).
        """
        if self._fast is None:
            info = item_information(theta, self.a, self.b, self.c, self.d)
        else:
            ab, k, c = self._fast
            info = fast_information(theta, self.a, ab, k, c)
        if self.steps is not None:
            poly = self.polytomous
            info[poly] = gpcm_information(theta, self.a[poly], self.steps[poly])
        return info

    def information_of(self, theta: float, items: IntArray) -> FloatArray:
        """Fisher information of the items at positions ``items``, at one ability."""
        if self._fast is None:
            info = item_information(
                theta, self.a[items], self.b[items], self.c[items], self.d[items]
            )
        else:
            ab, k, c = self._fast
            info = fast_information(theta, self.a[items], ab[items], k[items], c[items])
        if self.steps is not None:
            which = np.flatnonzero(self._is_poly[items])
            if which.size:
                poly = items[which]
                info[which] = gpcm_information(theta, self.a[poly], self.steps[poly])
        return info

    def category_log_probabilities(self, nodes: FloatArray, item: int) -> FloatArray:
        """``ln P_x`` of one item at each node, shape ``(k + 1, len(nodes))``: score 0 first.

        For a dichotomous item this is ``[ln Q, ln P]``.
        """
        if self.steps is not None and self._is_poly[item]:
            k = int(self.max_score[item])
            lp = gpcm_log_probabilities(nodes, self.a[item : item + 1], self.steps[item : item + 1])
            return np.ascontiguousarray(lp[:, 0, : k + 1].T)
        ln_p, ln_q = log_probability(nodes, self.a[item], self.b[item], self.c[item], self.d[item])
        return np.stack((ln_q, ln_p))

    def index_of(self, item_id: str) -> int:
        """Position of an item id; ``KeyError`` if unknown."""
        return self._index[item_id]

    def indices_of(self, item_ids: Sequence[str]) -> list[int]:
        """Positions of several item ids; ``KeyError`` naming the first unknown id."""
        return [self._index[i] for i in item_ids]

    def subset(self, indices: Sequence[int] | npt.NDArray[np.integer]) -> ItemBank:
        """A new bank with the items at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        return ItemBank(
            ids=tuple(self.ids[j] for j in idx),
            a=self.a[idx],
            b=self.b[idx],
            c=self.c[idx],
            d=self.d[idx],
            skills=tuple(self.skills[j] for j in idx),
            levels=None if self.levels is None else tuple(self.levels[j] for j in idx),
            steps=None if self.steps is None else self.steps[idx],
        )

    def warnings(self) -> list[str]:
        """Legal but suspicious parameters (``a`` outside 0.2–4), one message per item."""
        lo, hi = PLAUSIBLE_A
        return [
            f"item {self.ids[j]!r}: a = {self.a[j]:.3g} is outside {lo}–{hi}"
            for j in np.flatnonzero((self.a < lo) | (self.a > hi))
        ]
