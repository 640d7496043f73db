"""Level names: ``Pre A1`` is canonical; ``Pre-A1``, ``pre_a1`` and case variants are accepted.
And what a level means to a learner, in English (:func:`level_meaning`: the result page, emails)."""

from __future__ import annotations

from etest.errors import UnknownLevel

LEVELS: tuple[str, ...] = (
    "Pre A1",
    "A1",
    "A1+",
    "A2",
    "A2+",
    "B1",
    "B1+",
    "B2",
    "B2+",
    "C1",
    "C1-Bridge",
)


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in " -_")


_BY_KEY = {_key(name): name for name in LEVELS}

#: One short sentence per CEFR band, written for a learner (a child may read it too): the words
#: of the result page and of English emails (other languages: ``etest.notification.texts``).
_BAND = {
    "Pre A1": "You know some very common words and phrases, like greetings and numbers.",
    "A1": "You can understand and use simple everyday phrases when people speak slowly and "
    "clearly.",
    "A2": "You can understand and talk about familiar everyday things, like family, shopping "
    "and work, in simple sentences.",
    "B1": "You can manage most everyday situations, follow the main points of clear speech "
    "and texts on familiar topics, and describe your experiences.",
    "B2": "You can understand the main ideas of complex texts and talk about many topics "
    "with some fluency.",
    "C1": "You can understand long, demanding texts and express yourself fluently and "
    "flexibly at work, in study and in social life.",
}


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


def level_meaning(level: str) -> str:
    """What being placed at ``level`` means, in one or two plain sentences (English)."""
    if level in _BAND:
        return _BAND[level]
    if level == "C1-Bridge":
        return _BAND["C1"] + " You are working beyond C1."
    base = level.rstrip("+")
    if level.endswith("+") and base in _BAND:
        return _BAND[base] + f" You are above {base} and on your way to the next level."
    return ""
