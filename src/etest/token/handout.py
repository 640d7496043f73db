"""Handing out token codes, which exist in clear only in the request that issues them: a
printable sheet (PDF, one block per candidate with the take link as a QR code) or a CSV of take
links. Pure functions of plain values (:class:`Entry`), so they run off the event loop and
without a database session.

ReportLab is not thread-safe: callers draw :func:`sheet_pdf` on the certificate PDF thread
(``etest.certificate.download.on_pdf_thread``), never on the event loop.

Fonts: each text is set in the first installed font that has every one of its characters
(Noto Sans, Droid Sans Fallback for CJK, DejaVu Sans), else Helvetica. Unlike the certificate
(``etest.certificate.fonts``, a package above this one), a text is not split into runs of
several fonts and right-to-left scripts are not reshaped."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from etest.kit.qr import draw_qr

FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)
BOLD = Path("/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf")
PAGE_W, PAGE_H = A4
MARGIN = 36.0
PER_PAGE = 4
BLOCK_H = (PAGE_H - 2 * MARGIN) / PER_PAGE
QR_SIZE = 120.0


@dataclass(frozen=True)
class Entry:
    """One candidate's block: who, where, which test, the link and until when."""

    name: str
    email: str
    organization: str
    test: str
    link: str
    expires: str


@dataclass(frozen=True)
class Missing:
    """A candidate of the batch who got no token, and why."""

    label: str
    reason: str


@dataclass(frozen=True)
class _Font:
    name: str
    glyphs: frozenset[int]


def _load(path: Path, name: str) -> _Font | None:
    if not path.is_file():
        return None
    try:
        face = TTFont(name, str(path))
    except TTFError:
        return None
    pdfmetrics.registerFont(face)
    return _Font(name, frozenset(face.face.charToGlyph))


@cache
def _fonts(bold: bool) -> tuple[_Font, ...]:
    """The fonts to try, in order: bold ones first for bold text, then the regular ones."""
    regular = [_load(path, f"etest-handout-{n}") for n, path in enumerate(FONTS)]
    heavy = [_load(BOLD, "etest-handout-bold")] if bold else []
    return tuple(f for f in (*heavy, *regular) if f is not None)


def _font(text: str, *, bold: bool = False) -> str:
    """The first font that sets every character of ``text`` (Helvetica when none does)."""
    needed = {ord(c) for c in text if not c.isspace()}
    for font in _fonts(bold):
        if needed <= font.glyphs:
            return font.name
    return "Helvetica-Bold" if bold else "Helvetica"


def _text(
    canvas: Canvas, text: str, size: float, x: float, y: float, *, bold: bool = False
) -> None:
    canvas.setFont(_font(text, bold=bold), size)
    canvas.drawString(x, y, text)


def _fit(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` cut into lines no wider than ``width`` (a link has no spaces: cut anywhere)."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, font, size) > width:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


def _block(canvas: Canvas, entry: Entry, top: float, labels: dict[str, str]) -> None:
    left = MARGIN + 8
    text_w = PAGE_W - 2 * MARGIN - QR_SIZE - 32
    y = top - 26
    _text(canvas, entry.name or entry.email, 15, left, y, bold=True)
    y -= 17
    if entry.name:
        _text(canvas, entry.email, 10, left, y)
        y -= 15
    for label, value in (
        (labels["organization"], entry.organization),
        (labels["test"], entry.test),
        (labels["expires"], entry.expires),
    ):
        head = f"{label}: "
        _text(canvas, head, 10, left, y)
        _text(canvas, value, 10, left + pdfmetrics.stringWidth(head, _font(head), 10), y)
        y -= 15
    y -= 4
    _text(canvas, labels["link"], 9, left, y)
    y -= 13
    canvas.setFillColor(HexColor("#1a4f8b"))
    for line in _fit(entry.link, "Courier", 8.5, text_w)[:4]:
        canvas.setFont("Courier", 8.5)
        canvas.drawString(left, y, line)
        y -= 11
    canvas.setFillColor(HexColor("#000000"))
    draw_qr(
        canvas, entry.link, PAGE_W - MARGIN - QR_SIZE - 8, top - BLOCK_H + 16, QR_SIZE, border=4
    )
    # the cut line under the block
    canvas.setStrokeColor(HexColor("#9aa3b0"))
    canvas.setDash(4, 3)
    canvas.line(MARGIN, top - BLOCK_H, PAGE_W - MARGIN, top - BLOCK_H)
    canvas.setDash()


ENGLISH = {
    "title": "Test tokens",
    "organization": "Organization",
    "test": "Test",
    "expires": "Valid until",
    "link": "Open this link, or scan the code, to take the test:",
    "missing": "Not issued",
}


def sheet_pdf(
    entries: Sequence[Entry], missing: Sequence[Missing] = (), labels: dict[str, str] | None = None
) -> bytes:
    """The printable sheet: :data:`PER_PAGE` blocks a page, cut lines between them; then the
    candidates who got no token, with the reason (for the person handing out the sheet)."""
    words = {**ENGLISH, **(labels or {})}
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, pageCompression=1)
    canvas.setTitle(words["title"])
    canvas.setAuthor("eTest")
    for n, entry in enumerate(entries):
        if n and n % PER_PAGE == 0:
            canvas.showPage()
        _block(canvas, entry, PAGE_H - MARGIN - (n % PER_PAGE) * BLOCK_H, words)
    if missing:
        if entries:
            canvas.showPage()
        y = PAGE_H - MARGIN - 20
        _text(canvas, words["missing"], 15, MARGIN, y, bold=True)
        y -= 24
        for item in missing:
            if y < MARGIN + 30:
                canvas.showPage()
                y = PAGE_H - MARGIN - 20
            _text(canvas, item.label, 10, MARGIN, y, bold=True)
            y -= 14
            for line in _fit(item.reason, _font(item.reason), 9, PAGE_W - 2 * MARGIN - 12)[:3]:
                _text(canvas, line, 9, MARGIN + 12, y)
                y -= 12
            y -= 6
    canvas.save()
    return buf.getvalue()


def _cell(value: str) -> str:
    """A spreadsheet never runs a cell as a formula (OWASP CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def links_csv(entries: Sequence[Entry], missing: Sequence[Missing] = ()) -> bytes:
    """One row per candidate: the take link of each issued token; a refused candidate's row
    has no link and says why. UTF-8 with a byte-order mark, so spreadsheets read names right."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["name", "email", "organization", "test", "take_link", "valid_until", "issued"])
    for e in entries:
        writer.writerow(
            [_cell(v) for v in (e.name, e.email, e.organization, e.test, e.link, e.expires)]
            + ["yes"]
        )
    for m in missing:
        writer.writerow([_cell(m.label), "", "", "", "", "", _cell(f"no: {m.reason}")])
    return ("\ufeff" + buf.getvalue()).encode()
