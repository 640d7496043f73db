"""Console pages: API keys (docs/console/apikeys.md).

The keys of the staff member's subtree (the operator: every key), creating one (the key is on
the page that answers the form, once: only its digest is stored) and revoking one. The rules
(who may mint which role for which organization) are ``etest.apikey``'s, shared with
``etest apikey``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from etest import apikey
from etest.console.i18n import N_
from etest.console.organizations import organization_choices
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.deps import SessionDep, SettingsDep
from etest.errors import NotFound, Unprocessable
from etest.kit.pagination import Pagination, paginate
from etest.models import ApiKey
from etest.staff.service import SignedIn

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 50


async def _page(
    request: Request,
    staff: SignedIn,
    session: AsyncSession,
    page: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    actor = staff.actor
    total, rows = await paginate(
        session,
        apikey.keys(actor),
        Pagination(page, PER_PAGE),
        ApiKey.created_at.desc(),
        ApiKey.id,
    )
    orgs, own = await organization_choices(session, actor)
    return render(
        request,
        staff,
        "console/apikeys/list.html",
        status=status,
        keys=rows,
        total=total,
        paging={"page": page, "pages": max(1, -(-total // PER_PAGE))},
        roles=[(r, r) for r in apikey.grantable_roles(actor)],
        revocable=apikey.grantable_roles(actor),
        orgs=orgs,
        values=values or {"uic": own, "role": "viewer", "name": ""},
        errors=errors or {},
    )


@router.get("/api-keys")
async def api_keys(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    staff.actor.require("write")
    return await _page(request, staff, session, page)


@router.post("/api-keys")
async def create(
    request: Request, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    staff.actor.require("write")
    form = await request.form()
    values = {
        k: v.strip() if isinstance(v := form.get(k), str) else "" for k in ("uic", "role", "name")
    }
    try:
        key = await apikey.create_api_key(
            session,
            settings,
            staff.actor,
            role=values["role"],
            uic=values["uic"] or None,
            name=values["name"],
        )
    except (Unprocessable, NotFound) as exc:
        # NotFound: a UIC outside the subtree reads like a missing one
        detail = exc.detail
        field = "uic" if isinstance(exc, NotFound) or "organization" in detail else "role"
        if detail.startswith("API key name"):
            field = "name"
        return await _page(
            request, staff, session, 1, values=values, errors={field: exc.detail}, status=422
        )
    return render(
        request,
        staff,
        "console/apikeys/created.html",
        headers={"Cache-Control": "no-store"},
        key=key,
        values=values,
    )


@router.post("/api-keys/{prefix}/revoke")
async def revoke(prefix: str, staff: StaffDep, session: SessionDep) -> Response:
    await apikey.revoke_api_key(session, staff.actor, prefix)
    return redirect("/console/api-keys", N_("The API key was revoked."))
