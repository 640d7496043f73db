"""QTI for the item types language tests are made of (issue 17): text entries and inline choices
in running text become a ``cloze``, a ``gapMatchInteraction`` a ``gap_match``, a
``hottextInteraction`` a ``hottext``, each with ``[[id]]`` markers in its body; what these types
cannot hold is refused with its reason; eTest's export of each type reads back as the same item
(from its metadata, and from its QTI alone); ``partial`` reaches the import API and the console.

All fixtures are original (tests/support/qti.py builders); none comes from the public corpus.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.attempt import scoring
from etest.content.qti import QtiImport, read_qti
from etest.content.qti_export import Bundle, read_export, write_package
from etest.content.schemas import (
    ClozeKey,
    FlowFile,
    InlineChoiceKey,
    ItemIn,
    MatchKey,
    TextEntryKey,
)
from etest.db import transaction
from etest.models import Item
from tests.certificate.conftest import drain_outbox
from tests.conftest import Headers, unique
from tests.console.conftest import ConsoleClient, make_staff
from tests.console.conftest import console as console
from tests.support.qti import MP3, NS21, PNG, ab, item3, item22, package


def only(result: QtiImport) -> ItemIn:
    assert [r.reason for r in result.reports if r.status == "skipped"] == []
    assert len(result.items) == 1
    return result.items[0]


def reason(result: QtiImport) -> str:
    assert result.items == []
    (report,) = result.reports
    assert report.reason is not None
    return report.reason


def points(item: ItemIn, answer: Any) -> int:
    dumped = item.model_dump(mode="json")
    return scoring.score(
        item.type,
        dumped["key"],
        [o.id for o in item.options],
        [],
        answer,
        option_rows=dumped["options"],
        gaps=dumped["gaps"],
    ).points


# --- cloze ---------------------------------------------------------------------------------------

CLOZE_22 = """
<responseDeclaration identifier="WHO" cardinality="single" baseType="string">
  <correctResponse><value> cat </value></correctResponse>
  <mapping defaultValue="0"><mapEntry mapKey="kitten" mappedValue="1"/></mapping>
</responseDeclaration>
<responseDeclaration identifier="HOW_MANY" cardinality="single" baseType="float">
  <correctResponse><value>2.5</value></correctResponse>
</responseDeclaration>
<responseDeclaration identifier="WHERE" cardinality="single" baseType="identifier">
  <correctResponse><value>mat</value></correctResponse>
</responseDeclaration>
<itemBody>
  <p>Fill in the gaps.</p>
  <p>The <textEntryInteraction responseIdentifier="WHO" expectedLength="6"/> ate
  <textEntryInteraction responseIdentifier="HOW_MANY"/> fish on the
  <inlineChoiceInteraction responseIdentifier="WHERE" shuffle="true">
    <inlineChoice identifier="none"></inlineChoice>
    <inlineChoice identifier="mat">mat</inlineChoice>
    <inlineChoice identifier="hat"><em>hat</em></inlineChoice>
  </inlineChoiceInteraction>.</p>
  <feedbackBlock outcomeIdentifier="FB" identifier="x" showHide="show">Well done</feedbackBlock>
</itemBody>
<responseProcessing>
  <responseCondition><responseIf>
    <equal toleranceMode="absolute" tolerance="0.5"><variable identifier="HOW_MANY"/>
    <correct identifier="HOW_MANY"/></equal>
    <setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue></setOutcomeValue>
  </responseIf></responseCondition>
</responseProcessing>
"""


def test_text_entries_and_inline_choices_in_running_text_are_a_cloze() -> None:
    item = only(read_qti(item22(CLOZE_22, title="The cat"), name="c.xml"))
    assert item.type == "cloze" and item.prompt == "The cat"
    assert item.body == (
        "<p>Fill in the gaps.</p>\n<p>The [[WHO]] ate\n[[HOW_MANY]] fish on the\n[[WHERE]].</p>"
    )
    assert [g.id for g in item.gaps] == ["WHO", "HOW_MANY", "WHERE"]
    assert item.gaps[0].expected_length == 6 and item.gaps[1].expected_length is None
    # the empty choice is the drop-down's "nothing chosen": left out
    assert [(c.id, c.text) for c in item.gaps[2].choices] == [
        ("mat", "mat"),
        ("hat", "<em>hat</em>"),
    ]
    assert isinstance(item.key, ClozeKey)
    who, how_many, where = (item.key.gaps[g] for g in ("WHO", "HOW_MANY", "WHERE"))
    assert isinstance(who, TextEntryKey) and who.accepted == ["cat", "kitten"]
    assert isinstance(how_many, TextEntryKey) and how_many.number is not None
    assert (how_many.number.tolerance_mode, how_many.number.tolerance) == ("absolute", [0.5])
    assert where == InlineChoiceKey(correct="mat")
    assert item.shuffle_options is True
    # scored a point a gap, as QTI's response processing would
    assert points(item, {"WHO": "Kitten", "HOW_MANY": "2,9", "WHERE": "mat"}) == 3
    assert points(item, {"WHO": "dog", "HOW_MANY": "3.1", "WHERE": "hat"}) == 0
    assert points(item, {"WHO": "cat"}) == 1


def test_qti3_cloze_reads_the_same() -> None:
    qti3 = (
        CLOZE_22.replace("responseDeclaration", "qti-response-declaration")
        .replace("correctResponse", "qti-correct-response")
        .replace("<value>", "<qti-value>")
        .replace("</value>", "</qti-value>")
        .replace("mapping", "qti-mapping")
        .replace("mapEntry", "qti-map-entry")
        .replace("itemBody", "qti-item-body")
        .replace("textEntryInteraction", "qti-text-entry-interaction")
        .replace("inlineChoiceInteraction", "qti-inline-choice-interaction")
        .replace("inlineChoice ", "qti-inline-choice ")
        .replace("</inlineChoice>", "</qti-inline-choice>")
        .replace("feedbackBlock", "qti-feedback-block")
        .replace("responseProcessing", "qti-response-processing")
        .replace("responseCondition", "qti-response-condition")
        .replace("responseIf", "qti-response-if")
        .replace("<equal", "<qti-equal")
        .replace("</equal>", "</qti-equal>")
        .replace("<variable", "<qti-variable")
        .replace("<correct ", "<qti-correct ")
        .replace("setOutcomeValue", "qti-set-outcome-value")
        .replace("baseValue", "qti-base-value")
        .replace("responseIdentifier", "response-identifier")
        .replace("expectedLength", "expected-length")
        .replace("baseType", "base-type")
        .replace("mapKey", "map-key")
        .replace("mappedValue", "mapped-value")
        .replace("defaultValue", "default-value")
        .replace("toleranceMode", "tolerance-mode")
        .replace("outcomeIdentifier", "outcome-identifier")
        .replace("showHide", "show-hide")
    )
    three = only(read_qti(item3(qti3, title="The cat"), name="c.xml"))
    two = only(read_qti(item22(CLOZE_22, title="The cat"), name="c.xml"))
    assert three.model_dump(exclude={"source"}) == two.model_dump(exclude={"source"})


def test_a_lone_inline_choice_is_a_cloze_and_a_lone_text_entry_stays_a_text_entry() -> None:
    inline = """<responseDeclaration identifier="R" cardinality="single" baseType="identifier">
    <correctResponse><value>b</value></correctResponse></responseDeclaration>
    <itemBody><p>I <inlineChoiceInteraction responseIdentifier="R" shuffle="false">
    <inlineChoice identifier="a">is</inlineChoice><inlineChoice identifier="b">am</inlineChoice>
    </inlineChoiceInteraction> here.</p></itemBody>"""
    item = only(read_qti(item22(inline), name="i.xml"))
    assert (item.type, item.body, item.shuffle_options) == ("cloze", "<p>I [[R]] here.</p>", False)
    assert points(item, {"R": "b"}) == 1
    text = """<responseDeclaration identifier="R" cardinality="single" baseType="string">
    <correctResponse><value>am</value></correctResponse></responseDeclaration>
    <itemBody><p>I <textEntryInteraction responseIdentifier="R"/> here.</p></itemBody>"""
    lone = only(read_qti(item22(text), name="t.xml"))
    assert lone.type == "text_entry" and lone.body is None  # as it always was


def test_a_listening_cloze_keeps_its_audio_as_the_stimulus() -> None:
    inner = """
    <responseDeclaration identifier="A" cardinality="single" baseType="string">
    <correctResponse><value>Tuesday</value></correctResponse></responseDeclaration>
    <responseDeclaration identifier="B" cardinality="single" baseType="integer">
    <correctResponse><value>7</value></correctResponse></responseDeclaration>
    <itemBody><mediaInteraction responseIdentifier="M" autostart="false" maxPlays="2">
    <object type="audio/mpeg" data="a.mp3">the message</object></mediaInteraction>
    <p>Come on <textEntryInteraction responseIdentifier="A"/> at
    <textEntryInteraction responseIdentifier="B"/>.</p></itemBody>"""
    result = read_qti(package({"i.xml": item22(inner)}, {"a.mp3": MP3}), name="p.zip")
    item = only(result)
    assert item.type == "cloze" and item.body == "<p>Come on [[A]] at\n[[B]].</p>"
    assert item.stimulus is not None and item.stimulus.audio is not None
    assert result.media[item.stimulus.audio.src] == MP3
    assert points(item, {"A": "tuesday", "B": "7"}) == 2 and points(item, {"B": "7.5"}) == 0


@pytest.mark.parametrize(
    ("inner", "why"),
    [
        (  # a composite the new types cannot hold
            """<responseDeclaration identifier="A" cardinality="single" baseType="string">
            <correctResponse><value>x</value></correctResponse></responseDeclaration>
            <responseDeclaration identifier="R" cardinality="single" baseType="identifier">
            <correctResponse><value>A</value></correctResponse></responseDeclaration>
            <itemBody><p><textEntryInteraction responseIdentifier="A"/></p>
            <hottextInteraction responseIdentifier="R" maxChoices="1"><p>
            <hottext identifier="A">a</hottext> <hottext identifier="B">b</hottext></p>
            </hottextInteraction></itemBody>""",
            "several interactions: hottextInteraction, textEntryInteraction (only text entries "
            "and inline choices combine, as the gaps of a cloze)",
        ),
        (
            """<responseDeclaration identifier="A" cardinality="single" baseType="string">
            <correctResponse><value>x</value></correctResponse></responseDeclaration>
            <itemBody><p><textEntryInteraction responseIdentifier="A"/> and
            <textEntryInteraction responseIdentifier="A"/></p></itemBody>""",
            "unsupported response: two interactions answer A",
        ),
        (
            """<responseDeclaration identifier="A" cardinality="multiple" baseType="identifier">
            <correctResponse><value>a</value><value>b</value></correctResponse>
            </responseDeclaration>
            <itemBody><p><inlineChoiceInteraction responseIdentifier="A">
            <inlineChoice identifier="a">x</inlineChoice>
            <inlineChoice identifier="b">y</inlineChoice>
            </inlineChoiceInteraction></p></itemBody>""",
            "invalid key: the inline choice A has 2 correct responses",
        ),
        (
            """<responseDeclaration identifier="A" cardinality="single" baseType="identifier">
            <correctResponse><value>a</value></correctResponse></responseDeclaration>
            <itemBody><p><inlineChoiceInteraction responseIdentifier="A">
            <inlineChoice identifier="a"></inlineChoice>
            <inlineChoice identifier="b">y</inlineChoice>
            </inlineChoiceInteraction></p></itemBody>""",
            "invalid item: ",  # the right choice is empty
        ),
        (
            """<responseDeclaration identifier="A" cardinality="single" baseType="string"/>
            <responseDeclaration identifier="B" cardinality="single" baseType="string">
            <correctResponse><value>y</value></correctResponse></responseDeclaration>
            <itemBody><p><textEntryInteraction responseIdentifier="A"/> and
            <textEntryInteraction responseIdentifier="B"/></p></itemBody>""",
            "no correct response",
        ),
        (
            """<responseDeclaration identifier="A" cardinality="single" baseType="string">
            <correctResponse><value>x</value></correctResponse></responseDeclaration>
            <itemBody><p>Write [[here]]: <inlineChoiceInteraction responseIdentifier="A">
            <inlineChoice identifier="x">x</inlineChoice>
            <inlineChoice identifier="y">y</inlineChoice>
            </inlineChoiceInteraction></p></itemBody>""",
            "unsupported markup: the text has [[here]], which eTest would read as a gap marker",
        ),
    ],
)
def test_what_a_cloze_cannot_hold_is_refused_with_its_reason(inner: str, why: str) -> None:
    assert reason(read_qti(item22(inner), name="x.xml")).startswith(why)


def test_more_gaps_or_pieces_than_an_item_holds_are_refused_before_reading_them() -> None:
    declare = '<responseDeclaration identifier="R{n}" cardinality="single" baseType="string">'
    declare += "<correctResponse><value>x</value></correctResponse></responseDeclaration>"
    gaps = "".join(f'<textEntryInteraction responseIdentifier="R{n}"/> ' for n in range(41))
    inner = "".join(declare.format(n=n) for n in range(41)) + f"<itemBody><p>{gaps}</p></itemBody>"
    why = reason(read_qti(item22(inner), name="x.xml"))
    assert why == "unsupported response: 41 gaps (eTest keeps up to 40 in one item)"
    pieces = "".join(f'<hottext identifier="h{n}">w</hottext> ' for n in range(21))
    hot = HOTTEXT.replace("{max}", "0").replace('<hottext identifier="a">She</hottext>', pieces)
    why = reason(read_qti(item22(hot), name="x.xml"))
    assert why == "unsupported response: 24 choosable texts (eTest keeps up to 20 in one item)"


# --- gap match -----------------------------------------------------------------------------------

GAP_MATCH = """
<responseDeclaration identifier="R" cardinality="multiple" baseType="directedPair">
  <correctResponse><value>to G1</value><value>G2 to</value><value>pic G3</value></correctResponse>
</responseDeclaration>
<itemBody>
  <p>Read the note.</p>
  <gapMatchInteraction responseIdentifier="R" shuffle="true">
    <prompt>Put the words in the gaps.</prompt>
    <gapText identifier="to" matchMax="0">to</gapText>
    <gapText identifier="at" matchMax="2">at</gapText>
    <gapImg identifier="pic" matchMax="1">
      <object data="bus.png" type="image/png">a bus</object></gapImg>
    <p>I go <gap identifier="G1"/> school and <gap identifier="G2"/> the park by
    <gap identifier="G3"/>.</p>
  </gapMatchInteraction>
</itemBody>
<responseProcessing template="http://www.imsglobal.org/question/qti_v2p2/rptemplates/map_response"/>
"""


def test_gap_match_words_gaps_and_pairs() -> None:
    result = read_qti(package({"g.xml": item22(GAP_MATCH)}, {"bus.png": PNG}), name="p.zip")
    item = only(result)
    assert item.type == "gap_match" and item.prompt == "Put the words in the gaps."
    assert item.stimulus is not None and item.stimulus.text == "<p>Read the note.</p>"
    assert item.body == "<p>I go [[G1]] school and [[G2]] the park by\n[[G3]].</p>"
    assert [(o.id, o.text, o.max_uses) for o in item.options] == [
        ("to", "to", 0),  # any number of gaps
        ("at", "at", 2),
        ("pic", None, 1),
    ]
    assert item.options[2].image is not None and result.media[item.options[2].image.src] == PNG
    assert [g.id for g in item.gaps] == ["G1", "G2", "G3"]
    # the pair written gap-first is oriented
    assert item.key == MatchKey(pairs=[("to", "G1"), ("to", "G2"), ("pic", "G3")])
    assert item.shuffle_options is True
    assert points(item, {"G1": "to", "G2": "to", "G3": "at"}) == 2


def test_gap_match_refusals() -> None:
    partial_key = GAP_MATCH.replace("<value>pic G3</value>", "")
    why = reason(read_qti(package({"g.xml": item22(partial_key)}, {"bus.png": PNG}), name="p.zip"))
    assert why == "invalid item: a gap_match key fills every gap"
    unknown = GAP_MATCH.replace("pic G3", "pic G9")
    why = reason(read_qti(package({"g.xml": item22(unknown)}, {"bus.png": PNG}), name="p.zip"))
    assert why == "correct response names an unknown gap: G9"
    # a word that may fill more gaps than there are fills any number of them
    many = GAP_MATCH.replace('matchMax="2"', 'matchMax="25"')
    item = only(read_qti(package({"g.xml": item22(many)}, {"bus.png": PNG}), name="p.zip"))
    assert item.options[1].max_uses == 0
    # but 21 of 22 gaps is a limit eTest cannot hold (max_uses goes up to 20)
    gaps = "".join(f'<gap identifier="G{n}"/>' for n in range(4, 23))
    more = many.replace('matchMax="25"', 'matchMax="21"').replace("</p>\n  </gap", "</p>\n  </gap")
    more = more.replace('<gap identifier="G3"/>.', f'<gap identifier="G3"/>. {gaps}')
    why = reason(read_qti(package({"g.xml": item22(more)}, {"bus.png": PNG}), name="p.zip"))
    assert why == "unsupported response: matchMax 21 (eTest allows up to 20)"


# --- hottext -------------------------------------------------------------------------------------

HOTTEXT = """
<responseDeclaration identifier="R" cardinality="multiple" baseType="identifier">
  <correctResponse><value>b</value><value>d</value></correctResponse>
</responseDeclaration>
<itemBody>
  <rubricBlock view="candidate"><p>Find the two mistakes.</p></rubricBlock>
  <hottextInteraction responseIdentifier="R" maxChoices="{max}">
    <p><hottext identifier="a">She</hottext> <hottext identifier="b">go</hottext> to work and
    <hottext identifier="c">he</hottext> <hottext identifier="d"><strong>stay</strong></hottext>
    home.</p>
  </hottextInteraction>
</itemBody>
"""


def test_hottext_pieces_become_options_in_place() -> None:
    item = only(read_qti(item22(HOTTEXT.replace("{max}", "0"), title="Mistakes"), name="h.xml"))
    assert item.type == "hottext" and item.prompt == "Mistakes"
    assert item.stimulus is not None and item.stimulus.text == "<p>Find the two mistakes.</p>"
    assert item.body == "<p>[[a]] [[b]] to work and\n[[c]] [[d]]\nhome.</p>"
    assert [(o.id, o.text) for o in item.options] == [
        ("a", "She"),
        ("b", "go"),
        ("c", "he"),
        ("d", "<strong>stay</strong>"),
    ]
    assert item.key.model_dump() == {"correct": ["b", "d"]} and item.shuffle_options is False
    assert points(item, ["d", "b"]) == 1 and points(item, ["b"]) == 0
    two = only(read_qti(item22(HOTTEXT.replace("{max}", "2")), name="h.xml"))
    assert two.key.model_dump() == {"correct": ["b", "d"]}
    one = reason(read_qti(item22(HOTTEXT.replace("{max}", "1")), name="h.xml"))
    assert one == "invalid key: 2 correct choices, but maxChoices is 1"


def test_qti21_hottext_with_one_answer() -> None:
    inner = (
        HOTTEXT.replace("{max}", "1")
        .replace('cardinality="multiple"', 'cardinality="single"')
        .replace("<value>d</value>", "")
    )
    item = only(read_qti(item22(inner, ns=NS21), name="h.xml"))
    assert item.key.model_dump() == {"correct": ["b"]}
    assert points(item, "b") == 1 and points(item, "a") == 0


# --- export and back -----------------------------------------------------------------------------

ITEMS: list[dict[str, Any]] = [
    {
        "code": "x-cloze",
        "type": "cloze",
        "skill": "listening",
        "level": "A2",
        "prompt": "Listen and fill in the gaps.",
        "stimulus": {"audio": {"src": "media/a.mp3"}, "transcript": "It costs 4.50 at nine."},
        "body": "<p>It costs [[SCORE]] pounds; the shop opens at [[9]].</p><p>[[w]]</p>",
        "gaps": [
            {"id": "SCORE", "expected_length": 6},
            {
                "id": "9",
                "choices": [{"id": "1", "text": "nine"}, {"id": "2", "text": "<em>ten</em>"}],
            },
            {"id": "w"},
        ],
        "key": {
            "gaps": {
                "SCORE": {
                    "accepted": ["4.50"],
                    "number": {
                        "value": 4.5,
                        "tolerance_mode": "absolute",
                        "tolerance": [0.01],
                    },
                },
                "9": {"correct": "1"},
                "w": {"accepted": ["Yes", "yeah"], "normalize": "exact"},
            }
        },
        "irt": {"model": "GPCM", "a": 1.1, "steps": [-1.0, 0.0, 1.0]},
        "shuffle_options": False,
    },
    {
        "code": "x-gaps",
        "type": "gap_match",
        "skill": "grammar",
        "level": "B1",
        "prompt": "Put the words in the gaps.",
        "body": "I went [[g1]] Paris [[g2]] train, [[g3]] my [[a]].",
        "options": [
            {"id": "a", "text": "to"},
            {"id": "by", "text": "by", "max_uses": 0},
            {"id": "pic", "image": {"src": "media/p.png", "alt": "a dog"}, "max_uses": 2},
        ],
        "gaps": [{"id": "g1"}, {"id": "g2"}, {"id": "g3"}, {"id": "a"}],
        "key": {"pairs": [["a", "g1"], ["by", "g2"], ["by", "g3"], ["pic", "a"]]},
        "irt": {"model": "GPCM", "a": 0.9, "steps": [-1.5, -0.5, 0.5, 1.5]},
    },
    {
        "code": "x-hot",
        "type": "hottext",
        "skill": "reading",
        "level": "B2",
        "prompt": "Click the <strong>two</strong> sentences that answer.",
        "stimulus": {"text": "<p>Why did Ana move?</p>"},
        "body": "<p>[[s1]] [[s2]]</p><ul><li>[[s3]]</li></ul>",
        "options": [
            {"id": "s1", "text": "Ana lived in Porto."},
            {"id": "s2", "text": "Rent went up."},
            {"id": "s3", "text": "Her job <em>moved</em> to Lisbon."},
        ],
        "key": {"correct": ["s2", "s3"]},
        "irt": {"model": "3PL", "a": 1.2, "b": 0.3, "c": 0.2},
    },
    {
        "code": "x-hot-one",
        "type": "hottext",
        "skill": "reading",
        "level": "A1",
        "prompt": "Which word is wrong?",
        "body": "[[w1]] [[w2]] [[w3]]",
        "options": [
            {"id": "w1", "text": "I"},
            {"id": "w2", "text": "has"},
            {"id": "w3", "text": "time"},
        ],
        "key": {"correct": ["w2"]},
    },
]
MEDIA = {"media/a.mp3": MP3, "media/p.png": PNG}


def bundle() -> Bundle:
    flow = FlowFile.model_validate(
        {
            "format": "etest-flow/1",
            "kind": "bank",
            "code": "gaps",
            "version": 1,
            "title": "gap items",
            "items": ITEMS,
        }
    )
    return Bundle(flow, dict(MEDIA))


@pytest.mark.parametrize("qti", ["3.0", "2.2"])
def test_export_reads_back_as_the_same_items(qti: str) -> None:
    """import(export(x)) == x: every field, so the stored form and its content hash too."""
    original = bundle()
    data = write_package(original, qti)  # type: ignore[arg-type]
    back = read_export(data)
    assert back is not None and [r.reason for r in back.reports] == [None] * len(ITEMS)
    assert back.flow.items == original.flow.items
    assert back.media == original.media


@pytest.mark.parametrize("qti", ["3.0", "2.2"])
def test_the_qti_alone_scores_as_etest_does(qti: str) -> None:
    """Another tool's view: the ordinary reader gets each item's type, gaps and key from the QTI
    without eTest's metadata, and the same answers score the same points."""
    result = read_qti(write_package(bundle(), qti), name="gaps.zip")  # type: ignore[arg-type]
    assert [r.reason for r in result.reports if r.status == "skipped"] == []
    got = {i.code.split(":", 1)[1]: i for i in result.items}
    cloze, gaps, hot, hot_one = (got[c] for c in ("x-cloze", "x-gaps", "x-hot", "x-hot-one"))
    # QTI identifiers are NCNames and SCORE is an outcome's name: those gaps were renamed
    assert [g.id for g in cloze.gaps] == ["SCORE-2", "id-9", "w"]
    assert "[[SCORE-2]]" in (cloze.body or "") and "Listen and fill in the gaps." in (
        cloze.body or ""
    )
    assert cloze.stimulus is not None and cloze.stimulus.audio is not None
    assert cloze.gaps[0].expected_length == 6
    assert points(cloze, {"SCORE-2": "4,51", "id-9": "id-1", "w": "Yes"}) == 3
    assert points(cloze, {"SCORE-2": "4.6", "id-9": "id-2", "w": "yes"}) == 0
    # a gap named like a word keeps its own identifier apart from the word's
    assert [g.id for g in gaps.gaps] == ["g1", "g2", "g3", "a-2"]
    assert [(o.id, o.max_uses, o.image is not None) for o in gaps.options] == [
        ("a", 1, False),
        ("by", 0, False),
        ("pic", 2, True),
    ]
    answer = [["a", "g1"], ["by", "g2"], ["by", "g3"], ["pic", "a-2"]]
    assert points(gaps, answer) == 4
    assert hot.key.model_dump() == {"correct": ["s2", "s3"]}
    assert re.sub(r">\s+<", "><", hot.body or "") == "<p>[[s1]] [[s2]]</p><ul><li>[[s3]]</li></ul>"
    assert hot_one.key.model_dump() == {"correct": ["w2"]}
    assert points(hot_one, "w2") == 1


def test_a_recordings_alternative_travels_beside_it() -> None:
    """An MP3 stored beside an item's Ogg recording (for browsers without Opus) is named by no
    item, yet it is written next to it, read back with it and part of the item's digest."""
    original = bundle()
    ogg = b"OggS" + b"\x00" * 60
    cloze = original.flow.items[0].model_copy(deep=True)
    assert cloze.stimulus is not None and cloze.stimulus.audio is not None
    cloze.stimulus.audio.src = "media/rec.opus"
    flow = original.flow.model_copy(update={"items": [cloze]})
    media = {"media/rec.opus": ogg, "media/rec.mp3": MP3, "media/other.mp3": MP3}
    data = write_package(Bundle(flow, media), "3.0")
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "media/rec.mp3" in names and "media/other.mp3" not in names
    back = read_export(data)
    assert back is not None and back.media == {"media/rec.opus": ogg, "media/rec.mp3": MP3}
    assert back.reports[0].reason is None  # unchanged: from its definition
    swapped = read_export(_rewrite(data, "media/rec.mp3", lambda _: MP3 + b"\x00"))
    assert swapped is not None and swapped.reports[0].reason is not None  # a changed file


def _rewrite(data: bytes, prefix: str, change: Callable[[bytes], bytes]) -> bytes:
    """The package with the entries under ``prefix`` changed, as another tool would."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            body = src.read(info)
            zf.writestr(info, change(body) if info.filename.startswith(prefix) else body)
    return out.getvalue()


def test_a_gap_item_changed_elsewhere_is_read_from_its_qti() -> None:
    data = write_package(bundle(), "3.0")
    edited = _rewrite(data, "items/x-gaps", lambda xml: xml.replace(b"I went", b"We went"))
    back = read_export(edited)
    assert back is not None
    got = {i.code: i for i in back.flow.items}
    changed = got["x-gaps"]
    assert (changed.type, changed.status, changed.irt) == ("gap_match", "draft", None)
    assert (changed.body or "").startswith("<div>We went [[g1]] Paris [[g2]] train")
    assert [(o.id, o.max_uses) for o in changed.options] == [("a", 1), ("by", 0), ("pic", 2)]
    assert got["x-cloze"] == bundle().flow.items[0]  # the others are their definitions


async def test_a_qti_cloze_imported_over_the_api_is_stored_with_its_gaps(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    name = unique("cloze").lower()
    resp = await client.post(
        "/api/v1/content/import",
        headers=su,
        files={"file": (f"{name}.xml", item22(CLOZE_22, title="The cat"), "application/xml")},
        data={"level": "A2", "skill": "grammar"},
    )
    assert resp.status_code == 200, resp.text
    async with transaction(app.state.sessionmaker) as session:
        row = await session.scalar(select(Item).where(Item.code == f"{name}:q1"))
        assert row is not None
        assert (row.type, row.level, row.skill, row.status) == ("cloze", "A2", "grammar", "draft")
        assert row.body == only(read_qti(item22(CLOZE_22), name="c.xml")).body
        assert [g["id"] for g in row.gaps or []] == ["WHO", "HOW_MANY", "WHERE"]
        assert row.gaps and row.gaps[0]["expected_length"] == 6
        scored = scoring.score(
            row.type,
            row.key,
            [],
            [],
            {"WHO": "cat", "HOW_MANY": "2.4", "WHERE": "hat"},
            option_rows=row.options,
            gaps=row.gaps,
        )
        assert (scored.points, scored.max_points) == (2, 3)


# --- partial over the API and in the console -----------------------------------------------------


def broken_package(tag: str) -> bytes:
    return package(
        {f"{tag}.xml": item22(ab(), ident=tag), "items/bad.xml": b"<assessmentItem><itemBody>"}
    )


async def test_partial_over_the_api(client: httpx.AsyncClient, su: Headers) -> None:
    tag = unique("part").lower()
    data = broken_package(tag)
    files = {"file": (f"{tag}.zip", data, "application/zip")}
    refused = await client.post("/api/v1/content/import", headers=su, files=files)
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["errors"]
    assert problem["message"].startswith("items/bad.xml: not well-formed XML")
    assert "import with partial to skip it" in problem["message"]
    done = await client.post(
        "/api/v1/content/import", headers=su, files=files, data={"partial": "true"}
    )
    assert done.status_code == 200, done.text
    qti = done.json()["qti"]
    assert sorted((r["file"], r["status"]) for r in qti) == [
        (f"{tag}.zip/items/bad.xml", "skipped"),
        (f"{tag}.zip/{tag}.xml", "imported"),
    ]
    listed = (await client.get("/api/v1/items", headers=su, params={"q": tag})).json()
    assert len(listed["items"]) == 1


async def test_partial_in_the_console(app: FastAPI, console: ConsoleClient) -> None:
    tag = unique("cpart").lower()
    await console.sign_in(await make_staff(app, "content_manager", None))
    page = await console.get("/console/content")
    assert 'name="partial"' in page.text
    started = await console.http.post(
        "/console/content",
        data={"csrf": console.csrf, "partial": "1"},
        files={"file": (f"{tag}.zip", broken_package(tag), "application/zip")},
    )
    assert started.status_code == 200
    await drain_outbox(app)
    task = str(started.url).rsplit("/", 1)[1]
    report = await console.get(f"/console/content/tasks/{task}")
    assert "<h2>Imported</h2>" in report.text, report.text
    assert "items/bad.xml" in report.text and "not well-formed XML" in report.text
