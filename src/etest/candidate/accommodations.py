"""Accommodations: what a candidate's test is adjusted by (extra time, how often a listening
clip may be played, a larger or high-contrast page, pausing an untimed test).

One shape, :class:`Accommodations`, for the candidate (standing accommodations), the token (for
one test) and the attempt (what the test actually ran under, recorded when it starts). Every
key is optional in the stored JSON: a token's keys win over the candidate's, and what neither
names takes the default (:func:`effective`). ``docs/take.md`` says what each one does.

It lives in ``candidate`` because both ``token`` and ``attempt`` may import ``candidate``
(docs/architecture.md, package layers); it imports nothing of ours but the schema base.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from etest.kit.schemas import Input

Theme = Literal["default", "large", "contrast", "large-contrast"]
THEMES: tuple[Theme, ...] = ("default", "large", "contrast", "large-contrast")

#: The bounds of the extra-time factor: 1.0 is the test's own time, 3.0 triple.
MIN_EXTRA_TIME = 1.0
MAX_EXTRA_TIME = 3.0


class Accommodations(Input):
    """Accommodations as given to the API and stored (only the keys given are stored: a key
    left out falls back to the candidate's, then to the default)."""

    extra_time: float | None = Field(
        None,
        ge=MIN_EXTRA_TIME,
        le=MAX_EXTRA_TIME,
        description="A factor on the test's and each question's time limit (1.0 to 3.0)",
        examples=[1.5],
    )
    clip_plays: int | None = Field(
        None,
        ge=1,
        le=20,
        description="How many times each listening clip may be played; absent: no limit",
    )
    theme: Theme | None = Field(
        None, description="The page's look: larger text, high contrast, or both"
    )
    pause_allowed: bool | None = Field(
        None,
        description="The candidate may pause an untimed test and come back later "
        "(ignored for a test with a time limit)",
    )

    def stored(self) -> dict[str, Any] | None:
        """The JSON kept in a row: the keys given, ``None`` when there are none."""
        given = self.model_dump(exclude_none=True)
        return given or None


class Effective(Input):
    """The accommodations an attempt runs under, every key resolved."""

    extra_time: float = 1.0
    clip_plays: int | None = None
    theme: Theme = "default"
    pause_allowed: bool = False

    @property
    def any(self) -> bool:
        """Whether anything differs from a test without accommodations."""
        return self != Effective()


def effective(
    candidate: Mapping[str, Any] | None, token: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """What an attempt records when it starts: the token's keys over the candidate's, ``None``
    when neither names any (the attempt's row stays as it was before accommodations)."""
    merged = {**(candidate or {}), **(token or {})}
    merged = {k: v for k, v in merged.items() if v is not None}
    return merged or None


def read(stored: Mapping[str, Any] | None) -> Effective:
    """A recorded (or stored) JSON as :class:`Effective`; unknown or broken keys are ignored,
    so a row written by another version never stops a test."""
    if not stored:
        return Effective()
    values: dict[str, Any] = {}
    for key in Effective.model_fields:
        if stored.get(key) is not None:
            try:
                values[key] = getattr(Accommodations.model_validate({key: stored[key]}), key)
            except ValueError:
                continue
    return Effective(**values)


def extra_time(stored: Mapping[str, Any] | None) -> float:
    """The time factor of a recorded accommodation (1.0 without one), kept in its bounds."""
    if not stored:
        return 1.0
    try:
        factor = float(stored.get("extra_time") or 1.0)
    except (TypeError, ValueError):
        return 1.0
    return min(MAX_EXTRA_TIME, max(MIN_EXTRA_TIME, factor))
