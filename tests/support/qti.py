"""QTI test material written for eTest's tests: item and manifest builders, tiny real media, an
original content package, and where the public sample corpus lives.

The public corpus (``shared/qti-samples`` beside the clone: packages by other authors, with their
licences) is read at run time by the corpus tests only; they skip with a reason when it is absent.
Everything the importer's own tests need is built here.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

#: The public QTI corpus beside the clone (not part of the repository).
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "qti-samples"


def require_samples() -> Path:
    """The corpus folder, or a skip that says why (a fresh clone has no ``shared/`` beside it)."""
    if not SAMPLES.is_dir():
        pytest.skip(
            f"the public QTI sample corpus is not at {SAMPLES} (shared/ beside the "
            "clone); the importer's own tests use tests/support/qti.py"
        )
    return SAMPLES


NS21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
NS22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"
NS3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
CP = "http://www.imsglobal.org/xsd/imscp_v1p1"

# Tiny real media: a 1×1 PNG and an MP3 that starts with an ID3 tag.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 16


def item22(
    inner: str, *, ident: str = "q1", title: str = "Item", ns: str = NS22, extra: str = ""
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<assessmentItem xmlns="{ns}" '
        f'identifier="{ident}" title="{title}" adaptive="false" timeDependent="false"{extra}>'
        f"{inner}</assessmentItem>"
    ).encode()


def item3(inner: str, *, ident: str = "q1", title: str = "Item") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<qti-assessment-item xmlns="{NS3}" '
        f'identifier="{ident}" title="{title}" adaptive="false" time-dependent="false">'
        f"{inner}</qti-assessment-item>"
    ).encode()


def manifest(resources: list[tuple[str, str, str]], *, ns: str = CP, base: str = "") -> bytes:
    """``resources``: (identifier, type, href)."""
    rows = "".join(
        f'<resource identifier="{i}" type="{t}" href="{h}"><file href="{h}"/></resource>'
        for i, t, h in resources
    )
    xml_base = f' xml:base="{base}"' if base else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="{ns}" identifier="m">'
        f"<organizations/><resources{xml_base}>{rows}</resources></manifest>"
    ).encode()


def ab(before: str = "", *, key: str = "A", declare: bool = True, head: str = "") -> str:
    """The inside of a two-choice item (A, B; key ``key``, none when empty) with ``before`` in
    the body ahead of the interaction and ``head`` after the response declaration."""
    correct = f"<correctResponse><value>{key}</value></correctResponse>" if key else ""
    declaration = (
        (
            f'<responseDeclaration identifier="R" cardinality="single" '
            f'baseType="identifier">{correct}</responseDeclaration>'
        )
        if declare
        else ""
    )
    return (
        f'{declaration}{head}<itemBody>{before}<choiceInteraction responseIdentifier="R" '
        'maxChoices="1"><simpleChoice identifier="A">a</simpleChoice>'
        '<simpleChoice identifier="B">b</simpleChoice></choiceInteraction></itemBody>'
    )


def zipped(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()


def package(
    items: dict[str, bytes],
    media: dict[str, bytes] | None = None,
    *,
    item_type: str = "imsqti_item_xmlv2p2",
) -> bytes:
    resources = [(f"R{n}", item_type, path) for n, path in enumerate(items)]
    return zipped({"imsmanifest.xml": manifest(resources), **items, **(media or {})})


# --- an original package: what an author's export looks like --------------------------------------

_CHOICE_WITH_IMAGE = item22(
    '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">'
    "<correctResponse><value>bus</value></correctResponse></responseDeclaration>"
    '<outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>'
    '<itemBody><p>Look at the sign.</p><p><img src="images/stop.png" alt="A road sign"/></p>'
    '<choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">'
    "<prompt>Where can you wait here?</prompt>"
    '<simpleChoice identifier="bus">At the bus stop</simpleChoice>'
    '<simpleChoice identifier="taxi">At the taxi rank</simpleChoice>'
    '<simpleChoice identifier="train">On the platform</simpleChoice>'
    "</choiceInteraction></itemBody>"
    '<responseProcessing template="http://www.imsglobal.org/question/qti_v2p2/rptemplates/'
    'match_correct"/>',
    ident="sign-wait",
    title="Waiting at the sign",
)

_TEXT_ENTRY = item22(
    '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">'
    "<correctResponse><value>went</value></correctResponse></responseDeclaration>"
    '<itemBody><p>Yesterday I <textEntryInteraction responseIdentifier="RESPONSE" '
    'expectedLength="8"/> to the market.</p></itemBody>',
    ident="past-go",
    title="Past of go",
)

_SLIDER = item22(
    '<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="integer">'
    "<correctResponse><value>3</value></correctResponse></responseDeclaration>"
    '<itemBody><sliderInteraction responseIdentifier="RESPONSE" lowerBound="0" upperBound="5" '
    'step="1"><prompt>How many days?</prompt></sliderInteraction></itemBody>',
    ident="slider-days",
    title="A slider",
)


def sample_package() -> bytes:
    """An original QTI 2.2 package: a choice item with a picture, a text entry item and an item
    of an interaction eTest does not support (skipped with a reason)."""
    return package(
        {
            "items/sign-wait.xml": _CHOICE_WITH_IMAGE,
            "items/past-go.xml": _TEXT_ENTRY,
            "items/slider-days.xml": _SLIDER,
        },
        {"items/images/stop.png": PNG},
    )


def malformed_package() -> bytes:
    """A zip whose manifest is not XML: refused whole."""
    return zipped({"imsmanifest.xml": b"<manifest><resources>", "items/a.xml": _TEXT_ENTRY})


def write_sample_folder(root: Path) -> Path:
    """A folder as a content team hands it over: a package, a loose item and a broken package."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reading-pack.zip").write_bytes(sample_package())
    (root / "broken").mkdir(exist_ok=True)
    (root / "broken" / "BadManifest.zip").write_bytes(malformed_package())
    return root
