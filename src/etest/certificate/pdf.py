"""The certificate as a one-page A4 landscape PDF (ReportLab), rendered on demand from the
certificate row: nothing is stored, so a revoked certificate prints as revoked.

Pure: bytes in (logo, photo), bytes out; no database and no network. Async code never calls
:func:`render` itself (15 ms of CPU for a Latin name, 200 ms the first time, as fonts load): it
awaits a :class:`PdfRenderer`, :func:`render_off_loop` unless a test passes another, after its
transaction has ended. The organization's ``logo_url`` is never fetched (it could point
anywhere: SSRF); the logo is the configured ``default_logo_path`` or the bundled eTest logo.
``invariant`` output: the same certificate gives the same bytes, which keeps tests and caches
honest.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import functools
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from babel.dates import format_date
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from etest.certificate.fonts import Run, bold_font, runs, width
from etest.kit import i18n
from etest.kit.i18n import N_
from etest.kit.language import CATALOGS, normalise
from etest.kit.qr import draw_qr

log = structlog.get_logger(__name__)

PAGE_W, PAGE_H = landscape(A4)
INK = HexColor("#1f2a44")
ACCENT = HexColor("#2b6cb0")
MUTED = HexColor("#5a6478")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class CertificateView:
    holder_name: str
    level: str
    plan_name: str
    organization_name: str
    #: The issue date as printed (``2026-11-26``).
    date: str
    code: str
    verify_url: str
    logo: bytes
    photo: bytes | None = None
    revoked: bool = False
    #: The candidate's language (``etest.kit.language.choose``): the certificate's fixed
    #: words and its date are printed in it.
    language: str = "en"
    #: The issue date on the organization's calendar; when given, printed in words of the
    #: language (``6 de diciembre de 2026``) instead of ``date``.
    issued_on: dt.date | None = None
    #: The organization's accent colour (``#rrggbb``): the frame's colour (text keeps its own
    #: colours, readable whatever the accent).
    accent: str | None = None


#: The certificate's fixed words (the ``take`` catalog, with the candidate's pages).
WORDS = {
    "title": N_("Certificate of English"),
    "certifies": N_("This certifies that"),
    "passed": N_("has passed the eTest certification test for"),
    "level": N_("English level %(level)s"),
    "date": N_("Date: %(date)s"),
    "code": N_("Verification code: %(code)s"),
    "revoked": N_("REVOKED"),
}

#: After a level or code inside right-to-left words: a left-to-right mark keeps ``A1+`` from
#: showing as ``+A1`` (the bidi library of ``fonts`` knows no isolates).
_LRM = "\u200e"


def _say(view: CertificateView) -> Any:
    """``say(key, **values)``: a fixed word of the certificate in the view's language."""
    language = normalise(view.language) or "en"
    found = i18n.translations(CATALOGS, "take", language)
    rtl = language == "ar"

    def say(key: str, **values: str) -> str:
        if rtl:  # a level or code keeps its own order inside right-to-left words
            values = {k: f"{v}{_LRM}" for k, v in values.items()}
        text = found.gettext(WORDS[key])
        return text % values if values else text

    return say


def _printed_date(view: CertificateView) -> str:
    if view.issued_on is None:
        return view.date
    language = normalise(view.language) or "en"
    return format_date(view.issued_on, format="long", locale=language.replace("-", "_"))


def _draw_runs(
    canvas: Canvas, parts: list[Run], size: float, x: float, y: float, *, align: str = "center"
) -> None:
    total = width(parts, size)
    if align == "center":
        x -= total / 2
    elif align == "right":
        x -= total
    for run in parts:
        canvas.setFont(run.font, size)
        canvas.drawString(x, y, run.text)
        x += width([run], size)


def _text(
    canvas: Canvas,
    text: str,
    size: float,
    x: float,
    y: float,
    *,
    align: str = "center",
    max_width: float | None = None,
) -> None:
    """Any-script text, shrunk to ``max_width`` when it is too long (a left-to-right mark
    orders the text and is not drawn)."""
    parts = [Run(r.font, r.text.replace(_LRM, "")) for r in runs(text)]
    parts = [r for r in parts if r.text]
    if max_width is not None:
        while size > 8 and width(parts, size) > max_width:
            size -= 1
    _draw_runs(canvas, parts, size, x, y, align=align)


def _image(canvas: Canvas, data: bytes, x: float, y: float, w: float, h: float) -> bool:
    """Draw an image fitted into the box; False when it cannot be read."""
    try:
        reader = ImageReader(io.BytesIO(data))
        iw, ih = reader.getSize()
    except Exception as exc:  # any decoder error: fall back, never fail the certificate
        log.warning("certificate.image_unreadable", error=type(exc).__name__)
        return False
    scale = min(w / iw, h / ih)
    dw, dh = iw * scale, ih * scale
    canvas.drawImage(reader, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh, mask="auto")
    return True


def _silhouette(canvas: Canvas, x: float, y: float, w: float, h: float) -> None:
    """The default picture: a neutral head-and-shoulders outline."""
    canvas.setFillColor(HexColor("#e6e9f0"))
    canvas.rect(x, y, w, h, stroke=0, fill=1)
    canvas.setFillColor(HexColor("#a8b0c2"))
    canvas.circle(x + w / 2, y + h * 0.62, w * 0.2, stroke=0, fill=1)
    canvas.ellipse(x + w * 0.15, y - h * 0.05, x + w * 0.85, y + h * 0.45, stroke=0, fill=1)
    canvas.setFillColor(HexColor("#e6e9f0"))
    canvas.rect(x, y - h * 0.06, w, h * 0.06, stroke=0, fill=1)


def _heading(canvas: Canvas, text: str, size: float, x: float, y: float, latin: bool) -> None:
    """A heading: bold for Latin words, else the any-script runs (the bold font has no Arabic
    or Chinese glyphs)."""
    if latin:
        canvas.setFont(bold_font(), size)
        canvas.drawCentredString(x, y, text)
    else:
        _text(canvas, text, size, x, y, max_width=PAGE_W - 120)


def render(view: CertificateView) -> bytes:
    say = _say(view)
    latin = (normalise(view.language) or "en") in ("en", "es", "vi")
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=True)
    canvas.setTitle(f"eTest certificate {view.code}")
    canvas.setAuthor("eTest")
    canvas.setSubject(f"English {view.level}")
    mid = PAGE_W / 2
    frame = HexColor(view.accent) if view.accent and _HEX.fullmatch(view.accent) else ACCENT

    canvas.setStrokeColor(frame)
    canvas.setLineWidth(3)
    canvas.rect(24, 24, PAGE_W - 48, PAGE_H - 48)
    canvas.setLineWidth(0.8)
    canvas.rect(32, 32, PAGE_W - 64, PAGE_H - 64)

    if not _image(canvas, view.logo, 56, PAGE_H - 110, 180, 52):
        _text(canvas, "eTest", 24, 56, PAGE_H - 90, align="left")
    canvas.setFillColor(MUTED)
    _text(
        canvas, view.organization_name, 12, PAGE_W - 56, PAGE_H - 80, align="right", max_width=320
    )

    canvas.setFillColor(INK)
    _heading(canvas, say("title"), 34, mid, PAGE_H - 170, latin)
    canvas.setFillColor(MUTED)
    _text(canvas, say("certifies"), 14, mid, PAGE_H - 212)
    canvas.setFillColor(INK)
    _text(canvas, view.holder_name, 30, mid, PAGE_H - 258, max_width=520)
    canvas.setStrokeColor(frame)
    canvas.line(mid - 240, PAGE_H - 270, mid + 240, PAGE_H - 270)
    canvas.setFillColor(MUTED)
    _text(canvas, say("passed"), 14, mid, PAGE_H - 300, max_width=PAGE_W - 120)
    canvas.setFillColor(ACCENT)
    _heading(canvas, say("level", level=view.level), 26, mid, PAGE_H - 340, latin)
    canvas.setFillColor(INK)
    _text(canvas, view.plan_name, 14, mid, PAGE_H - 368, max_width=480)
    _text(canvas, say("date", date=_printed_date(view)), 12, mid, PAGE_H - 396)

    photo_box = (64, 64, 92, 112)
    if view.photo is None or not _image(canvas, view.photo, *photo_box):
        _silhouette(canvas, *photo_box)

    qr_size = 112
    qr_x, qr_y = PAGE_W - 64 - qr_size, 64
    draw_qr(canvas, view.verify_url, qr_x, qr_y, qr_size, border=2)
    canvas.setFillColor(MUTED)
    _text(canvas, say("code", code=view.code), 9, qr_x + qr_size, qr_y - 14, align="right")
    _text(canvas, view.verify_url, 8, mid, 48, max_width=PAGE_W - 360)

    if view.revoked:
        canvas.saveState()
        canvas.setFillColor(Color(0.8, 0.1, 0.1, alpha=0.35))
        canvas.translate(mid, PAGE_H / 2)
        canvas.rotate(20)
        _heading(canvas, say("revoked"), 96, 0, 0, latin)
        canvas.restoreState()

    canvas.showPage()
    canvas.save()
    return buf.getvalue()


class PdfRenderer(Protocol):
    """The PDF port of async callers (routes, outbox jobs): draw a view without blocking the
    event loop. Tests pass their own (e.g. one that checks the database is free meanwhile)."""

    async def __call__(self, view: CertificateView, /) -> bytes: ...


# ReportLab is not thread-safe (module-level font registry, TrueType subsets shared between
# documents), so every PDF is drawn on this one thread, one after the other; the event loop
# only waits. The thread starts on the first render.
_PDF_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etest-pdf")


async def render_off_loop(view: CertificateView) -> bytes:
    """:func:`render` on the PDF thread (with the caller's context: log fields carry over)."""
    draw = functools.partial(contextvars.copy_context().run, render, view)
    return await asyncio.get_running_loop().run_in_executor(_PDF_THREAD, draw)
