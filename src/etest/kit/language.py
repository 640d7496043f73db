"""Which language a candidate reads: one chain for the pages, the certificate and the emails.

The first of these that names a supported language wins: the test token's ``language``, the
candidate's, the organization's ``language`` setting, then (pages only) the browser's
``Accept-Language``; English when none does. A page's language switcher is applied over the
chain (``etest.web.language``). Tags are normalised to the catalogs' set: ``es-MX`` reads
``es``, ``zh``/``zh-CN``/``zh-SG`` read ``zh-Hans``; Traditional Chinese (``zh-TW``,
``zh-HK``, ``zh-Hant``) has no catalog yet and is skipped."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: The languages of the candidate's pages, certificates and emails (English is the source).
SUPPORTED = ("en", "es", "vi", "zh-Hans", "ar")

#: Each language's own name, for the switcher (shown in that language, whatever the page's).
NAMES = {
    "en": "English",
    "es": "Español",
    "vi": "Tiếng Việt",
    "zh-Hans": "简体中文",
    "ar": "العربية",
}

#: Languages written right to left: their pages have ``dir="rtl"``.
RTL = frozenset({"ar"})

DEFAULT = "en"

_SIMPLIFIED = frozenset({"zh", "zh-cn", "zh-sg", "zh-my", "zh-hans"})
_TRADITIONAL = frozenset({"zh-tw", "zh-hk", "zh-mo", "zh-hant"})


def normalise(tag: str | None) -> str | None:
    """The supported language a tag reads, or ``None`` (``es-MX`` → ``es``, ``zh`` →
    ``zh-Hans``, ``zh-Hant-TW`` → ``None``)."""
    tag = (tag or "").strip().replace("_", "-").lower()
    if not tag:
        return None
    parts = tag.split("-")
    if parts[0] == "zh":
        if tag in _SIMPLIFIED or parts[1:2] == ["hans"]:
            return "zh-Hans"
        if tag in _TRADITIONAL or parts[1:2] == ["hant"]:
            return None
        return "zh-Hans"
    return parts[0] if parts[0] in SUPPORTED else None


def accepted(header: str | None) -> list[str]:
    """The supported languages of an ``Accept-Language`` header, most wanted first (``q=0``
    excluded; malformed parts skipped)."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        language = normalise(tag)
        if language is not None and quality > 0:
            ranked.append((-quality, n, language))
    seen: list[str] = []
    for _, _, language in sorted(ranked):
        if language not in seen:
            seen.append(language)
    return seen


def choose(*tags: str | None, accept_language: str | None = None) -> str:
    """The first tag (token, candidate, organization, in that order) that names a supported
    language, else the browser's most wanted supported one, else English."""
    for tag in tags:
        language = normalise(tag)
        if language is not None:
            return language
    return next(iter(accepted(accept_language)), DEFAULT)


def first(languages: Iterable[str | None]) -> str | None:
    """The first supported language of ``languages``, or ``None``."""
    for tag in languages:
        language = normalise(tag)
        if language is not None:
            return language
    return None


def direction(language: str) -> str:
    """``rtl`` or ``ltr``."""
    return "rtl" if language in RTL else "ltr"


#: The candidate's words (pages and certificates) are one catalog domain, ``take``, kept beside
#: the pages (``etest.web``); a certificate reads it by path, below the package that shows it.
CATALOGS = Path(__file__).parents[1] / "web" / "locale"


def organization_language(settings: dict[str, object] | None) -> str | None:
    """An organization's ``language`` setting (its settings JSON), ``None`` when unset."""
    value = (settings or {}).get("language")
    return value if isinstance(value, str) else None
