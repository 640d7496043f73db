from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from etest.kit.schemas import Output

DeliveryStatus = Literal["pending", "running", "done", "dead", "cancelled"]
EventType = Literal["attempt.finished", "certificate.issued"]


class DeliveryTry(Output):
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool
    http_status: int | None
    error: str | None
    response: str | None


class WebhookDelivery(Output):
    id: uuid.UUID
    webhook_id: str
    event_type: str
    uic: str
    status: DeliveryStatus
    tries: int
    #: Null until the first try (then ``ETEST_OUTBOX_MAX_TRIES`` unless the row set its own).
    max_tries: int | None
    last_error: str | None
    next_try_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    history: list[DeliveryTry]


class WebhookDeliveryDetail(WebhookDelivery):
    body: dict[str, Any]
