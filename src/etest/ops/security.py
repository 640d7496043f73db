"""Proxy headers from trusted addresses, HSTS and the other security headers (issue 13,
part 4)."""

from __future__ import annotations

from fastapi import FastAPI

from etest.config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the security middleware to ``app`` (called once by the app factory)."""
