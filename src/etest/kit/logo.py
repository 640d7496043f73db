"""The logo printed on emails and certificates: ``settings.default_logo_path`` when it is set and
readable, else the bundled eTest logo (``logo.png`` beside this module).

A broken configured logo must not hold back a result email or a certificate: the problem is
logged and the bundled logo is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Logo:
    data: bytes
    subtype: str  # "png" or "jpeg"


@cache
def bundled_logo() -> Logo:
    return Logo((files("etest.kit") / "logo.png").read_bytes(), "png")


def load_logo(path: Path | None) -> Logo:
    """The configured default logo, or the bundled one when none is set or it cannot be used
    (a broken logo must not hold back a result email: the problem is logged instead)."""
    if path is None:
        return bundled_logo()
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.warning("email.logo_unreadable", path=str(path), error=str(exc))
        return bundled_logo()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Logo(data, "png")
    if data.startswith(b"\xff\xd8\xff"):
        return Logo(data, "jpeg")
    log.warning("email.logo_not_png_or_jpeg", path=str(path))
    return bundled_logo()
