"""The words of every email, per language, in gettext catalogs read through Babel
(``locale/<language>/LC_MESSAGES/email.po``: each entry's ``msgctxt`` is its key and its
``msgid`` the English sentence). Templates hold the layout only; a new language is one more
catalog with every entry of ``en`` (``tests/notification/test_email_languages.py`` checks it),
and its tag in :data:`LANGUAGES`.

Placeholders are ``str.format`` fields filled with plain values; the HTML template escapes the
formatted sentence as a whole, so no sentence carries markup.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from etest.kit.language import normalise
from etest.kit.levels import level_meaning as _english_level_meaning

LOCALE_DIR = Path(__file__).parent / "locale"
#: The catalogs' languages, English (the source) first.
LANGUAGES = ("en", "es", "vi", "zh-Hans", "ar")


def _read(language: str) -> dict[str, str]:
    """``{msgctxt: msgstr}`` of ``locale/<language>/LC_MESSAGES/email.po``."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / "email.po").open("rb") as f:
        catalog = read_po(f, locale=language.replace("-", "_"), domain="email")
    return {str(m.context): str(m.string) for m in catalog if m.id and m.context}


_READ = {language: _read(language) for language in LANGUAGES}

#: The words of every email per language (``key`` → sentence), from the gettext catalogs:
#: an entry's ``msgctxt`` is its key, its ``msgid`` the English sentence.
CATALOG: dict[str, dict[str, str]] = {
    language: {k: v for k, v in words.items() if ":" not in k or k == "colon"}
    for language, words in _READ.items()
}

#: What a placement level means, for languages other than English (English: the words the
#: candidate already saw on the result page, :func:`etest.kit.levels.level_meaning`): entries
#: ``band:<level>``, ``band:above`` and ``band:bridge``.
_BANDS: dict[str, dict[str, str]] = {
    language: {k[5:]: v for k, v in words.items() if k.startswith("band:")}
    for language, words in _READ.items()
    if language != "en"
}

#: Skill names: entries ``skill:<skill>``.
SKILLS: dict[str, dict[str, str]] = {
    language: {k[6:]: v for k, v in words.items() if k.startswith("skill:")}
    for language, words in _READ.items()
}


#: Languages written right to left: their HTML email has ``dir="rtl"``.
RTL = frozenset({"ar"})

# Unicode directional isolates (LRI ... PDI): a level such as ``A1+`` inside right-to-left
# words keeps its own left-to-right order (else it shows as ``+A1``).
_LRI, _PDI = "\u2066", "\u2069"


def language_of(setting: str | None) -> str:
    """The catalog language for a language tag (:func:`etest.kit.language.normalise`: ``es-MX``
    reads ``es``, ``zh``/``zh-CN`` read ``zh-Hans``), English for anything without a catalog."""
    language = normalise(setting)
    return language if language in CATALOG else "en"


def direction(language: str) -> str:
    """``rtl`` or ``ltr``: the writing direction of a catalog language."""
    return "rtl" if language in RTL else "ltr"


def isolate(value: str, language: str) -> str:
    """``value`` (a level, a code: Latin letters and signs) set apart as left-to-right inside
    the words of a right-to-left language; unchanged otherwise."""
    return f"{_LRI}{value}{_PDI}" if language in RTL and value else value


def level_meaning(level: str, language: str) -> str:
    """What being placed at ``level`` means, in plain words ("" for an unknown level)."""
    bands = _BANDS.get(language)
    if bands is None:
        return _english_level_meaning(level)
    # Chinese sentences follow one another without a space
    space = "" if language == "zh-Hans" else " "
    if level in bands:
        return bands[level]
    if level == "C1-Bridge":
        return f"{bands['C1']}{space}{bands['bridge']}"
    base = level.rstrip("+")
    if level.endswith("+") and base in bands:
        return f"{bands[base]}{space}{bands['above'].format(base=base)}"
    return ""


def skill_name(skill: str, language: str) -> str:
    return SKILLS.get(language, SKILLS["en"]).get(skill, skill.capitalize())
