from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.deps import ActorDep, SessionDep, SettingsDep
from etest.kit.pagination import Pagination, PaginationDep, paginate
from etest.kit.schemas import TEXT_QUERY, Page, Uic
from etest.models import Organization
from etest.organization import repository, service
from etest.organization.schemas import (
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
)

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])
UicPath = Annotated[Uic, Path()]


async def _out(session: AsyncSession, orgs: list[Organization]) -> list[OrganizationOut]:
    parents = await repository.uics_by_id(session, {o.parent_id for o in orgs if o.parent_id})
    return [
        OrganizationOut.model_validate(
            {
                **{
                    c: getattr(o, c)
                    for c in OrganizationOut.model_fields
                    if c not in ("parent_uic", "has_callback_secret", "allowed_plans")
                },
                "parent_uic": parents.get(o.parent_id) if o.parent_id else None,
                "allowed_plans": o.allowed_plans or [],
                "has_callback_secret": bool(o.callback_secret),
            }
        )
        for o in orgs
    ]


async def _page(
    session: AsyncSession, stmt: Select[Organization], pagination: Pagination
) -> Page[OrganizationOut]:
    total, rows = await paginate(session, stmt, pagination, Organization.path)
    return Page(
        items=await _out(session, [r[0] for r in rows]),
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.post("", response_model=OrganizationOut, status_code=status.HTTP_201_CREATED)
async def create_organization(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, body: OrganizationCreate
) -> OrganizationOut:
    """Create an organization below one of the actor's own (a root: global superadmin only).
    A callback URL the SSRF guard refuses is 422 ``callback-url-refused``."""
    org = await service.create(
        session, actor, body, callback_allow_networks=settings.callback_allow_networks
    )
    return (await _out(session, [org]))[0]


@router.get("", response_model=Page[OrganizationOut])
async def list_organizations(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    q: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=200)] = None,
) -> Page[OrganizationOut]:
    """Every organization of the actor's subtree, in tree order; ``q`` matches UIC or name."""
    return await _page(session, repository.filtered(actor, q=q), pagination)


@router.get("/{uic}", response_model=OrganizationOut)
async def get_organization(actor: ActorDep, session: SessionDep, uic: UicPath) -> OrganizationOut:
    org = await repository.get_by_uic(session, actor, uic)
    return (await _out(session, [org]))[0]


@router.patch("/{uic}", response_model=OrganizationOut)
async def update_organization(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    uic: UicPath,
    body: OrganizationUpdate,
) -> OrganizationOut:
    """Change an organization. A new ``callback_secret`` rotates (the previous one keeps
    signing for 24 hours); saving ``callback_url`` re-enables an endpoint disabled by a 410."""
    org = await service.update(
        session, actor, uic, body, callback_allow_networks=settings.callback_allow_networks
    )
    return (await _out(session, [org]))[0]


@router.get("/{uic}/children", response_model=Page[OrganizationOut])
async def list_children(
    actor: ActorDep, session: SessionDep, uic: UicPath, pagination: PaginationDep
) -> Page[OrganizationOut]:
    org = await repository.get_by_uic(session, actor, uic)
    return await _page(session, repository.filtered(actor, children_of=org), pagination)


@router.get("/{uic}/subtree", response_model=Page[OrganizationOut])
async def list_subtree(
    actor: ActorDep, session: SessionDep, uic: UicPath, pagination: PaginationDep
) -> Page[OrganizationOut]:
    """The organization and everything below it, in tree order."""
    org = await repository.get_by_uic(session, actor, uic)
    return await _page(session, repository.filtered(actor, subtree_of=org), pagination)
