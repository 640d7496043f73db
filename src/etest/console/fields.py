"""What the console's forms and addresses send, read once: days, ids, check boxes. A value that
does not parse is None (a filter left out) or, for an id in the address, the console's one 404."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from etest.errors import NotFound


def day(value: str | None) -> date | None:
    """``YYYY-MM-DD`` as a date; None when empty or not a date."""
    try:
        return date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None


def start_of(first: date) -> datetime:
    """The first moment of a day (UTC): a range's inclusive start."""
    return datetime.combine(first, time(0), UTC)


def end_of(last: date) -> datetime:
    """The first moment after a day (UTC): the exclusive end of a range whose last day is
    included."""
    return datetime.combine(last + timedelta(days=1), time(0), UTC)


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def path_id(value: str) -> uuid.UUID:
    """An id from the address; anything that is not one is the same 404 as a missing row."""
    found = uuid_or_none(value)
    if found is None:
        raise NotFound("No such page.")
    return found


def flag(value: str | None, default: bool) -> bool:
    """A check box or a yes/no parameter; absent: ``default``."""
    return default if value is None else value in ("1", "on", "true", "yes")


def console_path(target: str | None, fallback: str = "/console") -> str:
    """Where to send the browser next (after signing in, after a form): an address of the
    console on this site only, never another site (``//host``, a backslash that browsers read
    as a slash); anything else is ``fallback``."""
    on_console = target is not None and (
        target == "/console" or target.startswith(("/console/", "/console?"))
    )
    if on_console and target is not None and "\\" not in target:
        return target
    return fallback


#: The accommodation fields of the candidate form and the token form
#: (etest.candidate.accommodations; their controls: ``console/_accommodations.html``).
ACCOMMODATION = ("acc_extra_time", "acc_clip_plays", "acc_theme", "acc_pause")


def accommodation_values(stored: dict[str, Any] | None) -> dict[str, str]:
    """Stored accommodations (a candidate's) as the form's fields."""
    acc = stored or {}
    return {
        "acc_extra_time": f"{acc['extra_time']:g}" if acc.get("extra_time") else "",
        "acc_clip_plays": str(acc.get("clip_plays") or ""),
        "acc_theme": str(acc.get("theme") or ""),
        "acc_pause": "1" if acc.get("pause_allowed") else "",
    }


def accommodations_from(values: dict[str, str]) -> dict[str, Any] | None:
    """The form's accommodation fields as the API's object (only what was chosen; the schema
    checks it, so a wrong value is a field error like any other)."""
    given: dict[str, Any] = {
        "extra_time": values["acc_extra_time"] or None,
        "clip_plays": values["acc_clip_plays"] or None,
        "theme": values["acc_theme"] or None,
        "pause_allowed": True if values["acc_pause"] else None,
    }
    given = {k: v for k, v in given.items() if v is not None}
    return given or None
