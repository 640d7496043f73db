"""The item bank: parameter arrays plus ids, skills and (optionally) levels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from etest.irt._types import BoolArray, FloatArray, IntArray
from etest.irt.errors import EmptyBank, InvalidItemParameters, ShapeMismatch
from etest.irt.models import item_information

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

    Raises:
        EmptyBank: no items.
        ShapeMismatch: an array's length differs from the number of ids.
        InvalidItemParameters: NaN or infinite parameters, ``a <= 0``, ``c`` outside ``[0, 1)``,
            ``d`` outside ``(c, 1]``, or a duplicate id; the error names the item.
    """

    ids: tuple[str, ...]
    a: FloatArray
    b: FloatArray
    c: FloatArray
    d: FloatArray
    skills: tuple[str, ...]
    levels: tuple[int | None, ...] | None = None
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
    ) -> ItemBank:
        """Build and validate a bank; scalar ``c``/``d`` apply to every item."""
        ids_t = tuple(str(i) for i in ids)
        n = len(ids_t)
        if n == 0:
            raise EmptyBank()
        skills_t = tuple(str(s) for s in skills) if skills is not None else ("",) * n
        levels_t = tuple(levels) if levels is not None else None
        return cls(
            ids=ids_t,
            a=_float_array("a", a, n),
            b=_float_array("b", b, n),
            c=_float_array("c", c, n),
            d=_float_array("d", d, n),
            skills=skills_t,
            levels=levels_t,
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
        return self._fast is not None

    @property
    def model(self) -> Literal["1pl", "2pl", "3pl", "4pl"]:
        """The simplest model that describes every item."""
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
            return item_information(theta, self.a, self.b, self.c, self.d)
        ab, k, c = self._fast
        return fast_information(theta, self.a, ab, k, c)

    def information_of(self, theta: float, items: IntArray) -> FloatArray:
        """Fisher information of the items at positions ``items``, at one ability."""
        if self._fast is None:
            return item_information(
                theta, self.a[items], self.b[items], self.c[items], self.d[items]
            )
        ab, k, c = self._fast
        return fast_information(theta, self.a[items], ab[items], k[items], c[items])

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
        )

    def warnings(self) -> list[str]:
        """Legal but suspicious parameters (``a`` outside 0.2–4), one message per item."""
        lo, hi = PLAUSIBLE_A
        return [
            f"item {self.ids[j]!r}: a = {self.a[j]:.3g} is outside {lo}–{hi}"
            for j in np.flatnonzero((self.a < lo) | (self.a > hi))
        ]
