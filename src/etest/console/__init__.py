"""The staff console at ``/console``: server-rendered pages over the same services as the API
(docs/console.md). Each module is one section and owns its routes and templates
(``templates/console/<section>/``); ``pages`` renders, ``session`` signs in and checks CSRF."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from etest.console import (
    accounts,
    apikeys,
    assessments,
    audit,
    auth,
    bank,
    callbacks,
    candidates,
    certificates,
    content,
    home,
    openlinks,
    organizations,
    reports,
    results,
    tokens,
)
from etest.console.pages import ConsoleRoute, error_page
from etest.console.session import StaffDep

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
for _section in (
    auth,
    accounts,
    home,
    organizations,
    candidates,
    tokens,
    openlinks,
    results,
    reports,
    certificates,
    callbacks,
    audit,
    apikeys,
    bank,
    content,
    assessments,
):
    router.include_router(_section.router, prefix="/console")


@router.api_route("/console/{rest:path}", methods=["GET", "POST"])
async def not_found(request: Request, rest: str, staff: StaffDep) -> Response:
    """Any other console address: the console's 404 page (after sign-in: a signed-out visitor
    learns nothing about which addresses exist)."""
    return error_page(request, 404, "")


root = APIRouter(include_in_schema=False)


@root.get("/")
async def index() -> RedirectResponse:
    """The site's root opens the console (candidates arrive with a /take link)."""
    return RedirectResponse("/console", status_code=303)


__all__ = ["root", "router"]
