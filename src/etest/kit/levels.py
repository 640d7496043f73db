"""Level names: ``Pre A1`` is canonical; ``Pre-A1``, ``pre_a1`` and case variants are accepted."""

from __future__ import annotations

from etest.errors import UnknownLevel

LEVELS: tuple[str, ...] = ("Pre A1", "A1", "A1+", "A2", "A2+", "B1", "B1+", "B2", "B2+", "C1",
                           "C1-Bridge")


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in " -_")


_BY_KEY = {_key(name): name for name in LEVELS}


def canonical_level(name: str) -> str | None:
    """The canonical display name of a level, or None when the name is not a level."""
    return _BY_KEY.get(_key(name))


def validate_level(value: str | None) -> str | None:
    """A Pydantic field validator: the canonical level name, or a message listing the levels."""
    if value is None:
        return None
    name = canonical_level(value)
    if name is None:
        raise ValueError(f"unknown level {value!r}; levels are {', '.join(LEVELS)}")
    return name


def require_level(value: str | None) -> str | None:
    """The canonical level name of a filter or field (None stays None); 422 ``unknown-level``
    naming the levels otherwise."""
    if value is None:
        return None
    name = canonical_level(value)
    if name is None:
        raise UnknownLevel(f"Unknown level {value!r}; levels are {', '.join(LEVELS)}.")
    return name
