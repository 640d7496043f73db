"""Item statistics: classical (p-value, point-biserial) and model fit (infit/outfit mean-squares).

* **p-value**: proportion correct among the persons who saw the item.
* **Point-biserial**: Pearson correlation between the item score and a criterion, over the persons
  who saw the item. The default criterion is the person's proportion correct on the *other* items
  they saw (the corrected, rest-score form of Henrysson 1963; on complete data it equals the
  correlation with the rest score). On adaptive data pass ``ability`` (θ̂) instead, since
  proportions correct on targeted items say little.
* **Fit**: the infit and outfit mean-squares of Wright & Masters (1982) — not S-X², which needs
  fixed forms. With ``z = (x − P)/√(PQ)`` at each person's θ̂ over the persons who saw item ``j``:
  ``outfit = mean z²`` (sensitive to surprises far from the item), ``infit = Σ(x − P)² / Σ PQ``
  (information-weighted). Both expect about 1; 0.7–1.3 is the usual range for routine tests
  (Wright, Linacre, Gustafson & Martin-Löf 1994); above it means noise or a miskey.

A statistic that is undefined for an item (a correlation without variance, an item nobody saw)
is NaN and the item is counted in ``n`` as 0 or listed with its ``n``, so the gap is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from etest.irt._types import FloatArray, IntArray
from etest.irt.bank import ItemBank
from etest.irt.calibration import response_matrix
from etest.irt.errors import ShapeMismatch
from etest.irt.models import probability

__all__ = ["ClassicalStatistics", "ItemFit", "classical_statistics", "item_fit"]


@dataclass(frozen=True, eq=False)
class ClassicalStatistics:
    """Per item: responses ``n``, ``p_value`` and ``point_biserial`` (criterion named)."""

    item_ids: tuple[str, ...]
    n: IntArray
    p_value: FloatArray
    point_biserial: FloatArray
    criterion: str


@dataclass(frozen=True, eq=False)
class ItemFit:
    """Per item: responses ``n``, ``infit`` and ``outfit`` mean-squares."""

    item_ids: tuple[str, ...]
    n: IntArray
    infit: FloatArray
    outfit: FloatArray


def _ids(item_ids: Sequence[str] | None, k: int) -> tuple[str, ...]:
    ids = (
        tuple(str(i) for i in item_ids) if item_ids is not None else tuple(str(j) for j in range(k))
    )
    if len(ids) != k:
        raise ShapeMismatch(f"{len(ids)} item ids for {k} response columns")
    return ids


def _masked_correlation(x: FloatArray, y: FloatArray, mask: npt.NDArray[np.bool_]) -> FloatArray:
    """Pearson correlation per column over the rows where ``mask`` is true."""
    w = mask.astype(np.float64)
    n = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * x).sum(axis=0) / n
        my = (w * y).sum(axis=0) / n
        dx, dy = (x - mx) * w, (y - my) * w
        cov = (dx * dy).sum(axis=0)
        r = cov / np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    return np.asarray(np.where(np.isfinite(r), r, np.nan), dtype=np.float64)


def classical_statistics(
    responses: npt.ArrayLike,
    ability: npt.ArrayLike | None = None,
    item_ids: Sequence[str] | None = None,
) -> ClassicalStatistics:
    """p-values and corrected point-biserials of a persons × items matrix (NaN = not seen)."""
    x = response_matrix(responses)
    ids = _ids(item_ids, x.shape[1])
    seen = ~np.isnan(x)
    xf = np.where(seen, x, 0.0)
    n = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = np.where(n > 0, xf.sum(axis=0) / n, np.nan)
    if ability is not None:
        theta = np.asarray(ability, dtype=np.float64).reshape(-1)
        if theta.size != x.shape[0]:
            raise ShapeMismatch(f"{theta.size} abilities for {x.shape[0]} persons")
        criterion = np.broadcast_to(theta[:, None], x.shape)
        rpb = _masked_correlation(xf, np.asarray(criterion, dtype=np.float64), seen)
        name = "ability"
    else:
        others = seen.sum(axis=1, keepdims=True) - seen
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = (xf.sum(axis=1, keepdims=True) - xf) / others
        usable = seen & (others > 0)
        rpb = _masked_correlation(xf, np.where(usable, rest, 0.0), usable)
        name = "rest_proportion_correct"
    return ClassicalStatistics(
        item_ids=ids,
        n=n.astype(np.int64),
        p_value=np.asarray(p_value, dtype=np.float64),
        point_biserial=rpb,
        criterion=name,
    )


def item_fit(responses: npt.ArrayLike, bank: ItemBank, ability: npt.ArrayLike) -> ItemFit:
    """Infit and outfit mean-squares of each bank item (columns in bank order) at ``ability``."""
    x = response_matrix(responses)
    if x.shape[1] != len(bank):
        raise ShapeMismatch(f"{x.shape[1]} response columns for {len(bank)} bank items")
    theta = np.asarray(ability, dtype=np.float64).reshape(-1)
    if theta.size != x.shape[0]:
        raise ShapeMismatch(f"{theta.size} abilities for {x.shape[0]} persons")
    seen = ~np.isnan(x)
    p = probability(theta, bank.a, bank.b, bank.c, bank.d)
    pq = p * (1.0 - p)
    resid2 = np.where(seen, (np.where(seen, x, 0.0) - p) ** 2, 0.0)
    n = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = np.where(seen, resid2 / pq, 0.0).sum(axis=0) / n
        infit = resid2.sum(axis=0) / np.where(seen, pq, 0.0).sum(axis=0)
    return ItemFit(
        item_ids=bank.ids,
        n=n.astype(np.int64),
        infit=np.asarray(np.where(n > 0, infit, np.nan), dtype=np.float64),
        outfit=np.asarray(np.where(n > 0, outfit, np.nan), dtype=np.float64),
    )
