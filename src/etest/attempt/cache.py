"""The delivery's process caches, in one place, each bounded and least-recently-used first out.

Everything kept here is derived from immutable rows (a pinned assessment version and its engine,
item versions) or fixed for the life of an attempt (the items a candidate saw in earlier
attempts), so an evicted entry is simply rebuilt from the database on its next use and any
process can still serve any attempt: memoization, not state. The adaptive engine's last state
per attempt is an :class:`Lru` of its own inside each :class:`~etest.attempt.engines.IrtEngine`
(a rebuilt engine starts with none).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from etest.attempt.engines import Version
    from etest.models import Item

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A mapping of at most ``limit`` entries; adding one more evicts the least recently used
    (read or written) entry."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("an Lru holds at least one entry")
        self.limit = limit
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The entry of ``key`` (now the most recently used), or ``None``."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key`` (the most recently used); returns it."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return value

    def pop(self, key: K) -> V | None:
        return self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def recency(self) -> list[K]:
        """The keys, least recently used first."""
        return list(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


#: The engine of each pinned assessment version (built from the version and its items).
ENGINES: Lru[uuid.UUID, Version] = Lru(256)
#: Item rows by id (item versions are immutable: a change is a new row), detached.
ITEMS: Lru[uuid.UUID, Item] = Lru(20_000)
#: The items a candidate was served in earlier attempts, per attempt.
SEEN: Lru[uuid.UUID, frozenset[uuid.UUID]] = Lru(10_000)
#: The adaptive engine's states kept per engine (a few kB each).
STATES_PER_ENGINE = 4096


def clear() -> None:
    """Forget everything (tests; every entry is rebuilt on its next use)."""
    for cache in (ENGINES, ITEMS, SEEN):
        cache.clear()
