"""Pilot items: new items tried on live candidates to collect responses for calibration, never
used for the candidate's ability, result or pass mark.

A version's engine may carry ``"pilot": {"items": [<item id>, ...], "rate": r}``. Which positions
are given to a pilot item is decided by the attempt's seed alone, so any process serves the same
schedule: position ``p`` (never the first) is a *pilot slot* when a seeded uniform draw for
``(seed, p)`` falls below ``rate`` and a pilot item is still unserved in this attempt; the item is
the first unserved one of a seeded order of the pilot items. The engine never sees them: its
history holds operational items only, so its decisions (and the outcome) are what they would be
without pilots for the same answers to operational items (``tests/attempt/test_pilots.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

#: The random stream of pilot slots (other streams: option order 10-11, engines 1-2).
_SLOTS, _ORDER = 20, 21


@dataclass(frozen=True)
class Pilots:
    """The pilot items of a version and the share of positions given to them."""

    items: tuple[uuid.UUID, ...]
    rate: float

    @classmethod
    def of(cls, engine: Mapping[str, Any]) -> Pilots | None:
        """The pilots of a stored engine, or ``None`` when it has none."""
        block = engine.get("pilot")
        if not block or not block.get("items") or not block.get("rate"):
            return None
        return cls(tuple(uuid.UUID(str(i)) for i in block["items"]), float(block["rate"]))

    @cached_property
    def ids(self) -> frozenset[uuid.UUID]:
        return frozenset(self.items)

    def is_slot(self, seed: int, position: int) -> bool:
        """Whether ``position`` is offered to a pilot item (if one is left)."""
        if position < 2:
            return False
        draw = np.random.default_rng([seed, _SLOTS, position]).random()
        return bool(draw < self.rate)

    def order(self, seed: int) -> list[uuid.UUID]:
        """The order the attempt's pilot items come in."""
        perm = np.random.default_rng([seed, _ORDER]).permutation(len(self.items))
        return [self.items[i] for i in perm]

    def next_item(
        self, seed: int, position: int, served: Collection[uuid.UUID]
    ) -> uuid.UUID | None:
        """The pilot item to serve at ``position``, or ``None`` (not a slot, or none left)."""
        if not self.is_slot(seed, position):
            return None
        return next((i for i in self.order(seed) if i not in served), None)

    def positions_for(self, seed: int, operational: int) -> int:
        """How many positions a test of ``operational`` items has with its pilots (a fixed
        test's planned length as the candidate sees it; every item page shows it, so it is
        worked out once per attempt and process)."""
        return _positions_for(self, seed, operational)


@lru_cache(maxsize=10_000)
def _positions_for(pilots: Pilots, seed: int, operational: int) -> int:
    position, given, served = 0, 0, 0
    while given < operational:
        position += 1
        if served < len(pilots.items) and pilots.is_slot(seed, position):
            served += 1
        else:
            given += 1
    return position
