"""How a candidate's page looks: the organization's brand (:mod:`etest.web.brand`) and the
theme (larger text, high contrast, both), from the attempt's facts alone, so the item page on
the hot path needs no read of its own.

The theme is the candidate's own choice on the page (kept in the attempt's accommodations as
``chosen_theme``, so it follows them to another device), else the accommodation staff set
(``theme``), else the default."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from etest.candidate.accommodations import THEMES, read
from etest.web.brand import Brand

#: The key of the candidate's own choice in ``attempts.accommodations``.
CHOSEN = "chosen_theme"


class Seen(Protocol):
    @property
    def organization_id(self) -> uuid.UUID: ...
    @property
    def accommodations(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Look:
    brand: Brand | None
    theme: str


def theme_of(stored: Mapping[str, Any] | None) -> str:
    chosen = (stored or {}).get(CHOSEN)
    if chosen in THEMES:
        return str(chosen)
    return read(stored).theme


def of(attempt: Seen, name: str = "") -> Look:
    return Look(Brand(attempt.organization_id, name), theme_of(attempt.accommodations))
