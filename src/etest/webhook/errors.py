"""Errors of callbacks and their delivery log (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict


class DeliveryRunning(Conflict):
    code = "delivery-running"
    title = "Delivery running"


class CallbackDisabled(Conflict):
    """The endpoint answered 410 Gone; saving the callback URL again re-enables it."""

    code = "callback-disabled"
    title = "Callback endpoint disabled"
