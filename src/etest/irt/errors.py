"""Errors raised by :mod:`etest.irt`.

Every error is a :class:`ValueError`, so a caller that only wants "bad input" can catch that.
Nothing maps :class:`IRTError` to a problem type: ``etest simulate`` reports it as bad input, and
in the service one that escapes is an unexpected error (500 ``internal-error``, logged).
Hierarchy::

    ValueError
    └── IRTError                      anything wrong with what was passed to etest.irt
        ├── InvalidItemParameters     one item's a, b, c or d is unusable (names the item)
        ├── EmptyBank                 an item bank with no items
        ├── ShapeMismatch             arrays that should line up do not
        ├── InvalidResponses          responses that are not 0/1 (or NaN where missing is allowed),
        │                             or an administered-item list that repeats or leaves the bank
        ├── InvalidConfiguration      an engine, selection or calibration setting that cannot work
        └── NoEligibleItem            every item is excluded, so none can be selected
"""

from __future__ import annotations

__all__ = [
    "EmptyBank",
    "IRTError",
    "InvalidConfiguration",
    "InvalidItemParameters",
    "InvalidResponses",
    "NoEligibleItem",
    "ShapeMismatch",
]


class IRTError(ValueError):
    """Base class of every error raised by :mod:`etest.irt`."""


class InvalidItemParameters(IRTError):
    """An item's parameters are unusable: NaN or infinite, ``a <= 0``, ``c`` outside ``[0, 1)``,
    ``d`` outside ``(c, 1]``, or a duplicate id.

    ``item_id`` names the offending item (its id, or ``"#<index>"`` when no id is known).
    """

    def __init__(self, item_id: str, reason: str) -> None:
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"item {item_id!r}: {reason}")


class EmptyBank(IRTError):
    """An item bank (or a response matrix) with no items."""

    def __init__(self, message: str = "the item bank has no items") -> None:
        super().__init__(message)


class ShapeMismatch(IRTError):
    """Arrays that must have matching shapes do not (parameters, ids, skills, responses)."""


class InvalidResponses(IRTError):
    """Responses or administered items that cannot be scored."""


class InvalidConfiguration(IRTError):
    """A configuration that cannot work with this bank (the message names the setting)."""


class NoEligibleItem(IRTError):
    """No item can be selected: every item is administered or excluded."""
