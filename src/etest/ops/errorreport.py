"""Optional error reporting with sentry-sdk (issue 13, part 5)."""

from __future__ import annotations

from etest.config import Settings


def init(settings: Settings, *, component: str) -> None:
    """Start error reporting for this process (``component``: api, worker, cli) when
    ``ETEST_SENTRY_DSN`` is set; a no-op otherwise."""
