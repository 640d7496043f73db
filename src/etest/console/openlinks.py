"""Console pages: open links (docs/open-links.md).

The links of the staff member's subtree with their uses, window and state, the QR code of each
(SVG to print, PNG for slides and chats), creating one and withdrawing one. The rules are
``etest.openlink``'s, shared with ``/api/v1/open-links``. Times typed in the form are read in
the chosen organization's time zone."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.console.i18n import N_
from etest.console.organizations import organization_choices
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.deps import SessionDep, SettingsDep
from etest.errors import EtestError, NotFound
from etest.kit import qr
from etest.kit.pagination import Pagination, paginate
from etest.models.token import OpenLink
from etest.openlink import repository, service
from etest.openlink.endpoints import out
from etest.openlink.schemas import OpenLinkCreate
from etest.organization import repository as org_repository
from etest.staff.service import SignedIn

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 50
FIELDS = ("uic", "title", "type", "level", "max_uses", "opens_at", "closes_at", "access_code")


async def _page(
    request: Request,
    staff: SignedIn,
    session: AsyncSession,
    page: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    actor = staff.actor
    settings = request.app.state.settings
    total, rows = await paginate(
        session,
        repository.filtered(actor),
        Pagination(page, PER_PAGE),
        OpenLink.created_at.desc(),
        OpenLink.id,
    )
    orgs, own = await organization_choices(session, actor)
    return render(
        request,
        staff,
        "console/openlinks/list.html",
        status=status,
        links=[out(settings, link, uic) for link, uic in rows],
        total=total,
        paging={"page": page, "pages": max(1, -(-total // PER_PAGE))},
        orgs=orgs,
        values=values or {"uic": own, "type": "PT", "required": []},
        errors=errors or {},
    )


@router.get("/open-links")
async def open_links(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    staff.actor.require("write")
    return await _page(request, staff, session, page)


def _moment(value: str, zone: str) -> datetime | None:
    """A ``datetime-local`` value read in the organization's time zone."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))


@router.post("/open-links")
async def create(
    request: Request, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    staff.actor.require("write")
    form = await request.form()
    values: dict[str, Any] = {
        k: v.strip() if isinstance(v := form.get(k), str) else "" for k in FIELDS
    }
    values["required"] = [f for f in form.getlist("required") if f in ("username", "phone")]
    errors: dict[str, str] = {}
    zone = "UTC"
    if values["uic"]:
        try:
            zone = (await org_repository.get_by_uic(session, staff.actor, values["uic"])).timezone
        except EtestError:
            errors["uic"] = N_("No such organization.")
    body: dict[str, Any] = {
        "uic": values["uic"] or None,
        "title": values["title"],
        "type": values["type"],
        "level": values["level"] or None if values["type"] == "CT" else None,
        "max_uses": int(values["max_uses"]) if values["max_uses"].isdigit() else None,
        "access_code": values["access_code"] or None,
        "required_fields": values["required"],
    }
    if values["max_uses"] and not values["max_uses"].isdigit():
        errors["max_uses"] = N_("Give a whole number, or leave it empty for no cap.")
    for name in ("opens_at", "closes_at"):
        try:
            body[name] = _moment(values[name], zone)
        except ValueError:
            errors[name] = N_("Give a date and time, or leave it empty.")
    if not errors:
        try:
            link, _ = await service.create(
                session, staff.actor, settings, OpenLinkCreate.model_validate(body)
            )
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "title"
                errors.setdefault(name if name in FIELDS else "title", str(error["msg"]))
        except EtestError as exc:
            errors["type"] = exc.detail
        else:
            return redirect(
                f"/console/open-links#link-{link.id}",
                N_("The open link was created. Share its address or its QR code."),
            )
    values["access_code"] = ""
    return await _page(request, staff, session, 1, values=values, errors=errors, status=422)


@router.post("/open-links/{link_id}/revoke")
async def revoke(link_id: str, staff: StaffDep, session: SessionDep) -> Response:
    link, _ = await repository.get(session, staff.actor, _uuid(link_id))
    await service.revoke(session, staff.actor, link)
    return redirect("/console/open-links", N_("The open link was withdrawn."))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No such open link.") from None


@router.get("/open-links/{link_id}/qr.{kind}")
async def qr_code(
    link_id: str, kind: str, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    link, _ = await repository.get(session, staff.actor, _uuid(link_id))
    url = service.url_of(settings, link)
    if kind == "svg":
        return Response(qr.svg(url, title=link.title), media_type="image/svg+xml")
    if kind == "png":
        return Response(
            qr.png(url),
            media_type="image/png",
            headers={"Content-Disposition": f'attachment; filename="open-link-{link.slug}.png"'},
        )
    raise NotFound("No such picture.")
