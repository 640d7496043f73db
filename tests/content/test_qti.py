"""The QTI reader: hand-written items for every supported interaction in QTI 2.2 and 3.0, the
public sample corpus (read at run time from ``shared/qti-samples`` beside the clone; its files
are never copied here), and hostile inputs built in the tests.

``python tests/content/test_qti.py`` prints the per-source import table of ``docs/qti.md``.
"""

from __future__ import annotations

import io
import json
import re
import stat
import struct
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from etest.content.qti import QtiImport, QtiLimits, QtiPackageError, read_qti
from etest.content.schemas import ChoiceKey, ItemIn, MatchKey, OrderKey, TextEntryKey
from etest.errors import BadRequest
from tests.support.qti import (
    MP3,
    NS3,
    NS21,
    NS22,
    PNG,
    SAMPLES,
    ab,
    item3,
    item22,
    manifest,
    package,
    require_samples,
    zipped,
)


def only(result: QtiImport):  # type: ignore[no-untyped-def]
    assert [r.reason for r in result.reports if r.status == "skipped"] == []
    assert len(result.items) == 1
    return result.items[0]


def skipped_reason(result: QtiImport) -> str:
    assert result.items == []
    assert len(result.reports) == 1
    assert result.reports[0].status == "skipped"
    reason = result.reports[0].reason
    assert reason
    return reason


# --- each supported interaction, QTI 2.2 and QTI 3.0, written for these tests --------------------

CHOICE_22 = item22(
    """
<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
  <correctResponse><value>went</value></correctResponse></responseDeclaration>
<itemBody><p>Yesterday Maria ____ to the market.</p>
  <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">
    <prompt>Choose the word that completes the sentence.</prompt>
    <simpleChoice identifier="go">go</simpleChoice>
    <simpleChoice identifier="went">went<feedbackInline outcomeIdentifier="FB"
      identifier="went" showHide="show">Well done</feedbackInline></simpleChoice>
    <simpleChoice identifier="gone">gone</simpleChoice>
  </choiceInteraction>
  <feedbackBlock outcomeIdentifier="FB" identifier="went" showHide="show">Past simple.
  </feedbackBlock>
</itemBody>""",
    ident="past-1",
    title="Past simple",
)

CHOICE_3 = item3(
    """
<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
  <qti-correct-response><qti-value>went</qti-value></qti-correct-response>
</qti-response-declaration>
<qti-item-body><p>Yesterday Maria ____ to the market.</p>
  <qti-choice-interaction response-identifier="RESPONSE" shuffle="true" max-choices="1">
    <qti-prompt>Choose the word that completes the sentence.</qti-prompt>
    <qti-simple-choice identifier="go">go</qti-simple-choice>
    <qti-simple-choice identifier="went">went</qti-simple-choice>
    <qti-simple-choice identifier="gone">gone</qti-simple-choice>
  </qti-choice-interaction>
  <qti-feedback-block outcome-identifier="FB" identifier="went" show-hide="show">
    <qti-content-body>Past simple.</qti-content-body></qti-feedback-block>
</qti-item-body>""",
    ident="past-1",
    title="Past simple",
)

MULTI_22 = item22(
    """
<responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="identifier">
  <correctResponse><value>apple</value><value>pear</value></correctResponse></responseDeclaration>
<itemBody><choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="0">
  <prompt>Which of these are fruit?</prompt>
  <simpleChoice identifier="apple">apple</simpleChoice>
  <simpleChoice identifier="chair">chair</simpleChoice>
  <simpleChoice identifier="pear">pear</simpleChoice>
  <simpleChoice identifier="spoon">spoon</simpleChoice>
</choiceInteraction></itemBody>""",
    ident="fruit",
)

MULTI_3 = item3(
    """
<qti-response-declaration identifier="RESPONSE" cardinality="multiple" base-type="identifier">
  <qti-correct-response><qti-value>apple</qti-value><qti-value>pear</qti-value>
  </qti-correct-response></qti-response-declaration>
<qti-item-body><qti-choice-interaction response-identifier="RESPONSE" shuffle="false"
    max-choices="0">
  <qti-prompt>Which of these are fruit?</qti-prompt>
  <qti-simple-choice identifier="apple">apple</qti-simple-choice>
  <qti-simple-choice identifier="chair">chair</qti-simple-choice>
  <qti-simple-choice identifier="pear">pear</qti-simple-choice>
  <qti-simple-choice identifier="spoon">spoon</qti-simple-choice>
</qti-choice-interaction></qti-item-body>""",
    ident="fruit",
)

TEXT_22 = item22(
    """
<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">
  <correctResponse><value>Paris</value></correctResponse>
  <mapping defaultValue="0">
    <mapEntry mapKey="Paris" mappedValue="1" caseSensitive="{case}"/>
    <mapEntry mapKey="Paree" mappedValue="0.5" caseSensitive="{case}"/>
    <mapEntry mapKey="London" mappedValue="0" caseSensitive="{case}"/>
  </mapping></responseDeclaration>
<itemBody><p>The capital of France is
  <textEntryInteraction responseIdentifier="RESPONSE" expectedLength="10"/>.</p></itemBody>
""",
    ident="capital",
    title="Capitals",
)

TEXT_3 = item3(
    """
<qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string">
  <qti-correct-response><qti-value>Paris</qti-value></qti-correct-response>
  <qti-mapping default-value="0">
    <qti-map-entry map-key="Paris" mapped-value="1" case-sensitive="{case}"/>
    <qti-map-entry map-key="Paree" mapped-value="0.5" case-sensitive="{case}"/>
    <qti-map-entry map-key="London" mapped-value="0" case-sensitive="{case}"/>
  </qti-mapping></qti-response-declaration>
<qti-item-body><p>The capital of France is
  <qti-text-entry-interaction response-identifier="RESPONSE" expected-length="10"/>.</p>
</qti-item-body>""",
    ident="capital",
    title="Capitals",
)

ORDER_22 = item22(
    """
<responseDeclaration identifier="RESPONSE" cardinality="ordered" baseType="identifier">
  <correctResponse><value>wake</value><value>dress</value><value>leave</value></correctResponse>
</responseDeclaration>
<itemBody><orderInteraction responseIdentifier="RESPONSE" shuffle="true">
  <prompt>Put the morning in order.</prompt>
  <simpleChoice identifier="leave">I leave the house.</simpleChoice>
  <simpleChoice identifier="wake">I wake up.</simpleChoice>
  <simpleChoice identifier="dress">I get dressed.</simpleChoice>
</orderInteraction></itemBody>""",
    ident="morning",
)

ORDER_3 = item3(
    """
<qti-response-declaration identifier="RESPONSE" cardinality="ordered" base-type="identifier">
  <qti-correct-response><qti-value>wake</qti-value><qti-value>dress</qti-value>
  <qti-value>leave</qti-value></qti-correct-response></qti-response-declaration>
<qti-item-body><qti-order-interaction response-identifier="RESPONSE" shuffle="true">
  <qti-prompt>Put the morning in order.</qti-prompt>
  <qti-simple-choice identifier="leave">I leave the house.</qti-simple-choice>
  <qti-simple-choice identifier="wake">I wake up.</qti-simple-choice>
  <qti-simple-choice identifier="dress">I get dressed.</qti-simple-choice>
</qti-order-interaction></qti-item-body>""",
    ident="morning",
)

MATCH_22 = item22(
    """
<responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="directedPair">
  <correctResponse><value>cat kitten</value><value>dog puppy</value><value>cow calf</value>
  </correctResponse></responseDeclaration>
<itemBody><matchInteraction responseIdentifier="RESPONSE" shuffle="false" maxAssociations="3">
  <prompt>Match each animal with its young.</prompt>
  <simpleMatchSet>
    <simpleAssociableChoice identifier="cat" matchMax="1">cat</simpleAssociableChoice>
    <simpleAssociableChoice identifier="dog" matchMax="1">dog</simpleAssociableChoice>
    <simpleAssociableChoice identifier="cow" matchMax="1">cow</simpleAssociableChoice>
  </simpleMatchSet>
  <simpleMatchSet>
    <simpleAssociableChoice identifier="calf" matchMax="1">calf</simpleAssociableChoice>
    <simpleAssociableChoice identifier="kitten" matchMax="1">kitten</simpleAssociableChoice>
    <simpleAssociableChoice identifier="puppy" matchMax="1">puppy</simpleAssociableChoice>
  </simpleMatchSet>
</matchInteraction></itemBody>""",
    ident="young",
)

MATCH_3 = item3(
    """
<qti-response-declaration identifier="RESPONSE" cardinality="multiple" base-type="directedPair">
  <qti-correct-response><qti-value>cat kitten</qti-value><qti-value>dog puppy</qti-value>
  <qti-value>cow calf</qti-value></qti-correct-response></qti-response-declaration>
<qti-item-body><qti-match-interaction response-identifier="RESPONSE" shuffle="false"
    max-associations="3">
  <qti-prompt>Match each animal with its young.</qti-prompt>
  <qti-simple-match-set>
    <qti-simple-associable-choice identifier="cat" match-max="1">cat</qti-simple-associable-choice>
    <qti-simple-associable-choice identifier="dog" match-max="1">dog</qti-simple-associable-choice>
    <qti-simple-associable-choice identifier="cow" match-max="1">cow</qti-simple-associable-choice>
  </qti-simple-match-set>
  <qti-simple-match-set>
    <qti-simple-associable-choice identifier="calf" match-max="1">calf
    </qti-simple-associable-choice>
    <qti-simple-associable-choice identifier="kitten" match-max="1">kitten
    </qti-simple-associable-choice>
    <qti-simple-associable-choice identifier="puppy" match-max="1">puppy
    </qti-simple-associable-choice>
  </qti-simple-match-set>
</qti-match-interaction></qti-item-body>""",
    ident="young",
)

VERSIONS = pytest.mark.parametrize("version", ["2.2", "3.0"])


def pick(version: str, v22: bytes, v3: bytes) -> bytes:
    return v22 if version == "2.2" else v3


@VERSIONS
def test_single_choice(version: str) -> None:
    item = only(
        read_qti(
            pick(version, CHOICE_22, CHOICE_3), name="grammar.xml", skill="grammar", level="a2"
        )
    )
    assert item.type == "single_choice"
    assert item.code == "grammar:past-1"
    assert item.status == "draft" and item.skill == "grammar" and item.level == "A2"
    assert item.prompt == "Choose the word that completes the sentence."
    assert [o.id for o in item.options] == ["go", "went", "gone"]
    assert [o.text for o in item.options] == ["go", "went", "gone"]  # inline feedback dropped
    assert item.key == ChoiceKey(correct=["went"])
    assert item.shuffle_options is True
    assert item.stimulus is not None
    assert item.stimulus.text == "<p>Yesterday Maria ____ to the market.</p>"  # no feedback
    assert item.source == "qti:grammar.xml#past-1"


@VERSIONS
def test_multiple_choice(version: str) -> None:
    item = only(read_qti(pick(version, MULTI_22, MULTI_3), name="v.xml", skill="vocabulary"))
    assert item.type == "multiple_choice"
    assert item.key == ChoiceKey(correct=["apple", "pear"])
    assert len(item.options) == 4
    assert item.shuffle_options is False
    assert item.stimulus is None  # the body holds nothing but the interaction


@VERSIONS
@pytest.mark.parametrize(
    ("case", "normalize"), [("true", "exact"), ("false", "casefold_punctuation")]
)
def test_text_entry(version: str, case: str, normalize: str) -> None:
    data = pick(version, TEXT_22, TEXT_3).replace(b"{case}", case.encode())
    item = only(read_qti(data, name="t.xml"))
    assert item.type == "text_entry"
    # the correct response and every positively mapped answer; "London" (0) is not accepted
    assert item.key == TextEntryKey(accepted=["Paris", "Paree"], normalize=normalize)
    assert item.prompt == "Capitals"  # no prompt: the title
    assert item.stimulus is not None and item.stimulus.text is not None
    assert "The capital of France is\n_____." in item.stimulus.text  # the gap stays visible
    assert item.options == []


@VERSIONS
def test_ordering(version: str) -> None:
    item = only(read_qti(pick(version, ORDER_22, ORDER_3), name="o.xml"))
    assert item.type == "ordering"
    assert item.key == OrderKey(order=["wake", "dress", "leave"])
    assert [o.text for o in item.options] == ["I leave the house.", "I wake up.", "I get dressed."]
    assert item.shuffle_options is True


@VERSIONS
def test_matching(version: str) -> None:
    item = only(read_qti(pick(version, MATCH_22, MATCH_3), name="m.xml"))
    assert item.type == "matching"
    assert [o.id for o in item.options] == ["cat", "dog", "cow"]
    assert [t.id for t in item.targets] == ["calf", "kitten", "puppy"]
    assert item.key == MatchKey(pairs=[("cat", "kitten"), ("dog", "puppy"), ("cow", "calf")])
    assert item.prompt == "Match each animal with its young."


def test_qti21_and_namespace_free_items_read_the_same() -> None:
    for ns in (NS21, ""):
        data = CHOICE_22.replace(
            f'xmlns="{NS22}"'.encode(), f'xmlns="{ns}"'.encode() if ns else b""
        )
        assert only(read_qti(data, name="g.xml")).key == ChoiceKey(correct=["went"])


def test_a_pair_written_target_first_is_oriented() -> None:
    data = MATCH_22.replace(b"<value>cat kitten</value>", b"<value>kitten cat</value>")
    assert ("cat", "kitten") in only(read_qti(data, name="m.xml")).key.pairs  # type: ignore[union-attr]


def test_choice_ids_are_made_valid_and_keys_follow() -> None:
    data = MULTI_22.replace(b'"apple"', b'"_a p"').replace(b">apple<", b">_a p<")
    item = only(read_qti(data, name="v.xml"))
    assert item.options[0].id == "c_a-p"
    assert item.key == ChoiceKey(correct=["c_a-p", "pear"])


def test_a_fixed_choice_keeps_the_authored_order() -> None:
    data = CHOICE_22.replace(
        b'<simpleChoice identifier="gone">', b'<simpleChoice identifier="gone" fixed="true">'
    )
    assert only(read_qti(data, name="g.xml")).shuffle_options is False


def test_max_choices_one_with_multiple_cardinality_is_single() -> None:
    data = MULTI_22.replace(b'maxChoices="0"', b'maxChoices="1"').replace(
        b"<value>pear</value>", b""
    )
    assert only(read_qti(data, name="v.xml")).type == "single_choice"


# --- what is skipped, and why -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inner", "reason"),
    [
        (
            """<responseDeclaration identifier="R" cardinality="single" baseType="string"/>
        <itemBody><extendedTextInteraction responseIdentifier="R"/></itemBody>""",
            "unsupported interaction: extendedTextInteraction",
        ),
        (
            """<responseDeclaration identifier="R" cardinality="single" baseType="identifier">
        <correctResponse><value>A</value></correctResponse></responseDeclaration>
        <itemBody><hotspotInteraction responseIdentifier="R" maxChoices="1"/></itemBody>""",
            "unsupported interaction: hotspotInteraction",
        ),
        ("""<itemBody><p>Welcome to the test.</p></itemBody>""", "no interaction"),
        (
            """<responseDeclaration identifier="A" cardinality="single" baseType="string">
        <correctResponse><value>x</value></correctResponse></responseDeclaration>
        <responseDeclaration identifier="B" cardinality="single" baseType="string">
        <correctResponse><value>y</value></correctResponse></responseDeclaration>
        <itemBody><p><textEntryInteraction responseIdentifier="A"/> and
        <textEntryInteraction responseIdentifier="B"/></p>
        <choiceInteraction responseIdentifier="B" maxChoices="1">
        <simpleChoice identifier="y">y</simpleChoice><simpleChoice identifier="z">z</simpleChoice>
        </choiceInteraction></itemBody>""",
            "several interactions: choiceInteraction, textEntryInteraction ×2 (only text "
            "entries and inline choices combine, as the gaps of a cloze)",
        ),
        (ab(key=""), "no correct response"),
        (ab(declare=False), "no response declaration: R"),
        (ab(key="Z"), "correct response names an unknown choice: Z"),
        (
            ab(
                head='<templateDeclaration identifier="T" cardinality="single" baseType="integer"/>'
                "<templateProcessing/>"
            ),
            "template-driven item",
        ),
        (
            """<responseDeclaration identifier="R" cardinality="single" baseType="identifier">
        <correctResponse><value>A</value></correctResponse></responseDeclaration>
        <itemBody><choiceInteraction responseIdentifier="R" maxChoices="1">
        <simpleChoice identifier="A">only one</simpleChoice></choiceInteraction></itemBody>""",
            "invalid item: a choice item needs at least two options",
        ),
        (ab('<p><img src="pic.png" alt="x"/></p>'), "missing media: pic.png"),
        (
            ab('<p><img src="https://example.com/pic.png" alt="x"/></p>'),
            "external media: https://example.com/pic.png",
        ),
        (
            ab('<p><img src="../../../etc/passwd" alt="x"/></p>'),
            "media outside the package: ../../../etc/passwd",
        ),
        (ab('<video src="clip.mp4"/>'), "unsupported media: video"),
        (
            ab('<object type="text/html" data="page.html">a page</object>'),
            "unsupported media: <object> text/html",
        ),
        (
            ab('<include xmlns="http://www.w3.org/2001/XInclude" href="passage.xml"/>'),
            "unsupported media: <include> xml",
        ),
    ],
)
def test_items_that_cannot_be_represented_are_skipped_with_a_reason(
    inner: str, reason: str
) -> None:
    result = read_qti(item22(inner), name="x.xml")
    assert skipped_reason(result).startswith(reason)
    assert result.reports[0].identifier == "q1"
    assert result.media == {}


def test_adaptive_items_are_skipped() -> None:
    data = CHOICE_22.replace(b'adaptive="false"', b'adaptive="true"')
    assert skipped_reason(read_qti(data, name="g.xml")).startswith("adaptive item")


def test_tests_are_not_items() -> None:
    data = (
        f'<assessmentTest xmlns="{NS21}" identifier="t" title="T"><testPart identifier="p" '
        'navigationMode="linear" submissionMode="individual"/></assessmentTest>'
    ).encode()
    result = read_qti(data, name="t.xml")
    assert skipped_reason(result) == "not an item: assessmentTest"


def test_qti1_is_reported() -> None:
    data = b'<questestinterop><item ident="i1"/></questestinterop>'
    assert skipped_reason(read_qti(data, name="q.xml")) == "QTI 1.x is not supported"


def test_unknown_level_is_refused_before_reading() -> None:
    with pytest.raises(BadRequest) as exc:
        read_qti(CHOICE_22, name="g.xml", level="Z9")
    assert exc.value.code == "unknown-level"


# --- packages, media and HTML -------------------------------------------------------------------


def test_package_items_media_and_codes() -> None:
    body = """<responseDeclaration identifier="R" cardinality="single" baseType="identifier">
      <correctResponse><value>B</value></correctResponse></responseDeclaration>
      <itemBody><div><p>Look at the picture.</p><p><img src="../img/Photo%201.PNG" alt="A red bus"/>
      </p></div><choiceInteraction responseIdentifier="R" shuffle="false" maxChoices="1">
      <prompt>What colour is it?</prompt>
      <simpleChoice identifier="A"><img src="/img/blue.png" alt="blue"/></simpleChoice>
      <simpleChoice identifier="B"><img src="../img/red.png" alt="red"/> red</simpleChoice>
      </choiceInteraction></itemBody>"""
    data = package(
        {"items/a.xml": item22(body, ident="same"), "items/b.xml": item22(body, ident="same")},
        {"img/photo 1.png": PNG, "img/blue.png": PNG, "img/red.png": PNG, "img/unused.png": PNG},
    )
    result = read_qti(data, name="My Bank (v2).zip")
    assert [i.code for i in result.items] == ["My-Bank-v2:same", "My-Bank-v2:same-2"]
    item = result.items[0]
    assert item.stimulus is not None and item.stimulus.image is not None
    # percent-decoded, case-tolerant, resolved from the item's folder to the package root
    assert item.stimulus.image.src == "img/photo 1.png"
    assert item.stimulus.image.alt == "A red bus"
    assert item.stimulus.text == "<div><p>Look at the picture.</p></div>"
    assert item.options[0].image is not None and item.options[0].image.src == "img/blue.png"
    assert item.options[0].text is None
    assert item.options[1].text == "red"
    assert item.source == "qti:My Bank (v2).zip/items/a.xml#same"
    assert set(result.media) == {"img/photo 1.png", "img/blue.png", "img/red.png"}
    assert all(v == PNG for v in result.media.values())
    assert [r.status for r in result.reports] == ["imported", "imported"]
    assert [r.file for r in result.reports] == ["items/a.xml", "items/b.xml"]


def test_code_prefix_and_long_identifiers() -> None:
    data = CHOICE_22.replace(b'identifier="past-1"', b'identifier="' + b"x" * 200 + b'"')
    item = only(read_qti(data, name="g.xml", code_prefix="bank 7"))
    assert item.code.startswith("bank-7:xxx") and len(item.code) == 120


def test_listening_item_media_interaction_and_audio_sources() -> None:
    body = """<responseDeclaration identifier="R" cardinality="single" baseType="identifier">
      <correctResponse><value>A</value></correctResponse></responseDeclaration>
      <responseDeclaration identifier="PLAYS" cardinality="single" baseType="integer"/>
      <itemBody><mediaInteraction responseIdentifier="PLAYS" autostart="false" maxPlays="2">
      <object type="audio/mpeg" data="audio/talk.mp3">a talk</object></mediaInteraction>
      <choiceInteraction responseIdentifier="R" shuffle="false" maxChoices="1">
      <prompt>What is the talk about?</prompt>
      <simpleChoice identifier="A">Trains</simpleChoice>
      <simpleChoice identifier="B">Boats</simpleChoice></choiceInteraction></itemBody>"""
    item = only(
        read_qti(
            package({"i.xml": item22(body)}, {"audio/talk.mp3": MP3}),
            name="l.zip",
            skill="listening",
        )
    )
    assert item.stimulus is not None and item.stimulus.audio is not None
    assert item.stimulus.audio.src == "audio/talk.mp3"
    assert item.stimulus.text is None

    body3 = """<qti-response-declaration identifier="R" cardinality="single"
      base-type="identifier"><qti-correct-response><qti-value>A</qti-value>
      </qti-correct-response></qti-response-declaration>
      <qti-item-body><qti-choice-interaction response-identifier="R" max-choices="1">
      <qti-prompt><audio controls="controls"><source src="talk.mp3" type="audio/mpeg"/></audio>
      </qti-prompt><qti-simple-choice identifier="A">Trains</qti-simple-choice>
      <qti-simple-choice identifier="B">Boats</qti-simple-choice>
      </qti-choice-interaction></qti-item-body>"""
    result = read_qti(
        package(
            {"i.xml": item3(body3, title="Listen")},
            {"talk.mp3": MP3},
            item_type="imsqti_item_xmlv3p0",
        ),
        name="l.zip",
    )
    item = only(result)
    assert item.stimulus is not None and item.stimulus.audio is not None
    assert item.stimulus.audio.src == "talk.mp3"
    assert item.prompt == "Listen"  # the prompt held nothing but the player
    assert result.media == {"talk.mp3": MP3}


def test_further_images_and_two_audios_are_refused() -> None:
    """Stored HTML keeps no <img> (etest.content.sanitize): a second picture would vanish."""
    body = ab("""<p><img src="one.png" alt="first"/></p>
      <p>and <object type="image/png" data="./two.png">second</object></p>
      <audio><source src="a.ogg" type="audio/ogg"/><source src="a.mp3" type="audio/mpeg"/>
      </audio>""")
    media = {"one.png": PNG, "two.png": PNG, "a.mp3": MP3, "a.ogg": b"OggS" + bytes(40)}
    result = read_qti(package({"i.xml": item22(body)}, media), name="p.zip")
    assert skipped_reason(result) == (
        "unsupported media: 2 images in the stimulus (eTest keeps one image there)"
    )
    one = body.replace('<object type="image/png" data="./two.png">second</object>', "")
    item = only(read_qti(package({"i.xml": item22(one)}, media), name="p.zip"))
    assert item.stimulus is not None and item.stimulus.image is not None
    assert item.stimulus.image.src == "one.png"
    assert item.stimulus.audio is not None and item.stimulus.audio.src == "a.mp3"
    two = body.replace("<choiceInteraction", '<audio src="a.ogg"/><choiceInteraction')
    refused = read_qti(package({"i.xml": item22(two)}, media), name="p.zip")
    assert skipped_reason(refused) == "unsupported media: 2 audio files in one item"


def test_media_must_be_what_it_claims() -> None:
    body = ab('<img src="x.png" alt="x"/>')
    html_as_png = package({"i.xml": item22(body)}, {"x.png": b"<html><script>x</script></html>"})
    assert skipped_reason(read_qti(html_as_png, name="p.zip")).startswith(
        "unsupported media: x.png is not a recognised image"
    )
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
    bad_svg = package({"i.xml": item22(body.replace("x.png", "x.svg"))}, {"x.svg": svg})
    assert skipped_reason(read_qti(bad_svg, name="p.zip")).startswith("unsafe media: x.svg")
    mp3_as_image = package({"i.xml": item22(body)}, {"x.png": MP3})
    assert "is a audio file, used as image" in skipped_reason(read_qti(mp3_as_image, name="p.zip"))


def test_data_uri_images_become_media() -> None:
    import base64

    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    body = ab(f'<img src="{uri}" alt="dot"/>')
    result = read_qti(item22(body), name="d.xml")
    item = only(result)
    assert item.stimulus is not None and item.stimulus.image is not None
    assert item.stimulus.image.src.startswith("_inline/")
    assert result.media == {item.stimulus.image.src: PNG}


def test_body_html_is_sanitised_and_scorer_content_dropped() -> None:
    body = """<responseDeclaration identifier="R" cardinality="single" baseType="identifier">
      <correctResponse><value>A</value></correctResponse></responseDeclaration>
      <itemBody><p onclick="steal()" style="color:red">Read <a href="javascript:alert(1)">this</a>
      <span>&lt;script&gt; is text here</span></p>
      <rubricBlock view="scorer"><p>Award one mark for A.</p></rubricBlock>
      <rubricBlock view="candidate"><p>You have two minutes.</p></rubricBlock>
      <choiceInteraction responseIdentifier="R" maxChoices="1">
      <prompt>Pick <b>one</b></prompt>
      <simpleChoice identifier="A">a &amp; b</simpleChoice>
      <simpleChoice identifier="B">&lt;img src=x onerror=alert(1)&gt;</simpleChoice>
      </choiceInteraction></itemBody>"""
    item = only(read_qti(item22(body), name="h.xml"))
    assert item.stimulus is not None and item.stimulus.text is not None
    text = item.stimulus.text
    assert "onclick" not in text and "style" not in text and "javascript" not in text
    assert "&lt;script&gt; is text here" in text
    assert "Award one mark" not in text and "You have two minutes." in text
    assert item.prompt == "Pick <b>one</b>"
    assert item.options[0].text == "a &amp; b"
    assert item.options[1].text == "&lt;img src=x onerror=alert(1)&gt;"


def test_rtl_items_keep_their_direction() -> None:
    data = ORDER_22.replace(
        b"<itemBody><orderInteraction", b'<itemBody><div dir="rtl"><orderInteraction'
    ).replace(b"</orderInteraction></itemBody>", b"</orderInteraction></div></itemBody>")
    item = only(read_qti(data, name="o.xml"))
    assert item.prompt == '<div dir="rtl">Put the morning in order.</div>'
    assert item.options[0].text == '<span dir="rtl">I leave the house.</span>'


def test_qti3_shared_stimulus_is_part_of_the_stimulus() -> None:
    stimulus = (
        f'<qti-assessment-stimulus xmlns="{NS3}" identifier="s1" title="Story">'
        '<qti-stimulus-body><p>Tom has a green bike.</p><img src="pics/bike.png" '
        'alt="a bike"/></qti-stimulus-body></qti-assessment-stimulus>'
    ).encode()
    data = CHOICE_3.replace(
        b"<qti-response-declaration",
        b'<qti-assessment-stimulus-ref identifier="s1" href="../stimuli/s1.xml" title="Story"/>'
        b"<qti-response-declaration",
        1,
    )
    result = read_qti(
        package(
            {"items/i.xml": data},
            {"stimuli/s1.xml": stimulus, "stimuli/pics/bike.png": PNG},
            item_type="imsqti_item_xmlv3p0",
        ),
        name="s.zip",
    )
    item = only(result)
    assert item.stimulus is not None and item.stimulus.text is not None
    assert "Tom has a green bike." in item.stimulus.text
    assert item.stimulus.image is not None and item.stimulus.image.src == "stimuli/pics/bike.png"
    missing = read_qti(
        package({"items/i.xml": data}, item_type="imsqti_item_xmlv3p0"), name="s.zip"
    )
    assert skipped_reason(missing) == "missing stimulus: stimuli/s1.xml"


def test_manifest_without_items_falls_back_to_scanning() -> None:
    test = f'<assessmentTest xmlns="{NS22}" identifier="t" title="T"/>'.encode()
    data = zipped(
        {
            "imsmanifest.xml": manifest([("T", "imsqti_test_xmlv2p2", "test.xml")]),
            "test.xml": test,
            "q/one.xml": CHOICE_22,
            "q/two.xml": MATCH_22,
            "q/notes.xml": b"<notes>not QTI</notes>",
            "q/broken.xml": b"<a><b></a>",
        }
    )
    result = read_qti(data, name="scan.zip")
    assert [i.code for i in result.items] == ["scan:past-1", "scan:young"]
    assert [(r.file, r.reason) for r in result.reports if r.status == "skipped"] == [
        ("test.xml", "not an item: test")
    ]


def test_manifest_tolerance() -> None:
    items = {"Items/One.xml": CHOICE_22}
    # type spelling, xml:base, href case, a folder around the whole package, QTI 1.x resource
    mf = manifest(
        [("A", "imsqti_apipitem_xmlv2p1", "items/one.xml"), ("B", "imsqti_xmlv1p2", "old.xml")],
        base="",
    )
    data = zipped(
        {
            "pkg/imsmanifest.xml": mf,
            "pkg/Items/One.xml": CHOICE_22,
            "pkg/old.xml": b"<questestinterop/>",
        }
    )
    result = read_qti(data, name="p.zip")
    assert len(result.items) == 1
    assert [r.reason for r in result.reports] == [None, "QTI 1.x is not supported"]
    based = zipped(
        {
            "imsmanifest.xml": manifest([("A", "imsqti_item_xmlv2p2", "One.xml")], base="Items/"),
            **items,
        }
    )
    assert len(read_qti(based, name="p.zip").items) == 1
    sibling = zipped(
        {
            "pkg/imsmanifest.xml": manifest([("A", "imsqti_item_xmlv2p2", "x.xml")]),
            "PKG/x.xml": CHOICE_22,
        }
    )
    assert skipped_reason(read_qti(sibling, name="p.zip")) == "file not in package: x.xml"
    missing = zipped({"imsmanifest.xml": manifest([("A", "imsqti_item_xmlv2p2", "gone.xml")])})
    assert skipped_reason(read_qti(missing, name="p.zip")) == "file not in package: gone.xml"


def test_single_item_with_its_files() -> None:
    body = ab('<img src="../img/dot.png" alt="dot"/>')
    result = read_qti(item22(body), name="items/q.xml", files={"img/dot.png": PNG})
    item = only(result)
    assert item.code == "q:q1"
    assert result.media == {"img/dot.png": PNG}
    alone = read_qti(item22(body), name="items/q.xml")
    assert skipped_reason(alone) == "missing media: img/dot.png"


# --- hostile and broken inputs ------------------------------------------------------------------

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


def bomb_item() -> bytes:
    return LAUGHS + CHOICE_22.split(b"\n", 1)[1].replace(b"Yesterday Maria", b"&lol9;")


def test_billion_laughs_in_an_item_refuses_the_package_or_skips_that_item() -> None:
    with pytest.raises(QtiPackageError, match=r"^bomb\.xml: unsafe XML"):
        read_qti(bomb_item(), name="bomb.xml")
    single = read_qti(bomb_item(), name="bomb.xml", partial=True)
    assert skipped_reason(single).startswith("unsafe XML")
    data = package({"bomb.xml": bomb_item(), "ok.xml": MULTI_22})
    with pytest.raises(QtiPackageError, match=r"^bomb\.xml: unsafe XML"):
        read_qti(data, name="p.zip")
    result = read_qti(data, name="p.zip", partial=True)
    assert [i.code for i in result.items] == ["p:fruit"]
    assert result.reports[0].reason is not None
    assert result.reports[0].reason.startswith("unsafe XML")


def test_billion_laughs_in_the_manifest_refuses_the_package() -> None:
    mf = LAUGHS + manifest([("A", "imsqti_item_xmlv2p2", "a.xml")]).split(b"\n", 1)[1]
    with pytest.raises(QtiPackageError) as exc:
        read_qti(zipped({"imsmanifest.xml": mf, "a.xml": CHOICE_22}), name="p.zip")
    assert exc.value.code == "bad-qti-package" and exc.value.status == 400
    assert "unsafe XML" in exc.value.detail


def test_utf16_entity_declarations_are_refused_too() -> None:
    data = (LAUGHS.decode() + "<a>&lol9;</a>").encode("utf-16")
    with pytest.raises(QtiPackageError, match="unsafe XML"):
        read_qti(data, name="u.xml")
    assert skipped_reason(read_qti(data, name="u.xml", partial=True)).startswith("unsafe XML")


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        b'<!DOCTYPE assessmentItem SYSTEM "file:///etc/passwd">',
        b'<!DOCTYPE assessmentItem PUBLIC "-//x//EN" "http://127.0.0.1:9/x.dtd">',
    ],
)
def test_external_entities_never_reach_the_output(doctype: str) -> None:
    data = CHOICE_22.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + b"\n",
    )
    data = data.replace(b"Yesterday Maria", b"&xxe; Maria")
    for result in (
        read_qti(data, name="x.xml", partial=True),
        read_qti(package({"x.xml": data}), name="x.zip", partial=True),
    ):
        dumped = json.dumps([i.model_dump() for i in result.items]) + repr(result.reports)
        assert "root:" not in dumped and "/bin/" not in dumped
        for item in result.items:  # an undeclared reference leaves nothing behind
            assert item.stimulus is not None
            assert item.stimulus.text == "<p> Maria ____ to the market.</p>"


def _zip_with_raw_name(name: str, data: bytes = b"x", *, symlink: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("imsmanifest.xml", manifest([]))
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("entry", "symlink"),
    [
        ("../evil.xml", False),
        ("a/../../evil.xml", False),
        ("/etc/x", False),
        ("C:/Windows/x", False),
        ("link.xml", True),
    ],
)
def test_unsafe_zip_entries_refuse_the_package(entry: str, symlink: bool) -> None:
    data = _zip_with_raw_name(entry, b"/etc/passwd" if symlink else b"<a/>", symlink=symlink)
    with pytest.raises(QtiPackageError, match="unsafe path"):
        read_qti(data, name="evil.zip")


def test_manifest_href_leaving_the_package_refuses_it() -> None:
    data = zipped({"imsmanifest.xml": manifest([("A", "imsqti_item_xmlv2p1", "../x.xml")])})
    with pytest.raises(QtiPackageError, match=r"unsafe path in imsmanifest\.xml"):
        read_qti(data, name="p.zip")


def test_too_many_entries() -> None:
    entries = {"imsmanifest.xml": manifest([])} | {f"f{n}.txt": b"" for n in range(10)}
    with pytest.raises(QtiPackageError, match="entries"):
        read_qti(zipped(entries), name="p.zip", limits=QtiLimits(max_entries=5))


def test_ratio_bomb_and_size_limits() -> None:
    zeros = zipped({"imsmanifest.xml": manifest([]), "zeros.bin": bytes(8 * 1024**2)})
    assert len(zeros) < 64 * 1024
    with pytest.raises(QtiPackageError, match="compression ratio"):
        read_qti(zeros, name="p.zip")
    with pytest.raises(QtiPackageError, match="larger than"):
        read_qti(zeros, name="p.zip", limits=QtiLimits(max_entry_bytes=1024**2))
    with pytest.raises(QtiPackageError, match="uncompresses to more than"):
        read_qti(
            zeros, name="p.zip", limits=QtiLimits(max_total_uncompressed=1024**2, max_ratio=1e9)
        )
    with pytest.raises(QtiPackageError, match="larger than"):
        read_qti(zeros, name="p.zip", limits=QtiLimits(max_package_bytes=1000))
    with pytest.raises(QtiPackageError, match="larger than"):
        read_qti(CHOICE_22, name="g.xml", limits=QtiLimits(max_xml_bytes=100))
    big_item = package({"a.xml": CHOICE_22})
    assert len(CHOICE_22) > 500
    result = read_qti(big_item, name="p.zip", limits=QtiLimits(max_xml_bytes=500))
    assert skipped_reason(result) == "XML too large"
    with pytest.raises(QtiPackageError, match=r"imsmanifest\.xml is larger"):
        read_qti(big_item, name="p.zip", limits=QtiLimits(max_xml_bytes=100))


def test_a_zip_whose_header_lies_about_sizes_is_refused() -> None:
    data = bytearray(package({"a.xml": CHOICE_22}))
    central = data.rfind(b"PK\x01\x02")  # the last central-directory header: a.xml
    struct.pack_into("<I", data, central + 24, 10)  # uncompressed size
    with pytest.raises(QtiPackageError):
        read_qti(bytes(data), name="p.zip")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02 binary",
        b"just some text",
        b"PK\x03\x04 not really a zip",
        b"%PDF-1.4",
        zipped({"readme.txt": b"no manifest"}),
        zipped({"imsmanifest.xml": b"<manifest><resources>"}),
        zipped({"imsmanifest.xml": b"<html/>"}),
        zipped({"imsmanifest.xml": b"<a/>", "imsmanifest.XML": b"<b/>"}),
    ],
)
def test_inputs_that_are_not_packages(data: bytes) -> None:
    with pytest.raises(QtiPackageError) as exc:
        read_qti(data, name="in")
    assert exc.value.code == "bad-qti-package"


def test_malformed_single_xml_is_refused_or_with_partial_a_skipped_item() -> None:
    with pytest.raises(QtiPackageError, match=r"^m\.xml: not well-formed XML"):
        read_qti(b"<assessmentItem><itemBody>", name="m.xml")
    partial = read_qti(b"<assessmentItem><itemBody>", name="m.xml", partial=True)
    assert skipped_reason(partial).startswith("not well-formed XML")


# --- the public sample corpus -------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples() -> Path:
    return require_samples()


@dataclass
class SourceCounts:
    files: int = 0
    imported: Counter[str] = field(default_factory=Counter)  # item type → count
    skipped: Counter[str] = field(default_factory=Counter)  # reason category → count
    refused: int = 0


def sample_inputs(root: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    """Every package zip and single item XML outside ``malformed/``, with read_qti arguments.
    A single item is read with the files of its folder (the folder directly under the
    source), as an uploader of a loose item would send them."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "malformed" in rel.parts or path.suffix not in (".zip", ".xml"):
            continue
        if path.suffix == ".zip":
            yield path, {"name": path.name}
            continue
        base = root / rel.parts[0] / rel.parts[1]
        files = {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in base.rglob("*")
            if p.is_file() and p.suffix != ".xml"
        }
        yield path, {"name": path.relative_to(base).as_posix(), "files": files}


def corpus_counts(root: Path) -> dict[str, SourceCounts]:
    counts: dict[str, SourceCounts] = {}
    for path, kwargs in sample_inputs(root):
        source = counts.setdefault(path.relative_to(root).parts[0], SourceCounts())
        source.files += 1
        result = read_qti(path.read_bytes(), **kwargs)  # type: ignore[arg-type]
        for item in result.items:
            source.imported[item.type] += 1
        for report in result.reports:
            if report.status == "skipped":
                assert report.reason
                source.skipped[report.reason.split(":", 1)[0]] += 1
    return counts


def test_every_sample_reads_without_error(samples: Path) -> None:
    seen = 0
    for path, kwargs in sample_inputs(samples):
        result = read_qti(path.read_bytes(), **kwargs)  # type: ignore[arg-type]
        seen += 1
        assert result.reports, path
        for report in result.reports:
            assert (report.status == "imported") == (report.code is not None), (path, report)
            assert (report.status == "skipped") == bool(report.reason), (path, report)
        refs = {ref.src for item in result.items for ref in _media_refs(item)}
        refs |= {src for item in result.items for src in _inline_images(item)}
        assert refs == set(result.media), path  # every used file is there, nothing more
        assert all(result.media.values()), path
        assert len({i.code for i in result.items}) == len(result.items)
    assert seen == 34  # 28 single items and 6 packages


def _inline_images(item: ItemIn) -> list[str]:
    html = [item.prompt, item.stimulus.text if item.stimulus else None]
    html += [o.text for o in [*item.options, *item.targets]]
    return [m for text in html if text for m in re.findall(r'<img[^>]* src="([^"]+)"', text)]


def _media_refs(item):  # type: ignore[no-untyped-def]
    stim = item.stimulus
    refs = [stim.image, stim.audio] if stim else []
    refs += [o.image for o in item.options] + [o.audio for o in item.options]
    refs += [t.image for t in item.targets]
    return [r for r in refs if r is not None]


def test_corpus_counts(samples: Path) -> None:
    counts = corpus_counts(samples)
    qtiworks = counts["davemckain-qtiworks"]
    assert qtiworks.files == 15
    assert qtiworks.imported["single_choice"] >= 9
    assert qtiworks.imported["multiple_choice"] >= 3
    assert sum(qtiworks.imported.values()) >= 15
    assert qtiworks.skipped["unsupported interaction"] == 2  # extended text, associate
    # issue 17: the Richard III gap match, inline choice and hottext, and the web test's
    # two-gap cloze (its empty "nothing chosen" choices left out)
    assert qtiworks.imported["gap_match"] == 1 and qtiworks.imported["hottext"] == 1
    assert qtiworks.imported["cloze"] == 2
    cito = counts["citolab-qti-components"]
    assert sum(cito.imported.values()) >= 21
    assert cito.imported["matching"] >= 5 and cito.imported["ordering"] >= 3
    assert cito.skipped["unsupported interaction"] >= 15
    assert cito.imported["cloze"] >= 4 and cito.imported["gap_match"] >= 2
    assert cito.imported["hottext"] >= 1
    assert cito.skipped["no interaction"] == 4  # info pages
    assert sum(counts["oat-sa-qti-sdk"].imported.values()) >= 4
    assert counts["oat-sa-qti-sdk"].skipped["missing media"] == 1  # the image is absent upstream
    assert counts["oat-sa-extension-tao-testqti"].imported["single_choice"] == 3
    total = sum(sum(c.imported.values()) for c in counts.values())
    assert total >= 44


def read_sample(root: Path, rel: str) -> QtiImport:
    path = root / rel
    return read_qti(path.read_bytes(), **dict(sample_inputs(root))[path])  # type: ignore[arg-type]


def test_sample_qtiworks_choice_in_depth(samples: Path) -> None:
    result = read_sample(samples, "davemckain-qtiworks/items-qti21/choice.xml")
    item = only(result)
    assert item.type == "single_choice" and item.key == ChoiceKey(correct=["ChoiceA"])
    assert len(item.options) == 3 and item.prompt == "What does it say?"
    assert item.stimulus is not None and item.stimulus.image is not None
    assert item.stimulus.image.src == "images/sign.png"
    assert (
        result.media["images/sign.png"]
        == (samples / "davemckain-qtiworks/items-qti21/images/sign.png").read_bytes()
    )


def test_sample_packages_in_depth(samples: Path) -> None:
    web = read_sample(samples, "davemckain-qtiworks/packages/WebDeveloperTest1.zip")
    assert len(web.items) == 9 and "directory.jpg" in web.media  # question8: a cloze
    with zipfile.ZipFile(samples / "davemckain-qtiworks/packages/WebDeveloperTest1.zip") as zf:
        assert web.media["directory.jpg"] == zf.read("directory.jpg")
    q4 = next(i for i in web.items if i.source and i.source.endswith("question4.xml#choice"))
    assert q4.stimulus is not None and q4.stimulus.image is not None
    assert any("&lt;img" in (o.text or "") for o in q4.options)  # markup shown as text

    aardvark = only(read_sample(samples, "davemckain-qtiworks/packages/Aardvark-cannon.zip"))
    assert aardvark.key == ChoiceKey(correct=["CHOICE2"]) and len(aardvark.options) == 5
    assert all(
        "<math>" in (o.text or "")
        and "SnuggleTeX" not in (o.text or "")
        and "dashed line" not in (o.text or "")
        for o in aardvark.options
    )

    kn1 = read_sample(samples, "citolab-qti-components/packages/kennisnet-1.zip")
    match = next(i for i in kn1.items if i.code == "kennisnet-1:ITEM002")
    assert match.type == "matching" and len(match.targets) == 3
    assert all(t.image is not None and t.image.src in kn1.media for t in match.targets)

    kn2 = read_sample(samples, "citolab-qti-components/packages/kennisnet-2.zip")
    audio_item = next(r for r in kn2.reports if r.identifier == "ITEM005")
    assert audio_item.reason == "unsupported interaction: extendedTextInteraction"

    ims = read_sample(samples, "citolab-qti-components/packages/ims-examples-qti3.zip")
    # the manifest lists only the test: items are found by scanning
    assert {i.type for i in ims.items} == {
        "single_choice",
        "multiple_choice",
        "matching",
        "ordering",
        "text_entry",
        "cloze",
        "gap_match",
    }
    text = next(i for i in ims.items if i.type == "text_entry")
    assert isinstance(text.key, TextEntryKey) and "York" in text.key.accepted

    tao = read_sample(samples, "oat-sa-extension-tao-testqti/packages/CategoriesWeights.zip")
    assert [r.file for r in tao.reports if r.status == "imported"] == [
        "Q01/qti.xml",
        "Q02/qti.xml",
        "Q03/qti.xml",
    ]


def test_sample_edge_cases(samples: Path) -> None:
    match = only(read_sample(samples, "citolab-qti-components/items-qti3/example-match.xml"))
    assert match.stimulus is not None and match.stimulus.image is not None
    assert match.stimulus.image.src == "img/1a7e84cd5d2ef3cb19be3.jpg"  # "/img/…" in the file
    assert len(match.key.pairs) == 5  # type: ignore[union-attr]
    text = only(read_sample(samples, "citolab-qti-components/items-qti3/example-text-entry.xml"))
    assert text.key == TextEntryKey(accepted=["York", "york"], normalize="exact")
    rtl = only(read_sample(samples, "oat-sa-qti-sdk/items-qti22/order_rtl.xml"))
    assert rtl.prompt.startswith('<div dir="rtl">') and len(rtl.options) == 3
    missing = read_sample(samples, "oat-sa-qti-sdk/items-qti22/choice.xml")
    assert skipped_reason(missing) == "missing media: images/sign.png"
    likert = read_sample(samples, "davemckain-qtiworks/items-qti21/likert.xml")
    assert skipped_reason(likert) == "no correct response"
    biology = only(read_sample(samples, "citolab-qti-components/biologie/items/32eudp.xml"))
    assert all(o.image is not None and o.text is None for o in biology.options)


def test_single_items_without_their_files(samples: Path) -> None:
    """As an upload of a bare XML arrives: items that need an image are skipped, never fail."""
    for path in sorted(samples.rglob("items*/*.xml")):
        result = read_qti(path.read_bytes(), name=path.name)
        for report in result.reports:
            assert report.status == "imported" or report.reason, path


def test_every_malformed_sample_is_refused_or_skipped(samples: Path) -> None:
    malformed = sorted(samples.rglob("malformed/*"))
    assert len(malformed) == 6
    for path in malformed:
        try:
            result = read_qti(path.read_bytes(), name=path.name)
        except QtiPackageError:
            continue
        assert result.items == [], path
        assert result.reports and all(r.reason for r in result.reports), path


def markdown_table(root: Path) -> str:
    counts = corpus_counts(root)
    lines = [
        "| Source | Files | Items imported (by type) | Skipped (by reason) |",
        "|---|---|---|---|",
    ]
    for source, c in sorted(counts.items()):
        imported = ", ".join(f"{t} {n}" for t, n in sorted(c.imported.items()))
        skipped = ", ".join(f"{r} {n}" for r, n in c.skipped.most_common())
        lines.append(
            f"| {source} | {c.files} | {sum(c.imported.values())}: {imported} | "
            f"{sum(c.skipped.values())}: {skipped} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown_table(SAMPLES) + "\n")
