"""Item HTML is sanitised on import (nh3/ammonia): text formatting, tables and MathML only; no
scripts, styles, event handlers, links, images or embedded media (media live in the item's own
fields).

One allow-list serves every path into storage (flow JSON and QTI): the QTI reader cleans with
:func:`clean_html` too and asks :func:`lost_text` first, so an item whose meaning would not survive
storage is refused at import with a reason instead of being stored with holes in it (MathML was
once deleted here after the reader had kept it: "What is the value of  in degrees?").

Text for screen readers only keeps one class, ``visually-hidden`` (defined by the delivery
stylesheet), so it stays hidden from sight and read aloud; every other class is removed.
"""

from __future__ import annotations

import re

import lxml.html  # type: ignore[import-untyped]
import nh3

#: Presentation MathML: current browsers render it natively (MathML Core).
MATHML = frozenset(
    {
        "math",
        "semantics",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "msup",
        "msub",
        "msubsup",
        "mfrac",
        "msqrt",
        "mroot",
        "mfenced",
        "mover",
        "munder",
        "munderover",
        "mmultiscripts",
        "mprescripts",
        "none",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
    }
)

TAGS = frozenset(
    {
        "p",
        "br",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "sub",
        "sup",
        "span",
        "div",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "caption",
        "blockquote",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "code",
        "hr",
        "small",
        "mark",
        "abbr",
        "q",
        "cite",
        "dl",
        "dt",
        "dd",
        "ruby",
        "rt",
        "rp",
        "bdi",
        "bdo",
    }
    | MATHML
)

ATTRIBUTES: dict[str, set[str]] = {
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "bdo": {"dir"},
    "math": {"display"},
    "mi": {"mathvariant"},
    "mo": {"stretchy", "fence", "separator", "form", "lspace", "rspace"},
    "mspace": {"width"},
    "mfrac": {"linethickness"},
    "mfenced": {"open", "close", "separators"},
    "menclose": {"notation"},
    "mtd": {"rowspan", "columnspan", "columnalign"},
    "*": {"lang", "dir"},
}

#: The one class kept: text for screen readers only (``take.css`` hides it from sight).
HIDDEN_CLASS = "visually-hidden"
#: Classes authors and QTI tools use for the same thing; the QTI reader maps them onto it.
HIDDEN_CLASSES = frozenset(
    {
        "visually-hidden",
        "qti-visually-hidden",
        "sr-only",
        "screen-reader-only",
        "screenreader-only",
        "screen-reader-text",
        "visuallyhidden",
        "element-invisible",
    }
)
_CLASSES = {tag: {HIDDEN_CLASS} for tag in ("span", "div", "p")}
#: Removed with their content: code, and MathML annotations (a formula's TeX source, an
#: alternative to the rendering that would otherwise show as text beside it).
_NOT_TEXT = ("script", "style", "template", "annotation", "annotation-xml")


def clean_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes=ATTRIBUTES,
        allowed_classes=_CLASSES,
        clean_content_tags=set(_NOT_TEXT),
        strip_comments=True,
        link_rel=None,
    ).strip()


def _text(html: str) -> str:
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in list(root.iter(*_NOT_TEXT)):
        el.drop_tree()  # never meaning: cleaning drops them with their content, and so may we
    return " ".join(root.text_content().split())


def lost_text(html: str) -> str | None:
    """What :func:`clean_html` would remove from the meaning of ``html``: None when the visible
    text survives cleaning, else a short description ("<svg>: 'x + 2'"). Formatting, classes and
    attributes may go; words, formulas and images may not."""
    before, after = _text(html), _text(clean_html(html))
    images = len(re.findall(r"<img\b", html, re.IGNORECASE))
    if before == after and not images:
        return None
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    foreign = sorted(
        {str(el.tag) for el in root.iter() if isinstance(el.tag, str) and el.tag not in TAGS}
        - {"div", "a", *_NOT_TEXT}
    )
    where = ", ".join(f"<{t}>" for t in foreign[:3]) or "markup"
    if before == after:
        return f"{where}: {images} image(s) inside the text"
    return f"{where}: {before[:60]!r} would become {after[:60]!r}"
