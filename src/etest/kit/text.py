r"""Names are text: what a person's, an organization's or a key's name may contain.

A name is printed in reports, certificates, emails, audit entries and terminals. Characters that
print as nothing or rearrange what follows them can make one name look like another there
(``U+202E`` turns ``Lee\u202eXX`` into ``LeeXX`` reversed), hide text, or break a line of a log.
So a name is normalised to NFC and refused when it holds any of:

- a control character (category Cc: C0 and C1 controls, tab and newline included);
- a format character (category Cf): bidirectional marks, embeddings, overrides and isolates,
  zero-width space, word joiner, BOM, soft hyphen, Mongolian vowel separator, tag characters,
  ... — except ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER between two visible characters,
  which Persian (``مهدی\u200cزاده``), the Indic scripts and emoji sequences need;
- a line or paragraph separator (``U+2028``, ``U+2029``), a lone surrogate (category Cs: it
  cannot even be encoded as UTF-8);
- a letter or mark that renders as nothing: the Hangul fillers, the combining grapheme joiner,
  the Khmer inherent vowels.

Private-use and not-yet-assigned code points are kept: they print as a box, they hide nothing.

:data:`NameText` is the Pydantic type of request bodies; :func:`check_name` serves every other
path (the CSV/XLSX import goes through the schemas; the API-key name of the CLI; SSO subjects).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

__all__ = ["NameText", "check_name", "refused_character"]

_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
#: Letters and marks that render as nothing (Unicode's default-ignorable letters).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5")
#: What may stand on either side of a joiner: letters, marks (a virama before ZWNJ in Indic
#: scripts, a variation selector in emoji), and the symbols emoji are made of.
_JOINABLE = ("L", "M", "So", "Sk")


def _joinable(ch: str) -> bool:
    return unicodedata.category(ch).startswith(_JOINABLE)


#: The C0 controls' abbreviations (unicodedata has no names for controls).
_C0 = (
    "NUL",
    "SOH",
    "STX",
    "ETX",
    "EOT",
    "ENQ",
    "ACK",
    "BEL",
    "BS",
    "TAB",
    "LF",
    "VT",
    "FF",
    "CR",
    "SO",
    "SI",
    "DLE",
    "DC1",
    "DC2",
    "DC3",
    "DC4",
    "NAK",
    "SYN",
    "ETB",
    "CAN",
    "EM",
    "SUB",
    "ESC",
    "FS",
    "GS",
    "RS",
    "US",
)


def _describe(ch: str) -> str:
    code = ord(ch)
    name = (
        _C0[code]
        if code < 0x20
        else "DEL"
        if code == 0x7F
        else "C1 control"
        if code < 0xA0
        else unicodedata.name(ch, "unnamed character")
    )
    return f"U+{code:04X} ({name})"


def refused_character(value: str) -> str | None:
    """The first character a name may not hold, described as ``U+XXXX (NAME)``; None if none."""
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if ch in _JOINERS:
            if 0 < i < len(value) - 1 and _joinable(value[i - 1]) and _joinable(value[i + 1]):
                continue
            return _describe(ch)
        if category in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch in _INVISIBLE:
            return _describe(ch)
    return None


def check_name(value: str) -> str:
    """The name in NFC, or ``ValueError`` naming the first refused character."""
    normal = unicodedata.normalize("NFC", value)
    bad = refused_character(normal)
    if bad is not None:
        raise ValueError(
            f"a name must not contain {bad}: control, format and invisible "
            f"characters can disguise it"
        )
    return normal


def _validate(value: str) -> str:
    try:
        return check_name(value)
    except ValueError as exc:
        # A stable error type of its own, so a client can tell this refusal from the others.
        raise PydanticCustomError("name_text", str(exc)) from None


#: A name in a request body: NFC, no control, format or invisible characters (see module doc).
NameText = Annotated[str, AfterValidator(_validate)]
