"""A row enqueued while a request is served carries that request's id (``REQUEST_ID_KEY``), so
the worker runs its job under the same id (``tests/outbox/test_not_configured.py`` shows the
worker side); a row enqueued outside a request carries none."""

from __future__ import annotations

import uuid

from asgi_correlation_id import correlation_id
from fastapi import FastAPI

from etest.db import transaction
from etest.models import OutboxEvent
from etest.outbox.jobs import REQUEST_ID_KEY, enqueue


async def _enqueue(app: FastAPI, payload: dict[str, object]) -> dict[str, object]:
    key = uuid.uuid4().hex
    async with transaction(app.state.sessionmaker) as session:
        row_id = await enqueue(session, "test.request-id", payload, key=key)
    async with transaction(app.state.sessionmaker) as session:
        row = await session.get(OutboxEvent, row_id)
        assert row is not None
        stored: dict[str, object] = dict(row.payload)
        await session.delete(row)
    return stored


async def test_a_row_enqueued_during_a_request_carries_its_id(app: FastAPI) -> None:
    token = correlation_id.set("req-4f2a")
    try:
        stored = await _enqueue(app, {"to": "x"})
        kept = await _enqueue(app, {"to": "y", REQUEST_ID_KEY: "earlier"})
    finally:
        correlation_id.reset(token)
    assert stored == {"to": "x", REQUEST_ID_KEY: "req-4f2a"}
    assert kept[REQUEST_ID_KEY] == "earlier"  # a row re-enqueued by a job keeps its origin


async def test_a_row_enqueued_outside_a_request_carries_none(app: FastAPI) -> None:
    assert correlation_id.get() is None
    assert await _enqueue(app, {"to": "z"}) == {"to": "z"}
