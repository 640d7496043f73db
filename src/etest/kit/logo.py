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


def organization_logo(logo_file: Path | None, default_path: Path | None) -> Logo:
    """An organization's uploaded logo (``logo_file``: its file in the media store, ``None``
    when it has none), else :func:`load_logo` of the configured default. The upload was checked
    to be a PNG or JPEG when it was stored; a file that is gone falls back like a broken
    default."""
    if logo_file is None:
        return load_logo(default_path)
    try:
        data = logo_file.read_bytes()
    except OSError as exc:
        log.warning("logo.organization_unreadable", path=str(logo_file), error=str(exc))
        return load_logo(default_path)
    subtype = _subtype(data)
    return Logo(data, subtype) if subtype else load_logo(default_path)


def _subtype(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(accent: str) -> str:
    """The text colour for an accent background: white where it reaches WCAG AA (4.5:1),
    else near-black (whichever contrasts more), so any accent an organization picks stays
    readable."""
    white, black = "#ffffff", "#111111"
    if contrast(accent, white) >= 4.5:
        return white
    return white if contrast(accent, white) > contrast(accent, black) else black
