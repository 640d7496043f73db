"""Errors of outbox operations (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, NotFound


class OutboxRowNotFound(NotFound):
    code = "outbox-row-not-found"
    title = "Unknown outbox row"


class OutboxRowNotRetryable(Conflict):
    code = "outbox-row-not-retryable"
    title = "Outbox row not retryable"
