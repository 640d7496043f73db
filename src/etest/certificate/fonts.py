"""Fonts for names in any script: shape the text, then split it into runs, each set in the first
installed font that has glyphs for it.

ReportLab embeds TrueType outlines only (CFF-flavoured OpenType, such as ``fonts-noto-cjk``'s
``NotoSansCJK-Regular.ttc``, is refused), so CJK comes from Droid Sans Fallback
(``fonts-droid-fallback``), a TrueType font with Chinese ideographs and Japanese kana. Arabic is
reshaped into presentation forms (``arabic_reshaper``) and put in visual order
(``bidi.algorithm.get_display``) because ReportLab does no shaping of its own. Every font comes
from a Debian package that ``scripts/install_system_packages fonts`` installs; a character no
installed font covers is an error that names those packages, never a blank box in the PDF.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from etest.certificate.errors import FontMissing

NOTO = Path("/usr/share/fonts/truetype/noto")

#: (file, Debian package), tried in this order; the first that covers a character sets it.
PREFERRED: tuple[tuple[Path, str], ...] = (
    (NOTO / "NotoSans-Regular.ttf", "fonts-noto-core"),
    (NOTO / "NotoSansArabic-Regular.ttf", "fonts-noto-core"),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), "fonts-droid-fallback"),
    (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), "fonts-dejavu-core"),
)
BOLD = (NOTO / "NotoSans-Bold.ttf", "fonts-noto-core")
PACKAGES = "fonts-noto-core fonts-droid-fallback fonts-dejavu-core"

_RTL = {"R", "AL"}

#: ReportLab's built-in fonts (no file needed); WinAnsi covers printable ASCII and Latin-1.
BUILTIN, BUILTIN_BOLD = "Helvetica", "Helvetica-Bold"
_LATIN1 = frozenset(range(0x20, 0x7F)) | frozenset(range(0xA0, 0x100))


@dataclass(frozen=True)
class Run:
    font: str
    text: str


@dataclass(frozen=True)
class _Font:
    name: str
    glyphs: frozenset[int]


_BY_NAME: dict[str, _Font] = {}


@cache
def _load(path: Path) -> _Font | None:
    """Register a font with ReportLab under its file stem (its name in the PDF)."""
    if not path.is_file():
        return None
    try:
        font = TTFont(path.stem, str(path))
    except TTFError:
        return None
    pdfmetrics.registerFont(font)
    loaded = _Font(path.stem, frozenset(font.face.charToGlyph))
    _BY_NAME[loaded.name] = loaded
    return loaded


@cache
def _others() -> tuple[Path, ...]:
    """Every other installed Noto font, for scripts the preferred fonts lack (Hebrew, Thai,
    Devanagari ...): looked at only when needed."""
    preferred = {p for p, _ in PREFERRED}
    return tuple(p for p in sorted(NOTO.glob("NotoSans*-Regular.ttf")) if p not in preferred)


def _fonts() -> list[_Font]:
    installed = [f for f in (_load(p) for p, _ in PREFERRED) if f is not None]
    builtin = _BY_NAME.setdefault(BUILTIN, _Font(BUILTIN, _LATIN1))
    return [*installed, builtin]


def bold_font() -> str:
    """The heading font (Latin): Noto Sans Bold, the first installed regular font, or the
    built-in Helvetica Bold."""
    bold = _load(BOLD[0])
    if bold is not None:
        return bold.name
    installed = [f for f in (_load(p) for p, _ in PREFERRED) if f is not None]
    return installed[0].name if installed else BUILTIN_BOLD


def shape(text: str) -> str:
    """Arabic letters joined into their contextual forms, right-to-left text in visual order."""
    if any(unicodedata.bidirectional(c) in _RTL for c in text):
        if any(unicodedata.bidirectional(c) == "AL" for c in text):
            text = arabic_reshaper.reshape(text)
        text = get_display(text)
    return text


def _font_for(char: str, fonts: list[_Font]) -> _Font | None:
    code = ord(char)
    for font in fonts:
        if code in font.glyphs:
            return font
    for path in _others():
        other = _load(path)
        if other is not None and code in other.glyphs:
            fonts.append(other)
            return other
    return None


def runs(text: str) -> list[Run]:
    """``text`` shaped and split into runs of one font each (visual order, left to right).
    Spaces and marks stay in the font of the run they are in."""
    shaped = shape(unicodedata.normalize("NFC", text))
    fonts = _fonts()
    out: list[Run] = []
    missing: list[str] = []
    for char in shaped:
        code = ord(char)
        joins = unicodedata.category(char) in ("Zs", "Mn")
        if out and joins and code in _BY_NAME[out[-1].font].glyphs:
            out[-1] = Run(out[-1].font, out[-1].text + char)
            continue
        font = _font_for(char, fonts)
        if font is None:
            missing.append(char)
            continue
        if out and out[-1].font == font.name:
            out[-1] = Run(font.name, out[-1].text + char)
        else:
            out.append(Run(font.name, char))
    if missing:
        chars = " ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(missing))
        raise FontMissing(
            f"No installed font has glyphs for {chars} in {text!r}; install the "
            f"Debian packages {PACKAGES} (scripts/install_system_packages fonts) "
            f"or a font package for that script."
        )
    return out


def width(parts: list[Run], size: float) -> float:
    return float(sum(pdfmetrics.stringWidth(r.text, r.font, size) for r in parts))
