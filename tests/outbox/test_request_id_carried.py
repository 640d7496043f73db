"""A row enqueued while a request is served carries that request's id (``request_id``), so the
worker runs its job under the same id (``tests/outbox/test_not_configured.py`` shows the worker
side); a row enqueued outside a request carries none, and the payload is never touched."""

from __future__ import annotations

import uuid

from asgi_correlation_id import correlation_id
from fastapi import FastAPI

from etest.db import transaction
from etest.models import OutboxEvent
from etest.outbox.jobs import enqueue


async def _enqueue(app: FastAPI, request_id: str | None) -> OutboxEvent:
    token = correlation_id.set(request_id)
    try:
        async with transaction(app.state.sessionmaker) as session:
            row_id = await enqueue(session, "test.request-id", {"to": "x"}, key=uuid.uuid4().hex)
    finally:
        correlation_id.reset(token)
    async with transaction(app.state.sessionmaker) as session:
        row = await session.get(OutboxEvent, row_id)
        assert row is not None
        await session.delete(row)
    return row


async def test_a_row_enqueued_during_a_request_carries_its_id(app: FastAPI) -> None:
    row = await _enqueue(app, "req-4f2a")
    assert row.request_id == "req-4f2a"
    assert row.payload == {"to": "x"}


async def test_a_row_enqueued_outside_a_request_carries_none(app: FastAPI) -> None:
    row = await _enqueue(app, None)
    assert row.request_id is None
    assert row.payload == {"to": "x"}
