"""Item HTML is sanitised on import (nh3/ammonia): text formatting and tables only; no scripts,
styles, event handlers, links or embedded media (media live in the item's own fields)."""

from __future__ import annotations

import nh3

_TAGS = {
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
_ATTRIBUTES = {
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "bdo": {"dir"},
    "*": {"lang", "dir"},
}


def clean_html(html: str) -> str:
    return nh3.clean(
        html, tags=_TAGS, attributes=_ATTRIBUTES, strip_comments=True, link_rel=None
    ).strip()
