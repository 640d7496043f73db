"""Exact "k most informative items" without evaluating every item of a large bank.

For the 1–3PL, item information is unimodal in θ with its peak at a known ``θ_max`` (closed form,
:func:`etest.irt.models.max_information`). The θ axis ``[−6, 6)`` is cut into intervals of width
0.1. On an interval an item's information is at most ``I_max`` if its peak lies inside, otherwise
the larger of the two endpoint values. Per interval (lazily, once) the items are sorted by that
bound; a query walks the sorted list in growing blocks, evaluating the eligible items exactly,
until the next bound is below the k-th best exact value. The answer equals a full scan, including
the tie rule (equal information goes to the lower bank position). Queries outside the indexed
range, and 4PL banks, fall back to a full scan.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from etest.irt._types import BoolArray, FloatArray, IntArray
from etest.irt.bank import ItemBank, fast_information
from etest.irt.models import max_information

__all__ = ["InformationIndex", "information_index"]

_LO, _HI, _WIDTH = -6.0, 6.0, 0.1
_N_INTERVALS = round((_HI - _LO) / _WIDTH)
# Information at θ may exceed a bound computed at an endpoint by a rounding error; widen bounds.
_SLACK = 1.0 + 1e-9
# The first block of each interval keeps its parameters in sorted order (no gathers per query).
_HEAD = 64


@dataclass(eq=False)
class _Interval:
    bound: FloatArray  # per bank item, in bank order
    head: IntArray  # the _HEAD items with the largest bounds, largest first
    next_bound: float  # the largest bound outside the head
    head_a: FloatArray
    head_ab: FloatArray
    head_k: FloatArray
    head_c: FloatArray
    order: IntArray | None = None  # every item by decreasing bound, sorted on first need


class InformationIndex:
    """Per-bank search structure for :meth:`top` (build one with :func:`information_index`)."""

    def __init__(self, bank: ItemBank) -> None:
        self.bank = bank
        self._indexed = bank.unimodal_fast_path
        self._peak, self._peak_info = max_information(bank.a, bank.b, bank.c, bank.d)
        self._ab = bank.a * bank.b
        self._k = bank.a**2 * (1.0 - bank.c)
        self._nodes: dict[int, FloatArray] = {}
        self._intervals: dict[int, _Interval] = {}

    def _node(self, g: int) -> FloatArray:
        info = self._nodes.get(g)
        if info is None:
            info = self.bank.information(_LO + g * _WIDTH)
            self._nodes[g] = info
        return info

    def _interval(self, g: int) -> _Interval:
        got = self._intervals.get(g)
        if got is None:
            lo = _LO + g * _WIDTH
            hi = lo + _WIDTH
            bound = np.maximum(self._node(g), self._node(g + 1))
            inside = (self._peak >= lo) & (self._peak <= hi)
            bound[inside] = self._peak_info[inside]
            bound *= _SLACK
            n = bound.size
            if n > _HEAD:
                part = np.argpartition(-bound, _HEAD)[: _HEAD + 1]
                part = part[np.lexsort((part, -bound[part]))]
                head, next_bound = part[:_HEAD], float(bound[part[_HEAD]])
            else:
                head, next_bound = np.lexsort((np.arange(n), -bound)), -np.inf
            head = head.astype(np.int64)
            got = _Interval(
                bound=bound,
                head=head,
                next_bound=next_bound,
                head_a=self.bank.a[head],
                head_ab=self._ab[head],
                head_k=self._k[head],
                head_c=self.bank.c[head],
            )
            self._intervals[g] = got
        return got

    def top(self, theta: float, mask: BoolArray, k: int) -> tuple[list[int], list[float]]:
        """The ``k`` most informative items among ``mask`` at ``theta`` (fewer if fewer eligible),
        most informative first, ties to the lower position, with their information."""
        g = int((theta - _LO) // _WIDTH) if -1e300 < theta < 1e300 else -1
        if not self._indexed or not 0 <= g < _N_INTERVALS:
            items = np.flatnonzero(mask)
            return _best(items, self.bank.information_of(theta, items), k)
        iv = self._interval(g)
        values = fast_information(theta, iv.head_a, iv.head_ab, iv.head_k, iv.head_c)
        ok = mask[iv.head]
        items, values = iv.head[ok], values[ok]
        if items.size >= k and iv.next_bound < np.partition(values, -k)[-k]:
            return _best(items, values, k)
        if iv.next_bound == -np.inf:
            return _best(items, values, k)
        # Rare: too few eligible items near the top; walk the rest in growing blocks.
        if iv.order is None:
            iv.order = np.argsort(-iv.bound, kind="stable").astype(np.int64)
        order, bound = iv.order, iv.bound
        n = order.size
        found, vals = [items], [values]
        count, pos, block = items.size, _HEAD, 2 * _HEAD
        while pos < n:
            chunk = order[pos : pos + block]
            chunk = chunk[mask[chunk]]
            pos += block
            block *= 2
            if chunk.size:
                found.append(chunk)
                vals.append(self.bank.information_of(theta, chunk))
                count += chunk.size
            if count >= k and pos < n:
                kth = np.partition(np.concatenate(vals), count - k)[count - k]
                if bound[order[pos]] < kth:
                    break
        return _best(np.concatenate(found), np.concatenate(vals), k)


def _best(items: IntArray, values: FloatArray, k: int) -> tuple[list[int], list[float]]:
    order = np.lexsort((items, -values))[:k]
    return items[order].tolist(), values[order].tolist()


_CACHE: weakref.WeakKeyDictionary[ItemBank, InformationIndex] = weakref.WeakKeyDictionary()


def information_index(bank: ItemBank) -> InformationIndex:
    """The bank's index, built on first use and kept as long as the bank lives."""
    index = _CACHE.get(bank)
    if index is None:
        index = InformationIndex(bank)
        _CACHE[bank] = index
    return index
