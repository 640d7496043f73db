"""The certificate PDF: its text, the QR code (rendered by poppler, decoded by zbar), names in
five scripts set in fonts that really have their glyphs, the photo or the default picture, and
a clear error when no font covers a name."""

from __future__ import annotations

import contextlib
import functools
import io
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader

from etest.certificate.fonts import FontMissing, shape
from etest.certificate.pdf import CertificateView, render
from etest.content.media import MediaStore
from etest.kit.logo import bundled_logo
from tests.certificate.conftest import certificates_of, drain_outbox, sit_ct
from tests.conftest import Headers

FONT_ROOT = Path("/usr/share/fonts")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run scripts/install_system_packages pdf"
    return path


def text_runs(data: bytes) -> list[tuple[str, str]]:
    """(text, embedded font name without the subset prefix) of every text run on page 1."""
    runs: list[tuple[str, str]] = []

    def visit(text: str, cm: object, tm: object, font: dict[str, str] | None, size: object) -> None:
        if text.strip() and font:
            runs.append((text.strip(), str(font["/BaseFont"]).split("+")[-1]))

    PdfReader(io.BytesIO(data)).pages[0].extract_text(visitor_text=visit)
    return runs


@functools.cache
def installed_fonts() -> dict[str, Path]:
    """PostScript name -> file of every installed TrueType font (read with fontTools, not with
    the code under test)."""
    found: dict[str, Path] = {}
    for path in FONT_ROOT.rglob("*.ttf"):
        with contextlib.suppress(Exception):  # a broken font file is not ours to judge
            name = TTFont(path, lazy=True)["name"].getDebugName(6)
            if name:
                found.setdefault(name, path)
    return found


@functools.cache
def cmap(font_name: str) -> frozenset[int]:
    return frozenset(TTFont(installed_fonts()[font_name], lazy=True).getBestCmap())


def view(name: str, **fields: object) -> CertificateView:
    base: dict[str, object] = {
        "holder_name": name,
        "level": "B1+",
        "plan_name": "Neo Plus",
        "organization_name": "Lycée Molière",
        "date": "2026-11-26",
        "code": "ABCDEFGHIJKLMNOPQRST",
        "verify_url": "http://testserver/verify/ABCDEFGHIJKLMNOPQRST",
        "logo": bundled_logo().data,
    }
    return CertificateView(**{**base, **fields})  # type: ignore[arg-type]


def qr_payloads(pdf: bytes, tmp_path: Path) -> list[str]:
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run(
        [_tool("pdftoppm"), "-r", "150", "-png", "-singlefile", "c.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    out = subprocess.run(
        [_tool("zbarimg"), "--quiet", "--raw", "page.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


async def test_the_pdf_shows_name_level_plan_date_code_and_a_qr_code_to_the_verify_page(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tmp_path: Path
) -> None:
    sitting = await sit_ct(app, client, su, first_name="Émilie", last_name="Dubois")
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    resp = await client.get(
        f"/api/v1/certificates/{certificate.id}.pdf", headers=sitting.course.admin
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    assert certificate.code in resp.headers["content-disposition"]
    pdf = resp.content
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in (
        "Émilie Dubois",
        "English level A1",
        "Test plan",
        certificate.issued_at.date().isoformat(),
        certificate.code,
        "Org",
    ):
        assert expected in text
    verify_url = f"http://testserver/verify/{certificate.code}"
    assert qr_payloads(pdf, tmp_path) == [verify_url]
    # the same certificate renders to the same bytes
    again = await client.get(
        f"/api/v1/certificates/{certificate.id}.pdf", headers=sitting.course.admin
    )
    assert again.content == pdf


@pytest.mark.parametrize(
    ("script", "name", "font"),
    [
        ("Latin", "Émilie Dubois", "NotoSans-Regular"),
        ("Cyrillic", "Анна Иванова", "NotoSans-Regular"),
        ("Arabic", "محمد علي", "NotoSansArabic-Regular"),
        ("Chinese", "王小明", "DroidSansFallback"),
        ("Japanese", "山田 さくら", "DroidSansFallback"),
    ],
)
def test_names_in_every_script_are_set_in_a_font_that_has_their_glyphs(
    script: str, name: str, font: str
) -> None:
    runs = text_runs(render(view(name)))
    after = next(i for i, (text, _) in enumerate(runs) if text == "This certifies that") + 1
    name_text, name_font = runs[after]
    assert name_font == font, (script, runs[after])
    # the PDF text is the name (Arabic: its joined presentation forms, in visual order)
    shaped = shape(name)
    assert unicodedata.normalize("NFKC", name_text) in {
        unicodedata.normalize("NFKC", s) for s in (name, shaped, shaped[::-1])
    }
    # no missing glyph: the real font file (read with fontTools) maps every character shown
    assert all(ord(c) in cmap(font) for c in shaped if not c.isspace()), script


def test_a_mixed_script_name_switches_fonts_within_the_line() -> None:
    runs = dict(text_runs(render(view("Ali 王"))))
    assert runs["Ali"] == "NotoSans-Regular"
    assert runs["王"] == "DroidSansFallback"


def test_a_name_no_installed_font_covers_fails_with_the_packages_to_install() -> None:
    with pytest.raises(FontMissing) as caught:
        render(view("Ann \U0010fffd"))
    assert "U+10FFFD" in caught.value.detail
    assert "fonts-noto-core" in caught.value.detail
    assert "fonts-droid-fallback" in caught.value.detail
    assert caught.value.status == 503 and caught.value.code == "font-missing"


def a_photo() -> bytes:
    """A small JPEG portrait (any picture the logo is not)."""
    buf = io.BytesIO()
    Image.new("RGB", (60, 80), (180, 120, 90)).save(buf, "JPEG")
    return buf.getvalue()


def _images(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages[0].images)


def test_the_photo_or_else_the_default_picture() -> None:
    assert _images(render(view("Ann Lee"))) == 1  # the logo; the silhouette is vector art
    assert _images(render(view("Ann Lee", photo=a_photo()))) == 2
    assert _images(render(view("Ann Lee", photo=b"not an image"))) == 1  # falls back
    assert render(view("Ann Lee", revoked=True)) != render(view("Ann Lee"))
    assert (
        "REVOKED"
        in PdfReader(io.BytesIO(render(view("Ann Lee", revoked=True)))).pages[0].extract_text()
    )


async def test_the_candidate_photo_set_through_the_api_is_printed(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    photo = a_photo()
    sitting = await sit_ct(app, client, su, first_name="Ann", last_name="Photo")
    url = f"/api/v1/candidates/{sitting.candidate['id']}/photo"
    admin = sitting.course.admin
    for name, data in (
        ("me.png", b"plain text, not a picture"),
        ("me.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ):
        refused = await client.put(url, headers=admin, files={"file": (name, data)})
        assert refused.status_code == 400 and refused.json()["type"] == "/errors/bad-upload"
    stored = await client.put(url, headers=admin, files={"file": ("me.jpg", photo, "image/jpeg")})
    assert stored.status_code == 200, stored.text
    digest = stored.json()["photo_sha256"]
    assert MediaStore(app.state.settings.media_path).path(digest).read_bytes() == photo
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    pdf = f"/api/v1/certificates/{certificate.id}.pdf"
    assert _images((await client.get(pdf, headers=admin)).content) == 2
    removed = await client.delete(url, headers=admin)
    assert removed.status_code == 200 and removed.json()["photo_sha256"] is None
    assert _images((await client.get(pdf, headers=admin)).content) == 1  # the default picture


_NO_FONTS = """
import sys
from pathlib import Path
import etest.app  # the app's import order (certificate <-> notification import each other)
import etest.certificate.fonts as fonts
none = Path(sys.argv[1])
fonts.NOTO = none
fonts.PREFERRED = tuple((none / p.name, pkg) for p, pkg in fonts.PREFERRED)
fonts.BOLD = (none / fonts.BOLD[0].name, fonts.BOLD[1])
from tests.certificate.test_pdf import view
from etest.certificate.pdf import render
sys.stdout.buffer.write(render(view(sys.argv[2])))
"""


def test_without_installed_fonts_latin_names_print_in_the_builtin_font(tmp_path: Path) -> None:
    """A machine where the README's first command could not install fonts (no root) still
    issues certificates for Latin names; other scripts say which packages to install."""

    def render_without_fonts(name: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-c", _NO_FONTS, str(tmp_path), name],
            capture_output=True,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
        )

    latin = render_without_fonts("José Núñez")
    assert latin.returncode == 0, latin.stderr.decode()[-2000:]
    runs = dict(text_runs(latin.stdout))
    assert runs["José Núñez"].lstrip("/") == "Helvetica"
    cyrillic = render_without_fonts("Анна")
    assert cyrillic.returncode != 0 and b"font-missing" not in cyrillic.stdout
    assert b"fonts-noto-core" in cyrillic.stderr
