"""The console's words are in its message catalog (English now; languages are .po files)."""

from __future__ import annotations

from etest.console.catalog import POT, extract, render
from etest.console.i18n import translator


def test_catalog_template_is_current() -> None:
    assert POT.is_file(), "run scripts/extract_messages"
    current = render(extract())
    assert 'msgid "Sign in"' in current
    assert POT.read_text() == current, "a console word changed: run scripts/extract_messages"


def test_translator_formats_values_and_keeps_unknown_words() -> None:
    _ = translator("en")
    assert _("%(done)s of %(total)s", done=3, total=50) == "3 of 50"
    assert translator("xx")("Sign in") == "Sign in"
