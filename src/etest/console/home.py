"""The home page: what matters now for the signed-in staff member (docs/console.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from etest.console.pages import ConsoleRoute, render
from etest.console.session import StaffDep

router = APIRouter(route_class=ConsoleRoute)


@router.get("")
async def home(request: Request, staff: StaffDep) -> Response:
    return render(request, staff, "console/home.html")
