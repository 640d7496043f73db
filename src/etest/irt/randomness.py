"""Per-step randomness that any process can reproduce from an attempt's seed and the step index.

The engine needs a handful of uniform draws per step (the randomesque pick, Sympson–Hetter
lotteries). :class:`StepRandom` derives them from ``(seed, step)`` with a counter-based generator:
draw ``i`` of step ``n`` is ``mix64(key ^ mix64(i))`` with ``key = mix64(fold(seed) ^ mix64(n))``,
where ``mix64`` is the SplitMix64 finaliser (Steele, Lea & Flood 2014) and ``fold`` hashes the seed
64 bits at a time; the top 53 bits scale to ``[0, 1)``. It is pure integer arithmetic, so a stored
attempt replays identically on every platform and numpy version, and it costs about a microsecond
where building a ``numpy.random.Generator`` per step costs tens.

Selection primitives accept any :class:`RandomSource` — a ``numpy.random.Generator`` qualifies.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RandomSource", "StepRandom"]

_MASK = (1 << 64) - 1


class RandomSource(Protocol):
    """Anything with ``random() -> float`` uniform on ``[0, 1)``, e.g. a numpy ``Generator``."""

    def random(self) -> float:
        """One uniform draw on ``[0, 1)``."""
        ...


def _mix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _fold(seed: int) -> int:
    h = 0
    while True:
        h = _mix64(h ^ (seed & _MASK))
        seed >>= 64
        if not seed:
            return h


class StepRandom:
    """Uniform draws for step ``step`` of the attempt with ``seed`` (both non-negative ints)."""

    __slots__ = ("_count", "_key")

    def __init__(self, seed: int, step: int) -> None:
        if seed < 0 or step < 0:
            raise ValueError(f"seed and step must be non-negative, got {seed}, {step}")
        self._key = _mix64(_fold(seed) ^ _mix64(step))
        self._count = 0

    def random(self) -> float:
        """The next uniform draw on ``[0, 1)`` (53 bits)."""
        self._count += 1
        return (_mix64(self._key ^ _mix64(self._count)) >> 11) * (1.0 / (1 << 53))
