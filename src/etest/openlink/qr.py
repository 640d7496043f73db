"""The QR code of an open link's URL, as SVG (the console shows it inline; it prints sharp)
or PNG (for slides and chat apps), through segno (pure Python, already used for the token
sheet)."""

from __future__ import annotations

import io

import segno


def svg(url: str, *, scale: int = 6, title: str | None = None) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", scale=scale, border=4, xmldecl=False, title=title or url, dark="#000"
    )
    return out.getvalue()


def png(url: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
