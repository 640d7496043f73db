"""Console pages: the callback delivery log (docs/console/callbacks.md).

``webhook.deliver`` outbox rows of the staff member's subtree with their tries (status, the
endpoint's HTTP status, when, the next try), one delivery with its body and every try, and
"redeliver" through ``webhook.service.redeliver`` (admin, support, superadmin), as the API's
``POST /api/v1/webhook-deliveries/{id}/redeliver``."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from etest.console import fields
from etest.console.i18n import N_, translator
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.deps import SessionDep, SettingsDep
from etest.kit.pagination import Pagination, paginate
from etest.models import OutboxEvent, OutboxTry
from etest.organization import repository as org_repository
from etest.webhook import repository, service

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 25
STATUSES: tuple[tuple[str, str], ...] = (
    ("pending", N_("waiting")),
    ("running", N_("sending")),
    ("done", N_("delivered")),
    ("dead", N_("failed (gave up)")),
    ("cancelled", N_("cancelled")),
)
EVENT_TYPES = ("attempt.finished", "certificate.issued")


def http_status(attempt: OutboxTry) -> int | None:
    value = attempt.detail.get("status")
    return value if isinstance(value, int) else None


def failed(row: OutboxEvent) -> bool:
    """Worth offering "redeliver" in the list: given up on, or waiting after a failed try."""
    return row.status in ("dead", "cancelled") or (row.status == "pending" and row.tries > 0)


@router.get("/callbacks")
async def deliveries(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=16)] = "",
    event_type: Annotated[str, Query(max_length=32)] = "",
    uic: Annotated[str, Query(max_length=64)] = "",
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Newest first. ``from``/``to`` are days (UTC), both included."""
    actor = staff.actor
    within = await org_repository.get_by_uic(session, actor, uic.strip()) if uic.strip() else None
    first, last = fields.day(from_), fields.day(to)
    errors = {}
    if (from_ and first is None) or (to and last is None):
        errors["dates"] = N_("Give the dates as YYYY-MM-DD.")
    elif first and last and last < first:
        errors["dates"] = N_("The range ends before it starts.")
    stmt = repository.filtered(
        actor,
        status=status if status in dict(STATUSES) else None,
        event_type=event_type if event_type in EVENT_TYPES else None,
        within=within,
        created_from=fields.start_of(first) if first and not errors else None,
        created_to=fields.end_of(last) if last and not errors else None,
    )
    total, rows = await paginate(
        session, stmt, Pagination(page, PER_PAGE), OutboxEvent.created_at.desc(), OutboxEvent.id
    )
    tries = await repository.tries_of(session, [r[0].id for r in rows])
    _ = translator(staff.account.language)
    query = {"status": status, "event_type": event_type, "uic": uic, "from": from_, "to": to}
    return render(
        request,
        staff,
        "console/callbacks/list.html",
        status=422 if errors else 200,
        rows=[(row, org_uic, tries[row.id]) for row, org_uic in rows],
        total=total,
        paging={"page": page, "pages": max(1, -(-total // PER_PAGE))},
        base_query=urllib.parse.urlencode({k: v for k, v in query.items() if v}),
        filters=query,
        errors=errors,
        statuses=[(value, _(label)) for value, label in STATUSES],
        status_names=dict(STATUSES),
        event_types=[(e, e) for e in EVENT_TYPES],
        may_redeliver=actor.role in service.REDELIVER_ROLES,
        failed=failed,
        http_status=http_status,
    )


def _body(row: OutboxEvent) -> str:
    body: Any = row.payload.get("body", {})
    return json.dumps(body, indent=2, ensure_ascii=False)


@router.get("/callbacks/{delivery_id}")
async def delivery(
    request: Request, delivery_id: uuid.UUID, staff: StaffDep, session: SessionDep
) -> Response:
    row, org_uic = await repository.get(session, staff.actor, delivery_id)
    tries = (await repository.tries_of(session, [row.id]))[row.id]
    return render(
        request,
        staff,
        "console/callbacks/show.html",
        row=row,
        uic=org_uic,
        tries=tries,
        body=_body(row),
        status_names=dict(STATUSES),
        may_redeliver=staff.actor.role in service.REDELIVER_ROLES and row.status != "running",
        http_status=http_status,
    )


@router.post("/callbacks/{delivery_id}/redeliver")
async def redeliver(
    delivery_id: uuid.UUID, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Due now with a fresh budget of tries and the same ``webhook-id`` (the worker sends it)."""
    row, _ = await service.redeliver(session, staff.actor, settings, delivery_id)
    return redirect(
        f"/console/callbacks/{row.id}",
        N_("The callback will be sent again shortly, with the same webhook-id."),
    )
