"""The console's message catalog template (``locale/console.pot``), extracted from the console's
Python modules (``_()``/``N_()``) and templates (``_()``) with Babel, through the extraction the
candidate's catalog uses too (:func:`etest.kit.i18n.extract`). ``scripts/extract_messages``
writes it; ``tests/console/test_catalog.py`` fails when a word on a page is missing from it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog

from etest.console.i18n import DOMAIN, LOCALE_DIR
from etest.kit import i18n

HERE = Path(__file__).parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def extract() -> Catalog:
    return i18n.extract([(HERE, "console/")], METHODS, project="eTest console", domain=DOMAIN)


def render(catalog: Catalog) -> str:
    return i18n.render_template(catalog)


def write() -> Path:
    POT.parent.mkdir(parents=True, exist_ok=True)
    POT.write_text(render(extract()))
    return POT
