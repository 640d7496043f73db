"""Export eTest items and assessments as QTI 3.0 (or 2.2) content packages, and read eTest's own
exports back without loss.

A package is a zip with ``imsmanifest.xml`` at its root, one QTI item file per item
(``items/<code>.xml``), the media they use (``media/<sha256>.<ext>``) and, for an assessment, one
``assessmentTest`` (``tests/<code>.xml``). Other QTI tools read the items and the test as plain
QTI (``docs/qti.md``, "Export"): interactions, keys, response processing, media, sections,
selection, ordering and time limits.

What QTI has no element for travels in the manifest's metadata, in eTest's own namespace
(:data:`NS_ETEST`; IMS content packaging allows any foreign element there):

* per item resource, ``<etest:etestItem sha256="…">``: the item's definition in the flow
  format (``etest-flow/1``: code, skill, level, status, can-do, review lessons, IRT parameters,
  the text-entry normalisation, transcripts …) and a SHA-256 over the item file and its media
  as they were written;
* once per package, ``<etest:etestFlow>``: the flow around the items (kind, code, version,
  title, plan, level, can-do statements, review lessons and the engine, item codes in place of
  ids). An adaptive engine (the placement test's ``staged`` or ``irt``) lives only here: QTI
  tests select and order items, they do not estimate ability.

:func:`read_export` reads such a package back. An item whose file and media are byte for byte
those it was exported with takes its definition from the metadata (so import(export(x)) is x);
an item changed by another tool since is read from its QTI (the importer's mapping,
:func:`etest.content.qti_item.convert_item`), keeps its code, skill, level, can-do and lessons,
and comes back as a ``draft`` without IRT parameters: its calibration was of other content.

Entry points: :func:`bundle_of_items` / :func:`bundle_of_assessment` read the stored versions
(the repository's queries) into a :class:`Bundle`; :func:`write_package` writes it (pure, no
database); :func:`export_to_file` is ``etest content export``; :func:`export_source` is the
import's hook. Item types are the :data:`WRITERS` table.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import json
import posixpath
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lxml.html  # type: ignore[import-untyped]
import structlog
from lxml import etree
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.config import Settings
from etest.content import repository
from etest.content.errors import QtiPackageError
from etest.content.media import CONTENT_TYPES, MediaStore
from etest.content.qti import QtiItemReport, QtiLimits
from etest.content.qti_item import Skip, convert_item
from etest.content.qti_xml import XmlRejected, read_document
from etest.content.schemas import (
    FORMAT,
    MARKER,
    CanDoIn,
    ChoiceKey,
    ClozeKey,
    FlowFile,
    InlineChoiceKey,
    ItemIn,
    MatchKey,
    MediaRef,
    Option,
    OrderKey,
    ReviewLessonIn,
    TextEntryKey,
    max_points,
)
from etest.content.sources import Problem, Source
from etest.errors import NotFound
from etest.kit.archive import ArchiveLimits, ArchiveRefused, SafeZip, safe_entry_name
from etest.models import Assessment, AssessmentVersion, CanDoStatement, Item, ReviewLesson

__all__ = [
    "NS_ETEST",
    "Bundle",
    "Exported",
    "QtiVersion",
    "bundle_of_assessment",
    "bundle_of_items",
    "export_package",
    "export_source",
    "export_to_file",
    "item_xml",
    "read_export",
    "save_package",
    "write_package",
]

log = structlog.get_logger(__name__)

QtiVersion = Literal["3.0", "2.2"]

#: eTest's namespace for what QTI cannot say (item definitions, the flow and its engine).
NS_ETEST = "https://etest.dev/xsd/qti-export/1"


@dataclass(frozen=True)
class _Dialect:
    """What differs between the QTI versions eTest writes."""

    ns: str
    schema_location: str
    cp_ns: str
    schema_version: str
    item_type: str
    test_type: str
    templates: str  # response-processing template base URL
    kebab: bool  # QTI 3: qti-kebab-case elements and kebab-case attributes


DIALECTS: dict[str, _Dialect] = {
    "3.0": _Dialect(
        ns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0",
        schema_location="https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd",
        cp_ns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1",
        schema_version="3.0.0",
        item_type="imsqti_item_xmlv3p0",
        test_type="imsqti_test_xmlv3p0",
        templates="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/",
        kebab=True,
    ),
    "2.2": _Dialect(
        ns="http://www.imsglobal.org/xsd/imsqti_v2p2",
        schema_location="http://www.imsglobal.org/xsd/qti/qtiv2p2/imsqti_v2p2p4.xsd",
        cp_ns="http://www.imsglobal.org/xsd/imscp_v1p1",
        schema_version="2.2",
        item_type="imsqti_item_xmlv2p2",
        test_type="imsqti_test_xmlv2p2",
        templates="http://www.imsglobal.org/question/qti_v2p2/rptemplates/",
        kebab=False,
    ),
}

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RESPONSE = "RESPONSE"
_ITEMS = "items"  # the folder of item files in a package
_MAX_XML = QtiLimits().max_xml_bytes  # the importer's bound on one XML document
#: content type → the extension media get in a package (the first of etest.content.media's).
_EXTENSION = {ctype: ext for ext, ctype in reversed(list(CONTENT_TYPES.items()))}


@dataclass
class Bundle:
    """What a package carries: a flow (items with media paths inside the package, can-do
    statements, review lessons, the engine) and the media bytes by those paths."""

    flow: FlowFile
    media: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Exported:
    """An eTest export read back: the flow to import, its media, and per item whether it came
    from the metadata (``imported``) or, changed since the export, from its QTI."""

    flow: FlowFile
    media: dict[str, bytes]
    reports: list[QtiItemReport]


# --- QTI XML per item type ----------------------------------------------------------------------

Writer = Callable[["_ItemXml", ItemIn], None]


class _ItemXml:
    """Builds one item in the QTI 2 vocabulary (no namespace); :func:`_qti_names` maps it onto
    the dialect's names."""

    def __init__(self, item: ItemIn, identifier: str, dialect: _Dialect, v22: bool) -> None:
        self.item = item
        self.dialect = dialect
        self.v22 = v22
        self.root = etree.Element(
            "assessmentItem",
            identifier=identifier,
            title=_title(item),
            adaptive="false",
            timeDependent="false",
        )
        self.ids = _qti_ids([o.id for o in item.options])
        self.target_ids = _qti_ids([t.id for t in item.targets])

    def declare(
        self,
        cardinality: str,
        base_type: str,
        correct: Iterable[str],
        identifier: str = _RESPONSE,
    ) -> etree._Element:
        decl = etree.SubElement(
            self.root,
            "responseDeclaration",
            identifier=identifier,
            cardinality=cardinality,
            baseType=base_type,
        )
        values = etree.SubElement(decl, "correctResponse")
        for value in correct:
            etree.SubElement(values, "value").text = value
        return decl

    def body(self) -> etree._Element:
        """The outcome declarations (MAXSCORE: one point a gap) and the item body with the
        stimulus."""
        for name in ("SCORE", "MAXSCORE"):
            out = etree.SubElement(
                self.root,
                "outcomeDeclaration",
                identifier=name,
                cardinality="single",
                baseType="float",
            )
            if name == "MAXSCORE":
                etree.SubElement(etree.SubElement(out, "defaultValue"), "value").text = str(
                    max_points(self.item.type, self.item.gaps)
                )
        body = etree.SubElement(self.root, "itemBody")
        stim = self.item.stimulus
        if stim is not None and (stim.text or stim.image or stim.audio):
            div = etree.SubElement(body, "div", {"class": "etest-stimulus"})
            if stim.image is not None:
                _image(etree.SubElement(div, "p"), stim.image)
            if stim.audio is not None:
                self.audio(etree.SubElement(div, "p"), stim.audio)
            if stim.text:
                _append_html(div, stim.text)
        return body

    def audio(self, parent: etree._Element, ref: MediaRef) -> None:
        ctype = CONTENT_TYPES.get(posixpath.splitext(ref.src)[1].lower(), "audio/mpeg")
        if self.v22:
            # QTI 2.2 has no HTML5 <audio>: an <object> plays it (its text is the alternative)
            obj = etree.SubElement(parent, "object", data=_from_items(ref.src), type=ctype)
            obj.text = ref.alt or "audio"
        else:
            audio = etree.SubElement(parent, "audio", controls="controls")
            etree.SubElement(audio, "source", src=_from_items(ref.src), type=ctype)
            if ref.alt:
                audio.set("title", ref.alt)

    def choices(
        self, parent: etree._Element, tag: str, options: list[Option], ids: dict[str, str]
    ) -> None:
        for option in options:
            choice = etree.SubElement(parent, tag, identifier=ids[option.id])
            if tag == "simpleAssociableChoice":
                choice.set("matchMax", "1")
            self.content(choice, option)

    def content(self, parent: etree._Element, option: Option) -> None:
        """An option's picture, sound and text inside ``parent``."""
        if option.image is not None:
            _image(parent, option.image)
        if option.audio is not None:
            self.audio(parent, option.audio)
        if option.text:
            _append_html(parent, option.text)

    def prompt(self, interaction: etree._Element) -> None:
        _append_html(etree.SubElement(interaction, "prompt"), self.item.prompt)

    def process(self, template: str) -> None:
        etree.SubElement(
            self.root, "responseProcessing", template=self.dialect.templates + template
        )


def _choice(x: _ItemXml, item: ItemIn) -> None:
    key = item.key
    assert isinstance(key, ChoiceKey)
    single = item.type == "single_choice"
    x.declare("single" if single else "multiple", "identifier", [x.ids[c] for c in key.correct])
    interaction = etree.SubElement(
        x.body(),
        "choiceInteraction",
        responseIdentifier=_RESPONSE,
        shuffle=_bool(item.shuffle_options),
        maxChoices="1" if single else "0",
    )
    x.prompt(interaction)
    x.choices(interaction, "simpleChoice", item.options, x.ids)
    x.process("match_correct" + _ext(x))


def _typed(x: _ItemXml, key: TextEntryKey, identifier: str = _RESPONSE) -> None:
    """The response declaration of a typed answer: a number, or every accepted text mapped
    to one point."""
    number = key.number  # numeric answers (scored as QTI's equal does)
    if number is not None:
        base = "integer" if number.integer else "float"
        x.declare("single", base, [_number(number.value, number.integer)], identifier)
        return
    decl = x.declare("single", "string", key.accepted[:1], identifier)
    # every accepted answer scores; QTI compares exactly or ignoring case, and eTest's finer
    # normalisations (trim, punctuation) travel in the eTest metadata
    mapping = etree.SubElement(decl, "mapping", defaultValue="0", upperBound="1")
    for answer in key.accepted:
        etree.SubElement(
            mapping,
            "mapEntry",
            mapKey=answer,
            mappedValue="1",
            caseSensitive=_bool(key.normalize == "exact"),
        )


def _text_entry(x: _ItemXml, item: ItemIn) -> None:
    key = item.key
    assert isinstance(key, TextEntryKey)
    number = key.number
    _typed(x, key)
    body = x.body()
    _append_html(etree.SubElement(body, "div", {"class": "etest-prompt"}), item.prompt)
    etree.SubElement(
        etree.SubElement(body, "p"),
        "textEntryInteraction",
        responseIdentifier=_RESPONSE,
        expectedLength=str(max(len(a) for a in key.accepted)),
    )
    if number is None:
        x.process("map_response" + _ext(x))
    elif number.tolerance_mode == "exact":
        x.process("match_correct" + _ext(x))
    else:
        _equal_processing(x.root, number)


def _number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else repr(float(value))


def _equal(parent: etree._Element, number: Any, identifier: str = _RESPONSE) -> None:
    """QTI ``equal`` of a response and its correct value, within the key's tolerance."""
    equal = etree.SubElement(
        parent,
        "equal",
        toleranceMode=number.tolerance_mode,
        tolerance=" ".join(repr(float(t)) for t in number.tolerance),
        includeLowerBound=_bool(number.include_lower),
        includeUpperBound=_bool(number.include_upper),
    )
    etree.SubElement(equal, "variable", identifier=identifier)
    etree.SubElement(equal, "correct", identifier=identifier)


def _equal_processing(root: etree._Element, number: Any) -> None:
    """SCORE 1 when the response equals the correct value within the tolerance (QTI ``equal``)."""
    rp = etree.SubElement(root, "responseProcessing")
    condition = etree.SubElement(rp, "responseCondition")
    branch = etree.SubElement(condition, "responseIf")
    _equal(branch, number)
    for parent, score in ((branch, "1"), (etree.SubElement(condition, "responseElse"), "0")):
        out = etree.SubElement(parent, "setOutcomeValue", identifier="SCORE")
        etree.SubElement(out, "baseValue", baseType="float").text = score


def _ordering(x: _ItemXml, item: ItemIn) -> None:
    key = item.key
    assert isinstance(key, OrderKey)
    x.declare("ordered", "identifier", [x.ids[c] for c in key.order])
    interaction = etree.SubElement(
        x.body(),
        "orderInteraction",
        responseIdentifier=_RESPONSE,
        shuffle=_bool(item.shuffle_options),
    )
    x.prompt(interaction)
    x.choices(interaction, "simpleChoice", item.options, x.ids)
    x.process("match_correct" + _ext(x))


def _matching(x: _ItemXml, item: ItemIn) -> None:
    key = item.key
    assert isinstance(key, MatchKey)
    x.declare(
        "multiple",
        "directedPair",
        [f"{x.ids[a]} {x.target_ids[b]}" for a, b in key.pairs],
    )
    interaction = etree.SubElement(
        x.body(),
        "matchInteraction",
        responseIdentifier=_RESPONSE,
        shuffle=_bool(item.shuffle_options),
        maxAssociations=str(len(item.options)),
    )
    x.prompt(interaction)
    left = etree.SubElement(interaction, "simpleMatchSet")
    right = etree.SubElement(interaction, "simpleMatchSet")
    x.choices(left, "simpleAssociableChoice", item.options, x.ids)
    x.choices(right, "simpleAssociableChoice", item.targets, x.target_ids)
    x.process("match_correct" + _ext(x))


#: HTML elements that are block content in QTI (an item body, a gap match or hottext
#: interaction holds only these).
_BLOCKS = {
    "address", "blockquote", "div", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p",
    "pre", "table", "ul",
}  # fmt: skip


def _marked_body(parent: etree._Element, body: str, make: Callable[[str], etree._Element]) -> None:
    """The body's HTML under ``parent``, each ``[[id]]`` replaced by ``make(id)``; in a
    ``div`` when it starts with text or inline elements (QTI wants block content there)."""
    div = etree.SubElement(parent, "div", {"class": "etest-body"})
    _append_html(div, body)
    _replace_markers(div, make)
    if (div.text or "").strip() or any(
        kid.tag not in _BLOCKS or (kid.tail or "").strip() for kid in div
    ):
        return
    for kid in list(div):
        div.addprevious(kid)
    parent.remove(div)


def _replace_markers(div: etree._Element, make: Callable[[str], etree._Element]) -> None:
    """Each ``[[id]]`` in the text under ``div`` becomes the element ``make(id)``."""
    for el in list(div.iter(etree.Element)):
        parts = MARKER.split(el.text or "")
        if len(parts) > 1:
            el.text = parts[0]
            for n, i in enumerate(range(1, len(parts), 2)):
                new = make(parts[i])
                new.tail = parts[i + 1]
                el.insert(n, new)
        parts = MARKER.split(el.tail or "") if el is not div else [""]
        if len(parts) > 1:
            el.tail = parts[0]
            parent_el = el.getparent()
            at = parent_el.index(el)
            for n, i in enumerate(range(1, len(parts), 2)):
                new = make(parts[i])
                new.tail = parts[i + 1]
                parent_el.insert(at + 1 + n, new)


def _score_plus_one(parent: etree._Element) -> None:
    out = etree.SubElement(parent, "setOutcomeValue", identifier="SCORE")
    total = etree.SubElement(out, "sum")
    etree.SubElement(total, "variable", identifier="SCORE")
    etree.SubElement(total, "baseValue", baseType="float").text = "1"


def _cloze(x: _ItemXml, item: ItemIn) -> None:
    """One interaction a gap: a text entry (its key as a lone text entry's) or an inline
    choice; response processing adds a point per gap answered right."""
    key = item.key
    assert isinstance(key, ClozeKey) and item.body is not None
    rids = _qti_ids([g.id for g in item.gaps], taken={"SCORE", "MAXSCORE"})
    choice_ids = {g.id: _qti_ids([c.id for c in g.choices]) for g in item.gaps}
    gaps = {g.id: g for g in item.gaps}
    for gap in item.gaps:
        answer = key.gaps[gap.id]
        if isinstance(answer, InlineChoiceKey):
            x.declare("single", "identifier", [choice_ids[gap.id][answer.correct]], rids[gap.id])
        else:
            _typed(x, answer, rids[gap.id])
    body = x.body()
    _append_html(etree.SubElement(body, "div", {"class": "etest-prompt"}), item.prompt)

    def interaction(gap_id: str) -> etree._Element:
        gap = gaps[gap_id]
        if not gap.choices:
            el = etree.Element("textEntryInteraction", responseIdentifier=rids[gap_id])
            if gap.expected_length:
                el.set("expectedLength", str(gap.expected_length))
            return el
        el = etree.Element(
            "inlineChoiceInteraction",
            responseIdentifier=rids[gap_id],
            shuffle=_bool(item.shuffle_options),
        )
        for choice in gap.choices:
            x.content(
                etree.SubElement(el, "inlineChoice", identifier=choice_ids[gap_id][choice.id]),
                choice,
            )
        return el

    _marked_body(body, item.body, interaction)
    rp = etree.SubElement(x.root, "responseProcessing")
    start = etree.SubElement(rp, "setOutcomeValue", identifier="SCORE")
    etree.SubElement(start, "baseValue", baseType="float").text = "0"
    for gap in item.gaps:
        rid, answer = rids[gap.id], key.gaps[gap.id]
        branch = etree.SubElement(etree.SubElement(rp, "responseCondition"), "responseIf")
        if isinstance(answer, TextEntryKey) and answer.number is None:
            test = etree.SubElement(branch, "gt")
            etree.SubElement(test, "mapResponse", identifier=rid)
            etree.SubElement(test, "baseValue", baseType="float").text = "0"
        elif (
            isinstance(answer, TextEntryKey)
            and answer.number is not None
            and (answer.number.tolerance_mode != "exact")
        ):
            _equal(branch, answer.number, rid)
        else:
            test = etree.SubElement(branch, "match")
            etree.SubElement(test, "variable", identifier=rid)
            etree.SubElement(test, "correct", identifier=rid)
        _score_plus_one(branch)


def _gap_match(x: _ItemXml, item: ItemIn) -> None:
    """The words as ``gapText`` (``gapImg`` with a picture), ``matchMax`` their max_uses; the
    gaps in the text; each right (word, gap) pair maps to a point."""
    key = item.key
    assert isinstance(key, MatchKey) and item.body is not None
    gap_ids = _qti_ids([g.id for g in item.gaps], taken=set(x.ids.values()))
    pairs = [f"{x.ids[w]} {gap_ids[g]}" for w, g in key.pairs]
    decl = x.declare("multiple", "directedPair", pairs)
    mapping = etree.SubElement(decl, "mapping", defaultValue="0")
    for pair in pairs:
        etree.SubElement(mapping, "mapEntry", mapKey=pair, mappedValue="1")
    interaction = etree.SubElement(
        x.body(),
        "gapMatchInteraction",
        responseIdentifier=_RESPONSE,
        shuffle=_bool(item.shuffle_options),
    )
    x.prompt(interaction)
    for option in item.options:
        if option.image is None:
            word = etree.SubElement(interaction, "gapText", identifier=x.ids[option.id])
            _append_html(word, option.text)
        else:
            word = etree.SubElement(interaction, "gapImg", identifier=x.ids[option.id])
            ref = option.image
            if x.v22:  # a QTI 2.2 gapImg holds an <object>
                ctype = CONTENT_TYPES.get(posixpath.splitext(ref.src)[1].lower(), "image/png")
                obj = etree.SubElement(word, "object", data=_from_items(ref.src), type=ctype)
                obj.text = ref.alt or ""
            else:
                _image(word, ref)
            if option.text:
                word.set("objectLabel", " ".join(re.sub(r"<[^>]*>", " ", option.text).split()))
        word.set("matchMax", str(option.max_uses))
    _marked_body(interaction, item.body, lambda g: etree.Element("gap", identifier=gap_ids[g]))
    x.process("map_response" + _ext(x))


def _hottext(x: _ItemXml, item: ItemIn) -> None:
    """Each option a ``hottext`` where its marker stands; one correct: choose one."""
    key = item.key
    assert isinstance(key, ChoiceKey) and item.body is not None
    single = len(key.correct) == 1
    x.declare("single" if single else "multiple", "identifier", [x.ids[c] for c in key.correct])
    interaction = etree.SubElement(
        x.body(),
        "hottextInteraction",
        responseIdentifier=_RESPONSE,
        maxChoices="1" if single else "0",
    )
    x.prompt(interaction)
    options = {o.id: o for o in item.options}

    def hottext(option_id: str) -> etree._Element:
        el = etree.Element("hottext", identifier=x.ids[option_id])
        x.content(el, options[option_id])
        return el

    _marked_body(interaction, item.body, hottext)
    x.process("match_correct" + _ext(x))


#: One writer per item type: a new type is one entry here (and, to be read back by other tools,
#: one in the importer's mapping).
WRITERS: dict[str, Writer] = {
    "single_choice": _choice,
    "multiple_choice": _choice,
    "text_entry": _text_entry,
    "ordering": _ordering,
    "matching": _matching,
    "cloze": _cloze,
    "gap_match": _gap_match,
    "hottext": _hottext,
}


def _ext(x: _ItemXml) -> str:
    return ".xml" if x.dialect.kebab else ""


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _title(item: ItemIn) -> str:
    text = " ".join(re.sub(r"<[^>]*>", " ", html.unescape(item.prompt)).split())
    return (text[:77] + "…") if len(text) > 78 else text or item.code


def _image(parent: etree._Element, ref: MediaRef) -> None:
    etree.SubElement(parent, "img", src=_from_items(ref.src), alt=ref.alt or "")


def _from_items(src: str) -> str:
    """A package path as written in an item file, which sits in ``items/``."""
    return posixpath.relpath(src, _ITEMS)


def _append_html(parent: etree._Element, text: str | None) -> None:
    """Append eTest's (sanitised) HTML to ``parent`` as XML elements."""
    if not text:
        return
    wrapper = lxml.html.fragment_fromstring(text, create_parent="div")
    xml = etree.fromstring(etree.tostring(wrapper, encoding="unicode", method="xml"))
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + (xml.text or "")
    else:
        parent.text = (parent.text or "") + (xml.text or "")
    for kid in list(xml):
        parent.append(kid)


_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _ncname(value: str, prefix: str) -> str:
    """A QTI identifier (an XML NCName) for an eTest id or code."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", value)
    return cleaned if _NCNAME.match(cleaned) else f"{prefix}{cleaned}"


def _qti_ids(ids: list[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """eTest option ids → unique QTI identifiers (``1`` → ``id-1``: NCNames start with a
    letter), none of them in ``taken`` (a gap_match's words, the outcomes' names)."""
    out: dict[str, str] = {}
    used = set(taken)
    for oid in ids:
        qid, n = _ncname(oid, "id-"), 2
        base = qid
        while qid in used:
            qid, n = f"{base}-{n}", n + 1
        out[oid] = qid
        used.add(qid)
    return out


def _qti_names(root: etree._Element, dialect: _Dialect) -> None:
    """Put the tree in the dialect's namespace and, for QTI 3, its qti-kebab-case names."""
    qti_tags = _QTI_TAGS
    for el in root.iter(etree.Element):
        name = el.tag
        if dialect.kebab and name in qti_tags:
            attrs = dict(el.attrib)
            el.attrib.clear()
            for key, value in attrs.items():
                el.set(_kebab(key) if "}" not in key else key, value)
            name = "qti-" + _kebab(name)
        el.tag = f"{{{dialect.ns}}}{name}"


_QTI_TAGS = {
    "assessmentItem",
    "responseDeclaration",
    "correctResponse",
    "value",
    "mapping",
    "mapEntry",
    "outcomeDeclaration",
    "defaultValue",
    "itemBody",
    "prompt",
    "choiceInteraction",
    "simpleChoice",
    "textEntryInteraction",
    "inlineChoiceInteraction",
    "inlineChoice",
    "gapMatchInteraction",
    "gapText",
    "gapImg",
    "gap",
    "hottextInteraction",
    "hottext",
    "match",
    "gt",
    "sum",
    "mapResponse",
    "orderInteraction",
    "matchInteraction",
    "simpleMatchSet",
    "simpleAssociableChoice",
    "responseProcessing",
    "assessmentTest",
    "testPart",
    "assessmentSection",
    "assessmentItemRef",
    "selection",
    "ordering",
    "timeLimits",
    "itemSessionControl",
    "responseCondition",
    "responseIf",
    "responseElse",
    "equal",
    "variable",
    "correct",
    "setOutcomeValue",
    "baseValue",
}


def _kebab(name: str) -> str:
    return re.sub(r"([A-Z])", r"-\1", name).lower()


def _document(root: etree._Element, dialect: _Dialect) -> bytes:
    _qti_names(root, dialect)
    nsmap = {None: dialect.ns, "xsi": _XSI}
    out = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)
    out.set(f"{{{_XSI}}}schemaLocation", f"{dialect.ns} {dialect.schema_location}")
    out.text = root.text
    for kid in list(root):
        out.append(kid)
    data: bytes = etree.tostring(out, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def item_xml(item: ItemIn, identifier: str, qti: QtiVersion = "3.0") -> bytes:
    """One item as a QTI ``assessmentItem`` document."""
    dialect = DIALECTS[qti]
    x = _ItemXml(item, identifier, dialect, v22=qti == "2.2")
    WRITERS[item.type](x, item)
    return _document(x.root, dialect)


# --- tests --------------------------------------------------------------------------------------


def _test_xml(flow: FlowFile, refs: Mapping[str, tuple[str, str]], qti: QtiVersion) -> bytes:
    """The flow as an ``assessmentTest``: what QTI can carry of it (sections, selection,
    ordering, time limits). ``refs``: item code → (identifier, href relative to the test)."""
    engine = flow.engine
    assert engine is not None
    root = etree.Element("assessmentTest", identifier=_ncname(flow.code, "T-"), title=flow.title)
    part = etree.SubElement(
        root, "testPart", identifier="P1", navigationMode="linear", submissionMode="individual"
    )
    if engine.type == "fixed" and engine.time_limit_seconds:
        etree.SubElement(part, "timeLimits", maxTime=str(engine.time_limit_seconds))
    by_code = {i.code: i for i in flow.items}

    def section(
        ident: str, title: str, codes: list[str], select: int | None, shuffle: bool
    ) -> None:
        sec = etree.SubElement(
            part, "assessmentSection", identifier=ident, title=title, visible="true"
        )
        if select is not None and select < len(codes):
            etree.SubElement(sec, "selection", select=str(select))
        if shuffle:
            etree.SubElement(sec, "ordering", shuffle="true")
        for code in codes:
            ident_ref, href = refs[code]
            ref = etree.SubElement(sec, "assessmentItemRef", identifier=ident_ref, href=href)
            item = by_code[code]
            limit = item.time_limit_seconds
            if engine.type == "fixed" and engine.item_time_limits:
                limit = engine.item_time_limits.get(item.type, limit)
            if limit:
                etree.SubElement(ref, "timeLimits", maxTime=str(limit))

    if engine.type == "fixed":
        for n, s in enumerate(engine.sections, 1):
            section(f"S{n}", s.skill, list(dict.fromkeys(s.pool)), s.count, engine.shuffle_items)
    elif engine.type == "staged":
        for n, g in enumerate(engine.groups, 1):
            section(f"S{n}", f"{g.level} {g.role}", list(dict.fromkeys(g.items)), None, False)
    else:
        # an adaptive pool: other players draw max_items at random, eTest selects by
        # information at the ability estimate (the engine is in the eTest metadata)
        pool = list(dict.fromkeys(engine.pool or []))
        section("POOL", "adaptive item pool", pool, engine.max_items, True)
    if engine.pilot is not None:
        section("PILOT", "pilot items", list(dict.fromkeys(engine.pilot.items)), None, True)
    return _document(root, DIALECTS[qti])


# --- the package --------------------------------------------------------------------------------


def _file_name(code: str, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.\-]", "_", code).strip(".") or "item"
    name, n = stem, 2
    while name.lower() in taken:
        name, n = f"{stem}-{n}", n + 1
    taken.add(name.lower())
    return name


def _with_siblings(srcs: list[str], present: Iterable[str]) -> list[str]:
    """``srcs`` and, after each, the files of ``present`` with its name and another extension:
    a stored recording's alternative (an MP3 beside an Ogg/Opus file, for browsers without
    Opus) travels beside it, where the importer looks for it, although no item names it."""
    stems: dict[str, list[str]] = {}
    for name in sorted(present):
        stems.setdefault(posixpath.splitext(name)[0], []).append(name)
    out: list[str] = []
    for src in srcs:
        out += [src, *(n for n in stems.get(posixpath.splitext(src)[0], []) if n != src)]
    return list(dict.fromkeys(out))


def _media_of(item: ItemIn) -> list[str]:
    refs: list[MediaRef | None] = []
    if item.stimulus is not None:
        refs += [item.stimulus.image, item.stimulus.audio]
    for o in [*item.options, *item.targets, *(c for g in item.gaps for c in g.choices)]:
        refs += [o.image, o.audio]
    return list(dict.fromkeys(r.src for r in refs if r is not None))


def _flow_json(flow: FlowFile) -> str:
    data = flow.model_dump(mode="json", exclude={"items"}, exclude_none=True)
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def write_package(bundle: Bundle, qti: QtiVersion = "3.0") -> bytes:
    """The bundle as a QTI content package (zip bytes). Deterministic: the same bundle gives
    the same bytes (fixed entry order and times)."""
    dialect = DIALECTS[qti]
    flow = bundle.flow
    files: dict[str, bytes] = {}
    taken: set[str] = set()
    refs: dict[str, tuple[str, str]] = {}
    cp = dialect.cp_ns
    manifest = etree.Element(
        f"{{{cp}}}manifest",
        nsmap={None: cp, "etest": NS_ETEST},
        identifier=_ncname(f"{flow.code}-v{flow.version}", "M-"),
    )
    meta = etree.SubElement(manifest, f"{{{cp}}}metadata")
    etree.SubElement(meta, f"{{{cp}}}schema").text = "QTI Package"
    etree.SubElement(meta, f"{{{cp}}}schemaversion").text = dialect.schema_version
    etree.SubElement(meta, f"{{{NS_ETEST}}}etestFlow", format=FORMAT).text = _flow_json(flow)
    etree.SubElement(manifest, f"{{{cp}}}organizations")
    resources = etree.SubElement(manifest, f"{{{cp}}}resources")
    item_resources: list[str] = []
    identifiers: set[str] = set()
    for item in flow.items:
        name = _file_name(item.code, taken)
        href = f"{_ITEMS}/{name}.xml"
        identifier = _ncname(item.code, "I-")
        while identifier in identifiers:
            identifier += "_"
        identifiers.add(identifier)
        data = item_xml(item, identifier, qti)
        files_of_item = _with_siblings(_media_of(item), bundle.media)
        files[href] = data
        refs[item.code] = (identifier, f"../{href}")
        resource = etree.SubElement(
            resources,
            f"{{{cp}}}resource",
            identifier=f"R-{identifier}",
            type=dialect.item_type,
            href=href,
        )
        item_resources.append(f"R-{identifier}")
        rmeta = etree.SubElement(resource, f"{{{cp}}}metadata")
        definition = json.dumps(
            item.model_dump(mode="json", exclude_none=True), ensure_ascii=False, sort_keys=True
        )
        etree.SubElement(
            rmeta,
            f"{{{NS_ETEST}}}etestItem",
            sha256=_fingerprint(data, (bundle.media[src] for src in files_of_item)),
        ).text = definition
        etree.SubElement(resource, f"{{{cp}}}file", href=href)
        for src in files_of_item:
            files[src] = bundle.media[src]
            etree.SubElement(resource, f"{{{cp}}}file", href=src)
    if flow.engine is not None:
        href = f"tests/{_file_name(flow.code, taken)}.xml"
        files[href] = _test_xml(flow, refs, qti)
        resource = etree.SubElement(
            resources,
            f"{{{cp}}}resource",
            identifier=_ncname(f"R-{flow.code}", "R-"),
            type=dialect.test_type,
            href=href,
        )
        etree.SubElement(resource, f"{{{cp}}}file", href=href)
        for ref in item_resources:
            etree.SubElement(resource, f"{{{cp}}}dependency", identifierref=ref)
    manifest_bytes = etree.tostring(
        manifest, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in [("imsmanifest.xml", manifest_bytes), *sorted(files.items())]:
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out.getvalue()


# --- reading an export back ---------------------------------------------------------------------


class _ZipView:
    """The package's files for :func:`convert_item` (exact paths: eTest wrote them)."""

    def __init__(self, zipped: SafeZip) -> None:
        self.zipped = zipped

    def find(self, path: str) -> str | None:
        return path if path in self.zipped.infos else None

    def names(self) -> list[str]:
        return list(self.zipped.infos)

    def size(self, key: str) -> int:
        return self.zipped.size(key)

    def read(self, key: str) -> bytes:
        return self.zipped.read(key)


def read_export(data: bytes, *, name: str = "package.zip") -> Exported | None:
    """An eTest export read back (see the module docstring), or None when ``data`` is not a
    package eTest wrote (the ordinary QTI importer reads it then). Raises
    :class:`QtiPackageError` for a package that claims to be an eTest export and is broken."""
    if not data.startswith(b"PK"):
        return None
    try:
        zipped = SafeZip(data, ArchiveLimits())
    except ArchiveRefused:
        return None  # the ordinary reader says why
    if "imsmanifest.xml" not in zipped.infos or zipped.size("imsmanifest.xml") > _MAX_XML:
        return None  # not an export, or one the ordinary reader refuses with its reason
    try:
        manifest = read_document(zipped.read("imsmanifest.xml"))
    except (XmlRejected, ArchiveRefused):
        return None
    flow_el = next((el for el in manifest.iter("etestFlow")), None)
    if flow_el is None:
        return None
    try:
        flow_data = json.loads(flow_el.text or "")
        if not isinstance(flow_data, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise QtiPackageError(f"{name}: the eTest flow metadata is not JSON: {exc}") from exc
    files = _ZipView(zipped)
    items: list[dict[str, Any]] = []
    media: dict[str, bytes] = {}
    reports: list[QtiItemReport] = []
    for resource in manifest.iter("resource"):
        item_el = next((el for el in resource.iter("etestItem")), None)
        href = resource.get("href") or ""
        if item_el is None:
            continue
        try:
            path = safe_entry_name(href)
            definition = ItemIn.model_validate_json(item_el.text or "")
        except (ArchiveRefused, ValidationError) as exc:
            reports.append(QtiItemReport(href, None, "skipped", f"eTest metadata: {exc}", None))
            continue
        try:
            item, used, how = _read_item(files, path, definition, item_el.get("sha256") or "")
        except (Skip, XmlRejected, ArchiveRefused) as exc:
            reports.append(QtiItemReport(path, definition.code, "skipped", str(exc), None))
            continue
        items.append(item)
        media.update(used)
        reports.append(QtiItemReport(path, definition.code, "imported", how, definition.code))
    flow_data["items"] = items
    try:
        flow = FlowFile.model_validate(flow_data)
    except ValidationError as exc:
        raise QtiPackageError(f"{name}: the eTest flow metadata is not valid: {exc}") from exc
    return Exported(flow=flow, media=media, reports=reports)


def _read_item(
    files: _ZipView, path: str, definition: ItemIn, digest: str
) -> tuple[dict[str, Any], dict[str, bytes], str | None]:
    """An item as the metadata defines it when its file and media are unchanged, else as its
    QTI says (a draft, without IRT parameters)."""
    if files.find(path) is None:
        raise Skip(f"file not in package: {path}")
    if files.size(path) > _MAX_XML:
        raise Skip("XML too large")
    data = files.read(path)
    srcs = _with_siblings(_media_of(definition), files.names())
    present = all(files.find(src) is not None for src in srcs)
    if present and _fingerprint(data, (files.read(src) for src in srcs)) == digest:
        return (
            definition.model_dump(mode="json", exclude_none=True),
            {src: files.read(src) for src in srcs},
            None,
        )
    converted = convert_item(read_document(data), path=path, files=files, max_xml_bytes=_MAX_XML)
    kept = definition.model_dump(
        mode="json",
        include={"code", "skill", "level", "can_do", "review_lessons", "time_limit_seconds"},
        exclude_none=True,
    )
    fields = {**converted.fields, **kept, "status": "draft", "source": definition.source}
    return fields, converted.media, "changed since export: read from its QTI, as a draft"


def _fingerprint(xml: bytes, media: Iterable[bytes]) -> str:
    """SHA-256 over an item file and the media it uses, in order: any change by another tool
    (text, key, a replaced picture) changes it."""
    digest = hashlib.sha256(hashlib.sha256(xml).digest())
    for data in media:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def export_source(name: str, data: bytes) -> Source | None:
    """The import's :class:`~etest.content.sources.Source` for an eTest export, or None for
    any other input. A bank export takes the next version on import like other QTI content;
    an assessment keeps the version it was exported with."""
    try:
        exported = read_export(data, name=name)
    except QtiPackageError as exc:
        return Source(name, None, lambda _: None, [Problem(name, "$", exc.detail)])
    if exported is None:
        return None
    return Source(
        name,
        exported.flow,
        exported.media.get,
        auto_version=exported.flow.kind == "bank",
        qti_reports=list(exported.reports),
        content_hash=hashlib.sha256(data).hexdigest(),
    )


# --- from the database --------------------------------------------------------------------------


class _Media:
    def __init__(self, store: MediaStore) -> None:
        self.store = store
        self.files: dict[str, bytes] = {}

    def ref(self, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        if not stored:
            return None
        digest = str(stored["media"])
        src = f"media/{digest}{_EXTENSION.get(str(stored.get('content_type')), '.bin')}"
        if src not in self.files:
            self.files[src] = self.store.path(digest).read_bytes()
        other = stored.get("alternative")
        if other:  # beside it, under its name and its own extension (_with_siblings)
            ext = _EXTENSION.get(str(other.get("content_type")), ".bin")
            self.files[posixpath.splitext(src)[0] + ext] = self.store.path(
                str(other["media"])
            ).read_bytes()
        return {"src": src, "alt": stored.get("alt")}


def _option(stored: dict[str, Any], media: _Media) -> dict[str, Any]:
    return {
        "id": stored["id"],
        "text": stored.get("text"),
        "image": media.ref(stored.get("image")),
        "audio": media.ref(stored.get("audio")),
        "max_uses": stored.get("max_uses", 1),
    }


def _irt(row: Item) -> dict[str, Any] | None:
    if row.irt_b is None:
        return None
    irt: dict[str, Any] = {"model": row.irt_model, "a": row.irt_a, "b": row.irt_b, "c": row.irt_c}
    if row.irt_steps is not None:
        irt["steps"] = list(row.irt_steps)
    return irt


def item_definition(row: Item, media: _Media) -> ItemIn:
    """A stored item version in the flow format, its media named by their place in the
    package."""
    stim = row.stimulus
    return ItemIn.model_validate(
        {
            "code": row.code,
            "type": row.type,
            "skill": row.skill,
            "level": row.level,
            "status": row.status,
            "prompt": row.prompt,
            "stimulus": None
            if stim is None
            else {
                "text": stim.get("text"),
                "image": media.ref(stim.get("image")),
                "audio": media.ref(stim.get("audio")),
                "transcript": stim.get("transcript"),
            },
            "options": [_option(o, media) for o in row.options],
            "targets": [_option(t, media) for t in row.targets],
            "key": row.key,
            "can_do": row.can_do,
            "review_lessons": list(row.review_lessons),
            "irt": _irt(row),
            "body": row.body,
            "gaps": [
                {**gap, "choices": [_option(c, media) for c in gap.get("choices", [])]}
                for gap in row.gaps or []
            ],
            "shuffle_options": row.shuffle_options,
            "time_limit_seconds": row.time_limit_seconds,
            "source": row.source,
        }
    )


async def _with_statements(
    session: AsyncSession, flow: dict[str, Any], items: list[ItemIn]
) -> None:
    """The can-do statements and review lessons the items name travel with them."""
    can_do, lessons = [], []
    for code in sorted({i.can_do for i in items if i.can_do}):
        row = await repository.by_code(session, CanDoStatement, code)
        if row is not None:
            can_do.append(CanDoIn.model_validate(row, from_attributes=True).model_dump())
    for code in sorted({c for i in items for c in i.review_lessons}):
        row = await repository.by_code(session, ReviewLesson, code)
        if row is not None:
            lessons.append(ReviewLessonIn.model_validate(row, from_attributes=True).model_dump())
    flow["can_do"], flow["review_lessons"] = can_do, lessons


async def bundle_of_items(
    session: AsyncSession,
    store: MediaStore,
    codes: list[str] | None = None,
    *,
    code: str = "etest-export",
    title: str = "eTest item export",
) -> Bundle:
    """The latest version of the items ``codes`` (every item when None) as a bank flow."""
    latest = {row.code: row for row in await repository.latest_items(session)}
    wanted = sorted(latest) if codes is None else list(dict.fromkeys(codes))
    missing = [c for c in wanted if c not in latest]
    if missing:
        raise NotFound(f"No such item: {', '.join(missing[:10])}.")
    media = _Media(store)
    items = [item_definition(latest[c], media) for c in wanted]
    flow: dict[str, Any] = {
        "format": FORMAT,
        "kind": "bank",
        "code": code,
        "version": 1,
        "title": title,
    }
    await _with_statements(session, flow, items)
    flow["items"] = items
    return Bundle(FlowFile.model_validate(flow), media.files)


def _engine_with_codes(engine: dict[str, Any], code_of: Mapping[str, str]) -> dict[str, Any]:
    """A stored engine (item ids) → the flow's (item codes); the inverse of
    :func:`etest.content.service.engine_with_ids`."""
    out: dict[str, Any] = json.loads(json.dumps(engine))

    def codes(ids: list[str]) -> list[str]:
        return [code_of[str(i)] for i in ids]

    if out.get("pilot"):
        out["pilot"]["items"] = codes(out["pilot"]["items"])
    for group in out.get("groups", []):
        group["items"] = codes(group["items"])
    if out.get("type") == "irt" and out.get("pool") is not None:
        out["pool"] = codes(out["pool"])
    for section in out.get("sections", []):
        section["pool"] = codes(section["pool"])
    return out


def _ids_of(engine: dict[str, Any]) -> list[str]:
    ids = list((engine.get("pilot") or {}).get("items", []))
    ids += [i for g in engine.get("groups", []) for i in g["items"]]
    ids += list(engine.get("pool") or []) if engine.get("type") == "irt" else []
    ids += [i for s in engine.get("sections", []) for i in s["pool"]]
    return list(dict.fromkeys(str(i) for i in ids))


async def bundle_of_assessment(
    session: AsyncSession, store: MediaStore, code: str, version: int | None = None
) -> Bundle:
    """An assessment's version (the latest by default) as its flow, with the item versions it
    pinned. An ``irt`` engine's ``pool_levels`` stays, beside the pool it was resolved to."""
    assessment: Assessment | None = await repository.assessment_by_code(session, code)
    if assessment is None:
        raise NotFound(f"No such assessment: {code}.")
    versions: list[AssessmentVersion] = list(
        await repository.versions_of_assessment(session, assessment.id)
    )
    chosen = next((v for v in versions if version is None or v.version == version), None)
    if chosen is None:
        raise NotFound(f"No version {version} of assessment {code}.")
    ids = _ids_of(chosen.engine)
    rows = await repository.items_by_ids(session, [uuid.UUID(i) for i in ids])
    media = _Media(store)
    items = [item_definition(rows[uuid.UUID(i)], media) for i in ids]
    flow: dict[str, Any] = {
        "format": FORMAT,
        "kind": assessment.kind,
        "code": assessment.code,
        "version": chosen.version,
        "title": chosen.title,
        "plan": assessment.plan_code,
        "level": assessment.level,
        "engine": _engine_with_codes(chosen.engine, {i: rows[uuid.UUID(i)].code for i in ids}),
    }
    await _with_statements(session, flow, items)
    flow["items"] = items
    return Bundle(FlowFile.model_validate(flow), media.files)


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    items: int
    media: int
    bytes: int
    qti: str


async def export_package(
    session: AsyncSession,
    store: MediaStore,
    *,
    assessment: str | None = None,
    items: list[str] | None = None,
    qti: QtiVersion = "3.0",
) -> tuple[Bundle, bytes]:
    """The package of an assessment, or of items (all when ``items`` is None)."""
    bundle = (
        await bundle_of_assessment(session, store, assessment)
        if assessment
        else await bundle_of_items(session, store, items)
    )
    return bundle, write_package(bundle, qti)


def export_to_file(
    settings: Settings,
    *,
    out: Path,
    assessment: str | None = None,
    items: list[str] | None = None,
    qti: QtiVersion = "3.0",
) -> ExportSummary:
    """``etest content export``: read in one transaction, then write ``out`` (atomically)."""
    from etest.db import create_engine, create_read_sessionmaker, transaction

    async def main() -> tuple[Bundle, bytes]:
        engine = create_engine(settings)
        try:
            async with transaction(create_read_sessionmaker(engine)) as session:
                return await export_package(
                    session,
                    MediaStore(settings.media_path),
                    assessment=assessment,
                    items=items,
                    qti=qti,
                )
        finally:
            await engine.dispose()

    bundle, data = asyncio.run(main())
    return save_package(out, bundle, data, qti)


def save_package(out: Path, bundle: Bundle, data: bytes, qti: str) -> ExportSummary:
    """Write a package atomically (never a half-written zip under ``out``'s name)."""
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    log.info("content.export", out=str(out), items=len(bundle.flow.items), qti=qti)
    return ExportSummary(out, len(bundle.flow.items), len(bundle.media), len(data), qti)
