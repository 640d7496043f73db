"""Console pages: content (docs/console.md)."""

from __future__ import annotations

from fastapi import APIRouter

from etest.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
