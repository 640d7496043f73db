"""What the console's forms and addresses send, read once: days, ids, check boxes. A value that
does not parse is None (a filter left out) or, for an id in the address, the console's one 404."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

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
