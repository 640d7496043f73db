"""Console pages: the audit log (docs/console/audit.md).

The audit entries of the staff member's subtree (the operator: every entry, those of no
organization too), newest first, filtered by action, actor and a range of days, with the staff
member's name beside the subject. Who reads it is ``audit.repository``'s rule (admins and
superadmins), the API's too."""

from __future__ import annotations

import json
import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from etest.audit import repository
from etest.console import fields
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, render
from etest.console.session import StaffDep
from etest.deps import SessionDep
from etest.kit.pagination import Pagination, paginate
from etest.models import AuditEntry

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 50


def details_text(details: dict[str, object]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True) if details else ""


@router.get("/audit")
async def audit_log(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=200)] = "",
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Newest first. ``from``/``to`` are days (UTC), both included; ``actor`` matches part of
    the subject (``staff:<email>``, ``apikey:<prefix>``, ``sso:…``, ``cli:…``)."""
    who = staff.actor
    repository.require_reader(who)
    first, last = fields.day(from_), fields.day(to)
    errors = {}
    if (from_ and first is None) or (to and last is None):
        errors["dates"] = N_("Give the dates as YYYY-MM-DD.")
    elif first and last and last < first:
        errors["dates"] = N_("The range ends before it starts.")
    ok = not errors
    stmt = repository.entries(
        who,
        action=action.strip() or None,
        from_=fields.start_of(first) if first and ok else None,
        to=fields.end_of(last) if last and ok else None,
        actor_contains=actor.strip() or None,
    )
    total, rows = await paginate(
        session, stmt, Pagination(page, PER_PAGE), AuditEntry.created_at.desc(), AuditEntry.id
    )
    names = await repository.staff_names(session, {e.actor for e, _ in rows})
    actions = await repository.actions(session, who)
    query = {"action": action, "actor": actor, "from": from_, "to": to}
    return render(
        request,
        staff,
        "console/audit/list.html",
        status=422 if errors else 200,
        rows=rows,
        names=names,
        total=total,
        paging={"page": page, "pages": max(1, -(-total // PER_PAGE))},
        base_query=urllib.parse.urlencode({k: v for k, v in query.items() if v}),
        filters=query,
        errors=errors,
        actions=[(a, a) for a in actions],
        details_text=details_text,
    )
