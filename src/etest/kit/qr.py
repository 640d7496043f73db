"""QR codes, one way everywhere (segno, error correction M): drawn on a ReportLab canvas as
vector squares, sharp at any zoom (the certificate and the token sheet print one), or as an SVG
or PNG file (an open link's code: the console shows the SVG inline, the PNG is for slides and
chat apps)."""

from __future__ import annotations

import io

import segno
from reportlab.lib.colors import HexColor
from reportlab.pdfgen.canvas import Canvas


def draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float, *, border: int) -> None:
    """``url`` as a QR code in the square (``x``, ``y``, ``size``) with a quiet zone of
    ``border`` modules (4 is the standard's; 2 reads well inside a white frame)."""
    matrix = [list(row) for row in segno.make(url, error="m", micro=False).matrix]
    cell = size / (len(matrix) + 2 * border)
    canvas.setFillColor(HexColor("#ffffff"))
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(HexColor("#000000"))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                canvas.rect(
                    x + (c + border) * cell,
                    y + size - (r + border + 1) * cell,
                    cell,
                    cell,
                    stroke=0,
                    fill=1,
                )


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
