"""Server-rendered pages (Jinja2 templates, hand-written CSS, a little progressive-enhancement
JavaScript): the candidate's ``/take`` (see ``docs/take.md``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from etest.web.pages import STATIC_DIR
from etest.web.take import router

__all__ = ["mount_static", "router"]


def mount_static(app: FastAPI) -> None:
    """Serve the pages' CSS, JavaScript and sound-check clip at ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
