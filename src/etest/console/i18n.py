"""The console's words through gettext catalogs (Babel).

Templates say ``{{ _("Sign in") }}`` or ``{{ _("%(n)s candidates", n=count) }}``; Python code
marks words it hands to a template with :func:`N_` and the template translates them. English is
the source language: the catalog template ``locale/console.pot`` is made by
``scripts/extract_messages`` (and ``tests/console/test_catalog.py`` fails when it is stale); a
language is one ``locale/<lang>/LC_MESSAGES/console.po``, read when first used."""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"


def N_(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def translator(language: str) -> Callable[..., str]:
    """``_(message, **values)``: the message in ``language``, ``%``-formatted with ``values``."""
    found = translations(language)

    def _(message: str, **values: Any) -> str:
        text = found.gettext(message)
        return text % values if values else text

    return _
