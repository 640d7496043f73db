"""The console's message catalog template (``locale/console.pot``), extracted from the console's
Python modules (``_()``/``N_()``) and templates (``_()``) with Babel. ``scripts/extract_messages``
writes it; ``tests/console/test_catalog.py`` fails when a word on a page is missing from it."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from etest.console.i18n import DOMAIN, LOCALE_DIR

HERE = Path(__file__).parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}}


def extract() -> Catalog:
    catalog = Catalog(project="eTest console", domain=DOMAIN, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        HERE, METHODS, options_map=OPTIONS, keywords={"_": None, "N_": None, "gettext": None}
    ):
        catalog.add(
            message,
            None,
            [(f"console/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def render(catalog: Catalog) -> str:
    buf = io.BytesIO()
    # no creation date and no line numbers: the file changes only when the words do
    write_po(buf, catalog, omit_header=True, include_lineno=False, sort_output=True)
    return buf.getvalue().decode()


def write() -> Path:
    POT.parent.mkdir(parents=True, exist_ok=True)
    POT.write_text(render(extract()))
    return POT
