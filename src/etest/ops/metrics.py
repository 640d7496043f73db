"""Prometheus metrics at ``/metrics`` (issue 13, part 5)."""

from __future__ import annotations

from fastapi import FastAPI

from etest.config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the metrics middleware and route to ``app`` (called once by the app factory)."""
