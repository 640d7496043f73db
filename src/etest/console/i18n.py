"""The console's words through gettext catalogs (Babel).

Templates say ``{{ _("Sign in") }}`` or ``{{ _("%(n)s candidates", n=count) }}``; Python code
marks words it hands to a template with :func:`N_` and the template translates them. English is
the source language: the catalog template ``locale/console.pot`` is made by
``scripts/extract_messages`` (and ``tests/console/test_catalog.py`` fails when it is stale); a
language is one ``locale/<lang>/LC_MESSAGES/console.po``, read when first used."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

from etest.kit import i18n
from etest.kit.i18n import N_

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"

__all__ = ["DOMAIN", "LOCALE_DIR", "N_", "translations", "translator"]


def translations(language: str) -> gettext.NullTranslations:
    return i18n.translations(LOCALE_DIR, DOMAIN, language)


def translator(language: str) -> Callable[..., str]:
    """``_(message, **values)``: the message in ``language``, ``%``-formatted with ``values``."""
    return i18n.translator(translations(language))
