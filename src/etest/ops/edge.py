"""Size limits at the edge, before anything is decoded (issue 13, part 1)."""

from __future__ import annotations

from fastapi import FastAPI

from etest.config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the edge's middleware to ``app`` (called once by the app factory)."""
