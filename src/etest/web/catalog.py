"""The candidate's message catalog template (``locale/take.pot``, domain ``take``): the words of
the ``/take`` and ``/verify`` pages (``web``'s modules and templates) and of the certificate
PDF (``certificate/pdf.py``). ``scripts/extract_messages`` writes it;
``tests/web/test_catalog.py`` fails when it is stale or a language misses a message."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from etest.kit import i18n
from etest.web.language import DOMAIN, LOCALE_DIR

HERE = Path(__file__).parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
#: The creation date written in every ``take.po`` header (a run's own time would change each
#: file on every extraction).
STAMP = datetime(2026, 12, 6, tzinfo=UTC)
#: The languages with a catalog (English is the source, with a catalog for its registers).
LANGUAGES = ("en", "es", "vi", "zh-Hans", "ar")


def extract() -> Catalog:
    web = i18n.extract(
        [(HERE, "web/")],
        [("*.py", "python"), ("templates/**.html", "jinja2")],
        project="eTest take",
        domain=DOMAIN,
    )
    certificate = i18n.extract(
        [(HERE.parent / "certificate", "certificate/")],
        [("pdf.py", "python")],
        project="eTest take",
        domain=DOMAIN,
    )
    for message in certificate:
        if message.id:
            web.add(
                message.id,
                None,
                message.locations,
                auto_comments=message.auto_comments,
                context=message.context,
            )
    return web


def render(catalog: Catalog) -> str:
    return i18n.render_template(catalog)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def write() -> Path:
    POT.parent.mkdir(parents=True, exist_ok=True)
    POT.write_text(render(extract()))
    return POT


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language.replace("-", "_"))


def untranslated(catalog: Catalog) -> list[str]:
    """The messages of ``catalog`` without a translation (a plural needs every form)."""
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            missing.append(str(message.id if isinstance(message.id, str) else message.id[0]))
    return missing


def update_languages() -> dict[str, int]:
    """Bring each language's ``take.po`` up to the template (Babel's update: translations kept,
    new messages empty, gone ones dropped, nothing fuzzy-matched); the count still to translate."""
    template = extract()
    counts = {}
    for language in LANGUAGES:
        path = po_path(language)
        if path.is_file():
            catalog = read(language)
        else:
            catalog = Catalog(locale=language.replace("-", "_"), domain=DOMAIN, fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False  # a fuzzy header would drop the plural rule from the compiled file
        catalog.creation_date = STAMP  # the file changes only when its words do
        catalog.project = "eTest take"
        catalog.obsolete.clear()
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        write_po(
            buf,
            catalog,
            omit_header=False,
            include_lineno=False,
            sort_output=True,
            ignore_obsolete=True,
        )
        path.write_bytes(buf.getvalue())
        counts[language] = len(untranslated(catalog))
    return counts
