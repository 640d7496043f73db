"""The callback delivery log (``webhook.deliver`` outbox rows) with a redeliver action."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from etest.deps import ActorDep, SessionDep, SettingsDep
from etest.errors import ReversedDateRange
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import Page, Uic, UtcDatetime
from etest.models import OutboxEvent, OutboxTry
from etest.organization import repository as org_repository
from etest.webhook import repository, service
from etest.webhook.schemas import (
    DeliveryStatus,
    DeliveryTry,
    EventType,
    WebhookDelivery,
    WebhookDeliveryDetail,
)

router = APIRouter(prefix="/api/v1/webhook-deliveries", tags=["webhooks"])


def _try(row: OutboxTry) -> DeliveryTry:
    status = row.detail.get("status")
    response = row.detail.get("body")
    return DeliveryTry(
        number=row.number,
        worker=row.worker,
        started_at=row.started_at,
        finished_at=row.finished_at,
        ok=row.ok,
        http_status=status if isinstance(status, int) else None,
        error=row.error,
        response=response if isinstance(response, str) else None,
    )


def _out(row: OutboxEvent, uic: str, tries: list[OutboxTry]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook_id=str(row.payload.get("webhook_id", "")),
        event_type=str(row.payload.get("type", "")),
        uic=uic,
        status=row.status,
        tries=row.tries,
        max_tries=row.max_tries,
        last_error=row.last_error,
        next_try_at=row.available_at if row.status in ("pending", "running") else None,
        created_at=row.created_at,
        finished_at=row.finished_at,
        history=[_try(t) for t in tries],
    )


async def _detail(session: AsyncSession, row: OutboxEvent, uic: str) -> WebhookDeliveryDetail:
    tries = (await repository.tries_of(session, [row.id]))[row.id]
    return WebhookDeliveryDetail(
        **_out(row, uic, tries).model_dump(), body=row.payload.get("body", {})
    )


@router.get("", response_model=Page[WebhookDelivery])
async def list_webhook_deliveries(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    status: DeliveryStatus | None = None,
    uic: Annotated[Uic | None, Query()] = None,
    include_descendants: bool = True,
    event_type: EventType | None = None,
    from_: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    to: UtcDatetime | None = None,
) -> Page[WebhookDelivery]:
    """Callback deliveries of the actor's subtree, newest first, each with its tries.
    ``from``/``to`` bound the time the delivery was queued (half-open)."""
    if from_ is not None and to is not None and to <= from_:
        raise ReversedDateRange(
            "'to' must be after 'from' (the range is half-open: from ≤ created_at < to)."
        )
    org = await org_repository.get_by_uic(session, actor, uic) if uic is not None else None
    stmt = repository.filtered(
        actor,
        status=status,
        event_type=event_type,
        within=org,
        include_descendants=include_descendants,
        created_from=from_,
        created_to=to,
    )
    total, rows = await paginate(
        session, stmt, pagination, OutboxEvent.created_at.desc(), OutboxEvent.id
    )
    tries = await repository.tries_of(session, [r[0].id for r in rows])
    return Page(
        items=[_out(r, u, tries[r.id]) for r, u in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.get("/{delivery_id}", response_model=WebhookDeliveryDetail)
async def get_webhook_delivery(
    actor: ActorDep, session: SessionDep, delivery_id: uuid.UUID
) -> WebhookDeliveryDetail:
    """One delivery with its body (as signed) and every try."""
    return await _detail(session, *await repository.get(session, actor, delivery_id))


@router.post("/{delivery_id}/redeliver", response_model=WebhookDeliveryDetail)
async def redeliver_webhook(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, delivery_id: uuid.UUID
) -> WebhookDeliveryDetail:
    """Deliver again, now, with the same ``webhook-id`` (admin or support). 409 while a worker
    is delivering it."""
    return await _detail(session, *await service.redeliver(session, actor, settings, delivery_id))
