"""Hardened XML parsing for the QTI reader, and the one canonical element vocabulary it reads.

Every XML document of a QTI input (the manifest, items, shared stimuli) goes through
:func:`parse_xml`: no entity is ever expanded, no DTD or anything else is loaded (from disk or the
network), a document that declares entities is refused outright, and comments and processing
instructions are dropped.

:func:`canonicalize` then rewrites a parsed tree in place so that the rest of the reader sees one
vocabulary whatever the QTI version or namespace: namespaces are stripped (``xml:lang`` becomes
``lang``), and QTI 3 kebab-case names become their QTI 2.x camelCase equivalents
(``qti-choice-interaction`` → ``choiceInteraction``, ``response-identifier`` →
``responseIdentifier``; ``xml:base`` becomes ``xmlBase``). HTML and MathML elements keep their
names.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

#: lxml elements are untyped (no stubs); one alias keeps the signatures readable.
Element = Any

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# A quick byte-level refusal before libxml2 sees the DTD at all; the parsed-DTD check in
# parse_xml also covers encodings (UTF-16) this pattern cannot see.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class XmlRejected(Exception):
    """The document cannot be read; ``str(exc)`` is the reason ("category: detail")."""


class XmlRefused(XmlRejected):
    """The document declares entities (billion laughs, external entities): never read it."""


class XmlMalformed(XmlRejected):
    """The document is not well-formed XML."""


def _parser() -> Any:
    # A fresh parser per document: lxml parsers keep state (error log) and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )


def parse_xml(data: bytes) -> Element:
    """Parse ``data`` safely and return its root element.

    Raises :class:`XmlRefused` for any entity declaration and :class:`XmlMalformed` when the
    bytes are not well-formed XML (both :class:`XmlRejected`, whose message is the reason).
    """
    if _declares_entities(data):
        raise XmlRefused("unsafe XML: the document declares entities")
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise XmlMalformed("not well-formed XML: " + (_first_line(str(exc)) or "empty")) from exc
    if root is None:
        raise XmlMalformed("not well-formed XML: empty document")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and (list(dtd.iterentities()) or list(dtd.iterelements())):
        # Element declarations are harmless alone but have no place in QTI either; refusing any
        # DTD with declarations keeps the rule simple.
        raise XmlRefused("unsafe XML: the document carries a DTD with declarations")
    return root


def read_document(data: bytes) -> Element:
    """:func:`parse_xml` then :func:`canonicalize`: the one way the reader opens a document."""
    return canonicalize(parse_xml(data))


def _declares_entities(data: bytes) -> bool:
    if _ENTITY_DECL.search(data):
        return True
    head = data[:4]
    if b"\x00" not in head:
        return False
    # UTF-16/32 (with or without a byte-order mark): look at the text, not the bytes.
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "<!entity" in text.lower():
            return True
    return False


def _first_line(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"\s*\(<string>, line \d+\)$", "", first)[:200]


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _camel(kebab: str) -> str:
    head, *rest = kebab.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def canonical_tag(tag: str) -> str:
    """``{ns}qti-simple-choice`` → ``simpleChoice``; ``{ns}p`` → ``p``."""
    name = local_name(tag)
    if name.startswith("qti-"):
        return _camel(name[4:])
    return name


def canonicalize(root: Element) -> Element:
    """Strip namespaces and map QTI 3 names onto QTI 2.x names, in place; return ``root``."""
    for el in root.iter(etree.Element):
        raw = local_name(el.tag)
        qti3 = raw.startswith("qti-")
        el.tag = _camel(raw[4:]) if qti3 else raw
        if not el.attrib:
            continue
        items = list(el.attrib.items())
        el.attrib.clear()
        for key, value in items:
            name = _attr_name(str(key), qti3)
            if name is not None:
                el.set(name, value)
    for ref in list(root.iter(etree.Entity)):
        # A reference to an entity of an external DTD that was (rightly) never loaded: it has no
        # content, so it leaves nothing but the text around it.
        remove(ref)
    etree.cleanup_namespaces(root)
    return root


def text_before(node: Element, text: str) -> None:
    """Insert ``text`` into the document just before ``node``."""
    if not text:
        return
    prev = node.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    else:
        parent = node.getparent()
        parent.text = (parent.text or "") + text


def remove(node: Element, replacement: str = "") -> None:
    """Remove ``node`` but keep the text that follows it (lxml keeps it in ``tail``), with
    ``replacement`` where the node was."""
    parent = node.getparent()
    if parent is None:
        return
    text_before(node, replacement + (node.tail or ""))
    node.tail = None
    parent.remove(node)


def _attr_name(key: str, qti3: bool) -> str | None:
    if key.startswith("{"):
        ns, name = key[1:].split("}", 1)
        if ns == _XSI_NS:
            return None
        if ns == _XML_NS:
            return {"lang": "lang", "base": "xmlBase"}.get(name)
        key = name
    if qti3 and "-" in key and not key.startswith(("data-", "aria-")):
        return _camel(key)
    return key


def is_element(node: Any) -> bool:
    return isinstance(node, etree._Element) and isinstance(node.tag, str)


def children(el: Element, name: str) -> list[Element]:
    """Direct children of ``el`` with the canonical name ``name``."""
    return [c for c in el if is_element(c) and c.tag == name]


def child(el: Element, name: str) -> Element | None:
    found = children(el, name)
    return found[0] if found else None


def descendants(el: Element, name: str) -> list[Element]:
    return list(el.iter(name))


def text_of(el: Element) -> str:
    """The whole text content of ``el``, whitespace collapsed."""
    return " ".join("".join(el.itertext()).split())


def to_html(el: Element, *, with_tail: bool = True) -> str:
    return str(etree.tostring(el, method="html", encoding="unicode", with_tail=with_tail))


def new_element(tag: str, **attrs: str) -> Element:
    return etree.Element(tag, **attrs)
