"""Message catalogs through gettext and Babel, for any package that shows words (the console,
the candidate's pages): English is the source language, a language is one
``<locale dir>/<lang>/LC_MESSAGES/<domain>.po``, compiled in memory when first used (no ``.mo``
files in the repository, so a translation is reviewed as text).

A *register* is a second wording of some messages for a kind of reader (``young``: young
learners): such a message is a ``msgctxt "young"`` entry, and a message without one falls back
to the normal wording."""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po


def N_(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


def pN_(context: str, message: str) -> str:
    """Mark a message of a register (``context``) for the catalog; translated where shown."""
    return message


@cache
def translations(locale_dir: Path, domain: str, language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` (its ``.po`` compiled in memory); empty when there is none."""
    po = locale_dir / language / "LC_MESSAGES" / f"{domain}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language.replace("-", "_"))
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def translator(found: gettext.NullTranslations, register: str | None = None) -> Callable[..., str]:
    """``_(message, **values)``: the message in the catalog's language (in ``register`` when
    the catalog has that wording), ``%``-formatted with ``values``."""

    def _(message: str, **values: Any) -> str:
        text = found.gettext(message)
        if register is not None:
            special = found.pgettext(register, message)
            if special != message:
                text = special
        return text % values if values else text

    return _


def plural_translator(found: gettext.NullTranslations) -> Callable[..., str]:
    """``ngettext(singular, plural, n, **values)``: the form for ``n`` in the catalog's
    language (Arabic has six), ``%``-formatted with ``n`` and ``values``."""

    def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
        return found.ngettext(singular, plural, n) % {"n": n, **values}

    return ngettext


#: ``_``, ``gettext``, ``N_``: one message; ``ngettext``: singular and plural; ``pN_``: a
#: register's (``msgctxt``) message.
KEYWORDS: dict[str, Any] = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pN_": ((1, "c"), 2),
}


def extract(
    sources: list[tuple[Path, str]],
    methods: list[tuple[str, str]],
    *,
    project: str,
    domain: str,
) -> Catalog:
    """The catalog template of the messages in ``sources`` (a folder and the prefix its files
    are named by), Python through Babel and templates through Jinja2's extractor."""
    options = {
        pattern: {"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}
        for pattern, method in methods
        if method == "jinja2"
    }
    catalog = Catalog(project=project, domain=domain, fuzzy=False)
    for root, prefix in sources:
        for filename, lineno, message, comments, context in extract_from_dir(
            root, methods, options_map=options, keywords=KEYWORDS
        ):
            catalog.add(
                message,
                None,
                [(f"{prefix}{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def render_template(catalog: Catalog) -> str:
    """The ``.pot`` text: no creation date and no line numbers, so the file changes only
    when the words do."""
    buf = io.BytesIO()
    write_po(buf, catalog, omit_header=True, include_lineno=False, sort_output=True)
    return buf.getvalue().decode()
