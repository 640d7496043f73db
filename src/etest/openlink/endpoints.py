"""``/api/v1/open-links``: create, list, read and revoke an organization's open links (admins
of its subtree), and each link's QR code."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from etest.config import Settings
from etest.deps import ActorDep, SessionDep, SettingsDep
from etest.kit import qr
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import Page
from etest.models.base import utcnow
from etest.models.token import OpenLink
from etest.openlink import repository, service
from etest.openlink.schemas import OpenLinkCreate, OpenLinkOut

router = APIRouter(prefix="/api/v1/open-links", tags=["open links"])


def out(settings: Settings, link: OpenLink, uic: str) -> OpenLinkOut:
    """The API's view of a link (the console shows the same)."""
    base = f"/api/v1/open-links/{link.id}"
    return OpenLinkOut(
        id=link.id,
        uic=uic,
        slug=link.slug,
        url=service.url_of(settings, link),
        qr_svg_url=f"{base}/qr.svg",
        qr_png_url=f"{base}/qr.png",
        title=link.title,
        type="CT" if link.type == "CT" else "PT",
        level=link.level,
        plan_code=link.plan_code,
        max_uses=link.max_uses,
        uses=link.uses,
        opens_at=link.opens_at,
        closes_at=link.closes_at,
        has_access_code=link.access_code_digest is not None,
        required_fields=list(link.required_fields or []),
        language=link.language,
        status=service.status(link, utcnow()),
        created_by=link.created_by,
        created_at=link.created_at,
        revoked_at=link.revoked_at,
    )


@router.post("", response_model=OpenLinkOut, status_code=status.HTTP_201_CREATED)
async def create_link(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, body: OpenLinkCreate
) -> OpenLinkOut:
    """Create an open link: candidates who open ``url`` register and start the test. Refused
    like a token when none could be issued through it (``plan-not-allowed``,
    ``level-not-in-plan``, ``assessment-unavailable``, ``no-plan``)."""
    link, uic = await service.create(session, actor, settings, body)
    return out(settings, link, uic)


@router.get("", response_model=Page[OpenLinkOut])
async def list_links(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    pagination: PaginationDep,
    revoked: Annotated[
        bool | None, Query(description="only revoked (true) or live (false)")
    ] = None,
) -> Page[OpenLinkOut]:
    stmt = repository.filtered(actor, revoked=revoked)
    total, rows = await paginate(session, stmt, pagination, OpenLink.created_at.desc(), OpenLink.id)
    return Page(
        items=[out(settings, link, uic) for link, uic in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.get("/{link_id}", response_model=OpenLinkOut)
async def get_link(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, link_id: uuid.UUID
) -> OpenLinkOut:
    return out(settings, *await repository.get(session, actor, link_id))


@router.post("/{link_id}/revoke", response_model=OpenLinkOut)
async def revoke_link(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, link_id: uuid.UUID
) -> OpenLinkOut:
    """Withdraw the link (idempotent): its page says so; tokens it issued stay valid."""
    link, uic = await repository.get(session, actor, link_id)
    await service.revoke(session, actor, link)
    return out(settings, link, uic)


@router.get("/{link_id}/qr.svg", response_class=Response)
async def link_qr_svg(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, link_id: uuid.UUID
) -> Response:
    link, _ = await repository.get(session, actor, link_id)
    return Response(qr.svg(service.url_of(settings, link)), media_type="image/svg+xml")


@router.get("/{link_id}/qr.png", response_class=Response)
async def link_qr_png(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, link_id: uuid.UUID
) -> Response:
    link, _ = await repository.get(session, actor, link_id)
    return Response(qr.png(service.url_of(settings, link)), media_type="image/png")
