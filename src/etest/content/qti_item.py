"""One QTI item (already parsed and canonicalised by :mod:`etest.content.qti_xml`) → the fields
of an eTest :class:`~etest.content.schemas.ItemIn`.

The reader (:mod:`etest.content.qti`) owns packages, codes and validation; this module only looks
at one item: it finds its interaction (or the text entries and inline choices of a cloze), reads
the key from the response declarations, turns the rest of the item body into sanitised HTML
(with ``[[id]]`` markers where the gaps and choosable texts of cloze, gap_match and hottext
items stand) and resolves the media the item uses.
Anything it cannot represent faithfully raises :class:`Skip` with the reason a content editor
will read.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import html
import math
import posixpath
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from etest.content.qti_xml import (
    Element,
    XmlRejected,
    child,
    children,
    descendants,
    is_element,
    read_document,
    remove,
    text_before,
    text_of,
    to_html,
)
from etest.content.sanitize import HIDDEN_CLASS, HIDDEN_CLASSES, clean_html, lost_text
from etest.content.schemas import MARKER

SUPPORTED = (
    "choiceInteraction",
    "textEntryInteraction",
    "orderInteraction",
    "matchInteraction",
    "inlineChoiceInteraction",
    "gapMatchInteraction",
    "hottextInteraction",
)
#: Interactions that stand inline in running text: any number of them, and only them, in one
#: body make a cloze (a lone text entry stays a text_entry item, as it always was).
_CLOZE = {"textEntryInteraction", "inlineChoiceInteraction"}
# Interactions that carry no scored response of their own: a media player in front of the
# question is the stimulus (listening items), an end-attempt button is chrome.
_STIMULUS_INTERACTIONS = {"mediaInteraction"}
_IGNORED_INTERACTIONS = {"endAttemptInteraction"}
# Shown only after answering, to scorers, or computed by template processing: never stimulus.
_NOT_CONTENT = {
    "feedbackBlock",
    "feedbackInline",
    "modalFeedback",
    "printedVariable",
    "infoControl",
    "templateBlock",
    "templateInline",
    "endAttemptInteraction",
    "companionMaterialsInfo",
    "catalogInfo",
    "stylesheet",
}
_INLINE_GAP = "_____"
#: What becomes an item with a body of its own, ``[[id]]`` marking its gaps or choosable texts.
_MARKED = {"cloze", "gapMatchInteraction", "hottextInteraction"}
# Stored HTML keeps no <img> (etest.content.sanitize): a second picture would vanish.
_MORE_IMAGES = "unsupported media: {n} images in {where} (eTest keeps one image there)"

_IMAGE_EXT = {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "ico", "avif"}
_AUDIO_EXT = {"mp3", "ogg", "oga", "opus", "wav", "m4a", "aac", "flac", "weba"}
_VIDEO_EXT = {"mp4", "m4v", "webm", "ogv", "mov", "avi", "mpg", "mpeg", "flv", "swf"}
_UNSAFE_SVG = re.compile(rb"<script|javascript:|<foreignObject|\son[a-z]+\s*=", re.IGNORECASE)


class Skip(Exception):
    """This item is left out of the import; ``str(exc)`` is the reason ("category: detail")."""


class Files(Protocol):
    """The files of the input, addressed by normalised paths relative to the package root."""

    def find(self, path: str) -> str | None:
        """The stored key for ``path`` (tolerating case and percent-encoding), or None."""

    def size(self, key: str) -> int:
        """The size of a key's file, known before reading it (from the zip's directory)."""

    def read(self, key: str) -> bytes:
        """The bytes of a key returned by :meth:`find` (size limits enforced by the reader)."""


@dataclass
class Converted:
    identifier: str
    fields: dict[str, Any]
    media: dict[str, bytes] = field(default_factory=dict)


def item_identifier(root: Element, fallback: str) -> str:
    ident = (root.get("identifier") or "").strip()
    return ident or fallback


def convert_item(root: Element, *, path: str, files: Files, max_xml_bytes: int) -> Converted:
    """Map a canonical ``assessmentItem`` tree read from ``path`` onto ItemIn fields (without
    ``code``, ``skill``, ``level``, ``status`` and ``source``, which belong to the reader)."""
    identifier = item_identifier(root, posixpath.splitext(posixpath.basename(path))[0])
    if (root.get("adaptive") or "").strip().lower() == "true":
        raise Skip("adaptive item: its response processing changes the item between attempts")
    if (
        child(root, "templateDeclaration") is not None
        or child(root, "templateProcessing") is not None
    ):
        raise Skip("template-driven item: template variables decide its content or key")
    body = child(root, "itemBody")
    if body is None:
        raise Skip("no item body")
    interactions = _the_interactions(body)
    interaction = interactions[0]
    kind = interaction.tag
    if len(interactions) > 1 or kind == "inlineChoiceInteraction":
        kind = "cloze"
    media = _Media(files, posixpath.dirname(path))
    rtl = _direction(interaction) == "rtl"
    if kind in _MARKED and MARKER.search(text_of(body)):
        found = MARKER.search(text_of(body))
        raise Skip(
            f"unsupported markup: the text has {found.group(0) if found else '[[…]]'}, which "
            "eTest would read as a gap marker"
        )

    fields: dict[str, Any]
    marked: Element | None = None  # the element whose HTML is the body field (marked types)
    rest: Element | None = None  # the item body around the interaction: the stimulus text
    if kind == "cloze":
        fields, marked = _cloze(root, body, interactions, media, rtl)
    else:
        declaration = _declaration(root, interaction)
        rest = _body_without(body, interaction)
        if kind == "choiceInteraction":
            fields = _choice(interaction, declaration, media, rtl)
        elif kind == "textEntryInteraction":
            fields = _text_entry(declaration)
        elif kind == "orderInteraction":
            fields = _order(interaction, declaration, media, rtl)
        elif kind == "matchInteraction":
            fields = _match(interaction, declaration, media, rtl)
        elif kind == "gapMatchInteraction":
            fields, marked = _gap_match(interaction, declaration, media, rtl)
        else:
            fields, marked = _hottext(interaction, declaration, media, rtl)

    bodies = [(rest, media.folder)] if rest is not None else []
    bodies += _shared_stimuli(root, path, files, max_xml_bytes)
    prompt_el = child(interaction, "prompt") if kind != "cloze" else None
    prompt_el = copy.deepcopy(prompt_el) if prompt_el is not None else None

    stimulus: dict[str, Any] = {}
    # (element, folder its references resolve from): the body, shared stimuli, then the prompt
    audio_refs: list[tuple[Element, str]] = []
    image_refs: list[tuple[Element, str]] = []
    extra = [el for el in (marked, prompt_el) if el is not None]
    for el, folder in [*bodies, *((el, media.folder) for el in extra)]:
        _drop_not_content(el)
        images, audios = _media_elements(el)
        image_refs += [(img, folder) for img in images]
        audio_refs += [(aud, folder) for aud in audios]
    if audio_refs:
        if len(audio_refs) > 1:
            raise Skip(f"unsupported media: {len(audio_refs)} audio files in one item")
        el, folder = audio_refs[0]
        stimulus["audio"] = media.ref(el, folder, "audio")
        remove(el)
    if image_refs:
        el, folder = image_refs[0]
        stimulus["image"] = media.ref(el, folder, "image")
        remove(el)
        if len(image_refs) > 1:
            raise Skip(_MORE_IMAGES.format(n=len(image_refs), where="the stimulus"))

    texts = [_inner_html(el) for el, _ in bodies]
    stimulus_html = "\n".join(t for t in texts if t)
    if stimulus_html:
        stimulus["text"] = stimulus_html
    if marked is not None:
        fields["body"] = _marked_html(marked, fields, rtl)
    prompt = _inner_html(prompt_el) if prompt_el is not None else ""
    if prompt and rtl:
        prompt = f'<div dir="rtl">{prompt}</div>'
    title = " ".join((root.get("title") or "").split())
    fields["prompt"] = prompt or _clean(html.escape(title, quote=False)) or identifier
    if stimulus:
        fields["stimulus"] = stimulus
    return Converted(identifier=identifier, fields=fields, media=media.used)


# --- the interaction and its response -----------------------------------------------------------


def _the_interactions(body: Element) -> list[Element]:
    """The scored interaction of the item, or the text entries and inline choices of a cloze
    (in document order); anything else is skipped with its reason."""
    found = [
        el
        for el in body.iter()
        if is_element(el) and el.tag.endswith("Interaction") and el.tag not in _IGNORED_INTERACTIONS
    ]
    scored = [el for el in found if el.tag not in _STIMULUS_INTERACTIONS]
    if not scored:
        if found:
            raise Skip(f"unsupported interaction: {found[0].tag}")
        raise Skip("no interaction")
    if {el.tag for el in scored} <= _CLOZE:
        return scored
    if len(scored) > 1:
        counts = Counter(el.tag for el in scored)
        names = ", ".join(f"{tag} ×{n}" if n > 1 else tag for tag, n in sorted(counts.items()))
        raise Skip(
            f"several interactions: {names} (only text entries and inline choices combine, "
            "as the gaps of a cloze)"
        )
    if scored[0].tag not in SUPPORTED:
        raise Skip(f"unsupported interaction: {scored[0].tag}")
    return scored


def _declaration(root: Element, interaction: Element) -> Element:
    rid = (interaction.get("responseIdentifier") or "").strip()
    for decl in children(root, "responseDeclaration"):
        if (decl.get("identifier") or "").strip() == rid:
            return decl
    raise Skip(f"no response declaration: {rid or '(interaction has no responseIdentifier)'}")


def _correct_values(declaration: Element) -> list[str]:
    correct = child(declaration, "correctResponse")
    if correct is None:
        return []
    values = [" ".join(text_of(v).split()) for v in children(correct, "value")]
    return [v for v in values if v]


def _require_correct(declaration: Element) -> list[str]:
    values = _correct_values(declaration)
    if not values:
        raise Skip(_no_key_reason(declaration))
    return values


def _no_key_reason(declaration: Element) -> str:
    """Why there is no ``correctResponse`` to read, accurately: a key that lives in a mapping
    (scores per answer) or in custom response processing is there, only not read yet."""
    mapping = child(declaration, "mapping")
    if mapping is not None and any(
        _number(entry.get("mappedValue")) not in (None, 0.0)
        for entry in children(mapping, "mapEntry")
    ):
        return "key only in a mapping: scores per answer (mapEntry) are not imported"
    if child(declaration, "areaMapping") is not None:
        return "key only in a mapping: an area mapping"
    rid = (declaration.get("identifier") or "").strip()
    root = declaration.getparent()
    processing = child(root, "responseProcessing") if root is not None else None
    if processing is not None and not (processing.get("template") or "").strip():
        uses = any(
            (v.get("identifier") or "").strip() == rid for v in descendants(processing, "variable")
        )
        if uses and descendants(processing, "baseValue"):
            return "key only in response processing: custom response processing is not read"
    return "no correct response"


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _flag(el: Element, name: str) -> bool:
    return (el.get(name) or "").strip().lower() in ("true", "1")


def _direction(el: Element) -> str | None:
    node = el
    while node is not None:
        value = (node.get("dir") or "").strip().lower()
        if value in ("rtl", "ltr"):
            return value
        node = node.getparent()
    return None


class _Ids:
    """QTI identifiers → eTest option ids (``^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$``), stable and
    unique within one item."""

    def __init__(self) -> None:
        self._map: dict[str, str] = {}

    def add(self, qti_id: str) -> str:
        if qti_id in self._map:
            raise Skip(f"duplicate choice identifier: {qti_id}")
        oid = re.sub(r"[^A-Za-z0-9_.\-]", "-", qti_id)
        if not oid or not oid[0].isalnum() or not oid.isascii():
            oid = "c" + oid
        oid = oid[:64]
        taken = set(self._map.values())
        n = 2
        base = oid
        while oid in taken:
            suffix = f"-{n}"
            oid = base[: 64 - len(suffix)] + suffix
            n += 1
        self._map[qti_id] = oid
        return oid

    def get(self, qti_id: str, what: str) -> str:
        if qti_id not in self._map:
            raise Skip(f"correct response names an unknown {what}: {qti_id}")
        return self._map[qti_id]


def _options(
    choices: Iterable[Element], ids: _Ids, media: _Media, rtl: bool
) -> list[dict[str, Any]]:
    options = []
    for choice in choices:
        qti_id = (choice.get("identifier") or "").strip()
        if not qti_id:
            raise Skip("a choice has no identifier")
        content = copy.deepcopy(choice)
        _drop_not_content(content)
        option: dict[str, Any] = {"id": ids.add(qti_id)}
        images, audios = _media_elements(content)
        if audios:
            if len(audios) > 1:
                raise Skip(f"unsupported media: {len(audios)} audio files in one choice")
            option["audio"] = media.ref(audios[0], media.folder, "audio")
            remove(audios[0])
        if images:
            option["image"] = media.ref(images[0], media.folder, "image")
            remove(images[0])
            if len(images) > 1:
                raise Skip(_MORE_IMAGES.format(n=len(images), where=f"choice {qti_id}"))
        text = _inner_html(content)
        if text:
            option["text"] = f'<span dir="rtl">{text}</span>' if rtl else text
        options.append(option)
    return options


def _shuffle(interaction: Element, choices: Iterable[Element]) -> bool:
    # eTest shuffles all options or none: an author who pinned one ("None of the above") keeps
    # the authored order rather than see the pinned option move.
    return _flag(interaction, "shuffle") and not any(_flag(c, "fixed") for c in choices)


def _simple_choices(
    interaction: Element, declaration: Element, media: _Media, rtl: bool
) -> tuple[list[Element], list[dict[str, Any]], list[str]]:
    """The choices, the options made of them and the key as option ids (choice and order)."""
    choices = descendants(interaction, "simpleChoice")
    correct = _require_correct(declaration)
    ids = _Ids()
    options = _options(choices, ids, media, rtl)
    return choices, options, [ids.get(v, "choice") for v in correct]


def _choice(interaction: Element, declaration: Element, media: _Media, rtl: bool) -> dict[str, Any]:
    choices, options, correct = _simple_choices(interaction, declaration, media, rtl)
    key = list(dict.fromkeys(correct))
    cardinality = (declaration.get("cardinality") or "").strip().lower()
    max_choices = (interaction.get("maxChoices") or "").strip()
    single = (
        cardinality == "single"
        or (not cardinality and max_choices == "1")
        or (max_choices == "1" and len(key) == 1)
    )
    return {
        "type": "single_choice" if single else "multiple_choice",
        "options": options,
        "key": {"correct": key},
        "shuffle_options": _shuffle(interaction, choices),
    }


def _text_entry(declaration: Element) -> dict[str, Any]:
    accepted = _correct_values(declaration)
    exact = False
    mapping = child(declaration, "mapping")
    if mapping is not None:
        for entry in children(mapping, "mapEntry"):
            value = _number(entry.get("mappedValue") or "0")
            answer = " ".join((entry.get("mapKey") or "").split())
            if value is not None and value > 0 and answer:
                accepted.append(answer)
                exact = exact or _flag(entry, "caseSensitive")
    accepted = list(dict.fromkeys(accepted))
    if not accepted:
        raise Skip(_no_key_reason(declaration))
    key: dict[str, Any] = {
        "accepted": accepted,
        "normalize": "exact" if exact else "casefold_punctuation",
    }
    base_type = (declaration.get("baseType") or "").strip()
    if base_type in ("float", "integer"):
        key["number"] = _numeric_key(declaration, accepted, integer=base_type == "integer")
    return {"type": "text_entry", "shuffle_options": False, "key": key}


def _numeric_key(declaration: Element, accepted: list[str], *, integer: bool) -> dict[str, Any]:
    """A ``float`` / ``integer`` response is a number: "4.14" is 4.136 within 5 %, "4136" is
    not. The tolerance is the one response processing compares with (``equal``)."""
    values = [_number(v) for v in accepted]
    if any(v is None for v in values):
        bad = next(a for a, v in zip(accepted, values, strict=True) if v is None)
        kind = "integer" if integer else "float"
        raise Skip(f"invalid key: {bad[:60]!r} is not a number (baseType {kind})")
    correct = _correct_values(declaration)
    value = _number(correct[0]) if correct else values[0]
    assert value is not None
    key: dict[str, Any] = {"value": value, "integer": integer}
    rid = (declaration.get("identifier") or "").strip()
    root = declaration.getparent()
    processing = child(root, "responseProcessing") if root is not None else None
    for equal in descendants(processing, "equal") if processing is not None else []:
        names = {(v.get("identifier") or "").strip() for v in descendants(equal, "variable")}
        names |= {(v.get("identifier") or "").strip() for v in descendants(equal, "correct")}
        if rid not in names:
            continue
        mode = (equal.get("toleranceMode") or "exact").strip()
        if mode not in ("exact", "absolute", "relative"):
            raise Skip(f"invalid key: toleranceMode {mode[:30]!r}")
        if mode != "exact":
            tolerance = [_number(t) for t in (equal.get("tolerance") or "").split()]
            if not 1 <= len(tolerance) <= 2 or any(t is None or t < 0 for t in tolerance):
                raise Skip(f"invalid key: tolerance {(equal.get('tolerance') or '')[:30]!r}")
            key["tolerance_mode"] = mode
            key["tolerance"] = tolerance
            key["include_lower"] = (equal.get("includeLowerBound") or "true").strip() != "false"
            key["include_upper"] = (equal.get("includeUpperBound") or "true").strip() != "false"
        break
    return key


def _order(interaction: Element, declaration: Element, media: _Media, rtl: bool) -> dict[str, Any]:
    choices, options, order = _simple_choices(interaction, declaration, media, rtl)
    return {
        "type": "ordering",
        "options": options,
        "key": {"order": order},
        "shuffle_options": _shuffle(interaction, choices),
    }


def _match(interaction: Element, declaration: Element, media: _Media, rtl: bool) -> dict[str, Any]:
    sets = descendants(interaction, "simpleMatchSet")
    if len(sets) != 2:
        raise Skip(f"unsupported response: a matchInteraction with {len(sets)} match sets")
    correct = _require_correct(declaration)
    left = children(sets[0], "simpleAssociableChoice")
    right = children(sets[1], "simpleAssociableChoice")
    left_ids, right_ids = _Ids(), _Ids()
    options = _options(left, left_ids, media, rtl)
    targets = _options(right, right_ids, media, rtl)
    left_qti = {(c.get("identifier") or "").strip() for c in left}
    pairs = []
    for value in correct:
        parts = value.split()
        if len(parts) != 2:
            raise Skip(f"malformed pair in correct response: {value!r}")
        src, tgt = parts
        if src not in left_qti and tgt in left_qti:
            # A pair written target-first (baseType pair is unordered): orient it.
            src, tgt = tgt, src
        pairs.append((left_ids.get(src, "choice"), right_ids.get(tgt, "target")))
    return {
        "type": "matching",
        "options": options,
        "targets": targets,
        "key": {"pairs": list(dict.fromkeys(pairs))},
        "shuffle_options": _shuffle(interaction, [*left, *right]),
    }


# --- items with a body: cloze, gap_match, hottext ---------------------------------------------


def _cloze(
    root: Element, body: Element, interactions: list[Element], media: _Media, rtl: bool
) -> tuple[dict[str, Any], Element]:
    """Text entries and inline choices in running text: one gap each, keyed by its own
    response declaration (a text entry as a lone one would be; an inline choice by its correct
    choice). The whole item body, each interaction replaced by ``[[gap id]]``, is the body."""
    _at_most(len(interactions), _MAX_GAPS, "gaps")
    nodes = list(body.iter())
    position = {id(el): n for n, el in enumerate(nodes)}  # nodes keeps every proxy alive
    clone = copy.deepcopy(body)
    clone_nodes = list(clone.iter())
    gap_ids = _Ids()
    gaps: list[dict[str, Any]] = []
    keys: dict[str, Any] = {}
    shuffles: list[bool] = []
    seen: set[str] = set()
    for interaction in interactions:
        declaration = _declaration(root, interaction)
        rid = (declaration.get("identifier") or "").strip()
        if rid in seen:
            raise Skip(f"unsupported response: two interactions answer {rid}")
        seen.add(rid)
        gap: dict[str, Any] = {"id": gap_ids.add(rid)}
        if interaction.tag == "textEntryInteraction":
            keys[gap["id"]] = _text_entry(declaration)["key"]
            length = _number(interaction.get("expectedLength"))
            if length is not None and length >= 1:
                gap["expected_length"] = min(int(length), 200)
        else:
            choices = children(interaction, "inlineChoice")
            ids = _Ids()
            options = _options(choices, ids, media, rtl)
            correct = list(dict.fromkeys(_require_correct(declaration)))
            if len(correct) != 1:
                raise Skip(
                    f"invalid key: the inline choice {rid} has {len(correct)} correct responses"
                )
            right = ids.get(correct[0], "choice")
            # An empty choice is the drop-down's "nothing chosen yet": choosing it scores as
            # leaving the gap empty, which is what eTest's drop-down offers anyway.
            gap["choices"] = [o for o in options if len(o) > 1 or o["id"] == right]
            keys[gap["id"]] = {"correct": right}
            shuffles.append(_shuffle(interaction, choices))
        gaps.append(gap)
        remove(clone_nodes[position[id(interaction)]], f"[[{gap['id']}]]")
    for player in [
        el for el in clone.iter() if is_element(el) and el.tag in _STIMULUS_INTERACTIONS
    ]:
        _unwrap(player)  # its audio becomes the stimulus audio, as beside any interaction
    fields = {
        "type": "cloze",
        "gaps": gaps,
        "key": {"gaps": keys},
        # eTest shuffles every inline choice or none
        "shuffle_options": bool(shuffles) and all(shuffles),
    }
    return fields, clone


#: What one eTest item holds (ItemIn: options, gaps), checked before the work that grows with them.
_MAX_OPTIONS = 20
_MAX_GAPS = 40


def _at_most(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise Skip(f"unsupported response: {count} {what} (eTest keeps up to {limit} in one item)")


def _without_prompt(interaction: Element) -> Element:
    clone = copy.deepcopy(interaction)
    for prompt in children(clone, "prompt"):
        remove(prompt)
    return clone


def _gap_match(
    interaction: Element, declaration: Element, media: _Media, rtl: bool
) -> tuple[dict[str, Any], Element]:
    """The words (``gapText``, ``gapImg``) become options that fill at most ``matchMax`` gaps
    (0: any number); each ``gap`` of the text becomes ``[[gap id]]``; the key is the correct
    response's pairs (word gap), one point a gap."""
    clone = _without_prompt(interaction)
    words = [c for c in clone if is_element(c) and c.tag in ("gapText", "gapImg")]
    gap_els = descendants(clone, "gap")
    _at_most(len(words), _MAX_OPTIONS, "words")
    _at_most(len(gap_els), _MAX_GAPS, "gaps")
    ids = _Ids()
    options = _options(words, ids, media, rtl)
    for word, option in zip(words, options, strict=True):
        uses = _number(word.get("matchMax"))
        uses_n = 1 if uses is None else int(uses)
        if uses_n > 20:
            if uses_n < len(gap_els):
                raise Skip(f"unsupported response: matchMax {uses_n} (eTest allows up to 20)")
            uses_n = 0  # at least as many as there are gaps: any number
        if uses_n != 1:
            option["max_uses"] = max(uses_n, 0)
        remove(word)
    gap_ids = _Ids()
    word_qti = {(w.get("identifier") or "").strip() for w in words}
    gap_qti: set[str] = set()
    for gap in gap_els:
        qti_id = (gap.get("identifier") or "").strip()
        if not qti_id:
            raise Skip("a gap has no identifier")
        gap_qti.add(qti_id)
        remove(gap, f"[[{gap_ids.add(qti_id)}]]")
    pairs = []
    for value in _require_correct(declaration):
        parts = value.split()
        if len(parts) != 2:
            raise Skip(f"malformed pair in correct response: {value!r}")
        word_id, gap_id = parts
        if word_id not in word_qti and gap_id in word_qti and word_id in gap_qti:
            word_id, gap_id = gap_id, word_id  # a pair written gap-first (baseType pair)
        pairs.append((ids.get(word_id, "word"), gap_ids.get(gap_id, "gap")))
    fields = {
        "type": "gap_match",
        "options": options,
        "gaps": [{"id": gap_ids.get((g.get("identifier") or "").strip(), "gap")} for g in gap_els],
        "key": {"pairs": list(dict.fromkeys(pairs))},
        "shuffle_options": _shuffle(interaction, words),
    }
    return fields, clone


def _hottext(
    interaction: Element, declaration: Element, media: _Media, rtl: bool
) -> tuple[dict[str, Any], Element]:
    """Each ``hottext`` becomes an option (its content) and ``[[option id]]`` in the body; the
    correct response names the right ones, no more than ``maxChoices`` allows."""
    clone = _without_prompt(interaction)
    hottexts = descendants(clone, "hottext")
    _at_most(len(hottexts), _MAX_OPTIONS, "choosable texts")
    if any(descendants(h, "hottext")[1:] for h in hottexts):
        raise Skip("unsupported markup: a hottext inside another hottext")
    ids = _Ids()
    options = _options(hottexts, ids, media, rtl)
    for hottext, option in zip(hottexts, options, strict=True):
        remove(hottext, f"[[{option['id']}]]")
    correct = list(dict.fromkeys(ids.get(v, "choice") for v in _require_correct(declaration)))
    limit = _number(interaction.get("maxChoices"))
    most = 1 if limit is None else int(limit)
    if most and len(correct) > most:
        raise Skip(f"invalid key: {len(correct)} correct choices, but maxChoices is {most}")
    fields = {
        "type": "hottext",
        "options": options,
        "key": {"correct": correct},
        "shuffle_options": False,  # the pieces stand where the text has them
    }
    return fields, clone


def _marked_html(el: Element, fields: dict[str, Any], rtl: bool) -> str:
    """The body field: the element's sanitised HTML, checked to keep every marker once."""
    html_text = _inner_html(el)
    wanted = [g["id"] for g in fields.get("gaps", [])] or [o["id"] for o in fields["options"]]
    if sorted(MARKER.findall(html_text)) != sorted(wanted):
        raise Skip("unsupported markup: a gap or choosable text stands where eTest cannot keep it")
    return f'<div dir="rtl">{html_text}</div>' if rtl else html_text


# --- body HTML ----------------------------------------------------------------------------------


def _body_without(body: Element, interaction: Element) -> Element:
    nodes = list(body.iter())
    index = nodes.index(interaction)
    clone = copy.deepcopy(body)
    target = list(clone.iter())[index]
    # An inline gap (text entry) stays visible as a blank; a block interaction leaves no trace.
    remove(target, _INLINE_GAP if interaction.tag == "textEntryInteraction" else "")
    for media_interaction in [
        el for el in clone.iter() if is_element(el) and el.tag in _STIMULUS_INTERACTIONS
    ]:
        # The player's <object>/<audio> stays where it was; only the wrapper goes.
        _unwrap(media_interaction)
    return clone


def _unwrap(el: Element) -> None:
    """Replace ``el`` by its content."""
    if el.getparent() is None:
        return
    text_before(el, el.text or "")
    el.text = None
    for kid in list(el):
        el.addprevious(kid)  # lxml moves the tail along with the element
    remove(el)


def _drop_not_content(root: Element) -> None:
    for el in [e for e in root.iter() if is_element(e) and e is not root]:
        if el.tag in _NOT_CONTENT or (
            el.tag == "rubricBlock" and "candidate" not in (el.get("view") or "").split()
        ):
            remove(el)
        elif el.tag in ("annotation", "annotation-xml"):
            # MathML annotations (TeX sources) are alternatives to the rendering, not text.
            remove(el)


_PRUNABLE = {
    "p",
    "div",
    "span",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "figure",
    "figcaption",
    "blockquote",
    "center",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "small",
    "font",
    "label",
    "a",
}


def _tidy(root: Element) -> None:
    """Drop containers left empty once interactions and promoted media are gone, and the
    indentation inside MathML (insignificant there, noisy in stored HTML)."""
    for el in reversed([e for e in root.iter() if is_element(e) and e is not root]):
        if el.tag in _PRUNABLE and len(el) == 0 and not (el.text or "").strip():
            remove(el)
    for formula in list(root.iter("math")):
        for el in formula.iter():
            if el.text is not None and not el.text.strip():
                el.text = None
            if el is not formula and el.tail is not None and not el.tail.strip():
                el.tail = None


def _inner_html(el: Element) -> str:
    _tidy(el)
    _hidden_text(el)
    raw = html.escape(el.text or "", quote=False) + "".join(to_html(kid) for kid in el)
    cleaned = _clean(raw)
    if not "".join(_TAGS.sub("", cleaned).split()):
        return ""
    return cleaned


_TAGS = re.compile(r"<[^>]*>")


def _hidden_text(root: Element) -> None:
    """Text for screen readers only keeps the one class storage keeps for it; other classes
    would be removed anyway (and a removed ``sr-only`` would show the text to everyone)."""
    for el in root.iter():
        if not is_element(el) or el.get("class") is None:
            continue
        classes = set((el.get("class") or "").split())
        if classes & HIDDEN_CLASSES:
            el.set("class", HIDDEN_CLASS)
        else:
            del el.attrib["class"]


def _clean(raw: str) -> str:
    """The HTML as storage will keep it (:func:`etest.content.sanitize.clean_html`), or Skip
    when cleaning would remove words, formulas or pictures from it."""
    lost = lost_text(raw)
    if lost is not None:
        raise Skip(f"unsupported markup: {lost}")
    cleaned = clean_html(raw)
    if "<pre" not in cleaned:
        cleaned = re.sub(r"[ \t\r\f\v]*\n\s*", "\n", cleaned)
    return cleaned.strip()


# --- media --------------------------------------------------------------------------------------


def _media_type(el: Element) -> str | None:
    """ "image", "audio", "video", "other" (embedded content eTest cannot show) or None."""
    if el.tag == "img":
        return "image"
    if el.tag in ("audio", "video"):
        return str(el.tag)
    if el.tag in ("object", "embed"):
        mime = (el.get("type") or "").strip().lower()
        for kind in ("image", "audio", "video"):
            if mime.startswith(kind + "/"):
                return kind
        ext = _extension(el.get("data") or el.get("src") or "")
        if ext in _IMAGE_EXT:
            return "image"
        if ext in _AUDIO_EXT:
            return "audio"
        if ext in _VIDEO_EXT or mime.startswith("application/x-shockwave"):
            return "video"
        if (el.get("data") or el.get("src") or "").strip():
            return "other"
    if el.tag in ("iframe", "include"):  # include: XInclude of shared content
        return "other"
    return None


def _extension(ref: str) -> str:
    path = ref.split("?", 1)[0].split("#", 1)[0]
    return posixpath.splitext(path)[1].lstrip(".").lower()


def _media_elements(root: Element) -> tuple[list[Element], list[Element]]:
    images: list[Element] = []
    audios: list[Element] = []
    found: set[Element] = set()
    for el in root.iter():
        # An <img> inside an <object> is the object's fallback, not a second picture.
        if not is_element(el) or any(a in found for a in el.iterancestors()):
            continue
        kind = _media_type(el)
        if kind == "video":
            raise Skip("unsupported media: video")
        if kind == "other":
            what = el.get("type") or _extension(_source_of(el) or el.get("href") or "")
            raise Skip(f"unsupported media: <{el.tag}> {what}".rstrip())
        if kind == "image":
            images.append(el)
            found.add(el)
        elif kind == "audio":
            audios.append(el)
            found.add(el)
    return images, audios


def _source_of(el: Element) -> str:
    ref = (el.get("src") or el.get("data") or "").strip()
    if not ref and el.tag in ("audio", "video"):
        sources = [src for src in descendants(el, "source") if (src.get("src") or "").strip()]
        # MP3 plays everywhere; Ogg does not play in Safari.
        sources.sort(
            key=lambda src: (
                0
                if "mpeg" in (src.get("type") or "").lower()
                or _extension(src.get("src") or "") == "mp3"
                else 1
            )
        )
        ref = (sources[0].get("src") or "").strip() if sources else ""
    return ref


class _Media:
    """Resolves, checks and collects the media files one item uses."""

    def __init__(self, files: Files, folder: str) -> None:
        self.files = files
        self.folder = folder  # the item's folder
        self.used: dict[str, bytes] = {}

    def ref(self, el: Element, folder: str, kind: str) -> dict[str, Any]:
        key = self._load(_source_of(el), folder, kind)
        alt = el.get("alt") if el.tag == "img" else text_of(el) if el.tag == "object" else None
        alt = " ".join((alt or "").split())[:500] or None
        return {"src": key, "alt": alt}

    def _load(self, ref: str, folder: str, kind: str) -> str:
        if not ref:
            raise Skip(f"missing media: an {kind} element without a source")
        if ref.lower().startswith("data:"):
            return self._data_uri(ref, kind)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", ref) or ref.startswith("//"):
            raise Skip(f"external media: {ref[:200]}")
        path = resolve_path(folder, ref)
        if path is None:
            raise Skip(f"media outside the package: {ref[:200]}")
        key = self.files.find(path)
        if key is None:
            raise Skip(f"missing media: {path}")
        data = self.files.read(key)
        _check_media(data, key, kind)
        self.used[key] = data
        return key

    def _data_uri(self, ref: str, kind: str) -> str:
        match = re.match(r"^data:([\w.+\-]+/[\w.+\-]+)?(;[^,]*)?,(.*)$", ref, re.DOTALL)
        if match is None or "base64" not in (match.group(2) or ""):
            raise Skip("unsupported media: a data: URI that is not base64")
        try:
            data = base64.b64decode(match.group(3), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise Skip("unsupported media: a data: URI that does not decode") from exc
        mime = (match.group(1) or "").lower()
        ext = mime.split("/")[-1].replace("jpeg", "jpg").replace("svg+xml", "svg") or "bin"
        key = f"_inline/{hashlib.sha256(data).hexdigest()[:24]}.{ext}"
        _check_media(data, key, kind)
        self.used[key] = data
        return key


def resolve_path(folder: str, ref: str) -> str | None:
    """``ref`` as written in a document of ``folder`` → a normalised path relative to the
    package root, or None when it leaves the package. ``/x`` is root-relative (never the file
    system root)."""
    ref = ref.replace("\\", "/").split("#", 1)[0].split("?", 1)[0].strip()
    if not ref:
        return None
    joined = ref.lstrip("/") if ref.startswith("/") else posixpath.join(folder, ref)
    norm = posixpath.normpath(joined)
    if norm in (".", "") or norm == ".." or norm.startswith(("../", "/")):
        return None
    return norm


def _sniff(data: bytes) -> str | None:
    head = data[:64]
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"\x00\x00\x01\x00")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in (b"avif", b"avis") else "audio"
    if (
        head.startswith((b"ID3", b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    ):
        return "audio"
    text = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in text:
        return "svg"
    return None


def _check_media(data: bytes, key: str, kind: str) -> None:
    found = _sniff(data)
    if found == "svg":
        if kind != "image":
            raise Skip(f"unsupported media: {key} is an image, used as {kind}")
        if _UNSAFE_SVG.search(data):
            raise Skip(f"unsafe media: {key} (SVG with script or event handlers)")
        return
    if found is None:
        raise Skip(f"unsupported media: {key} is not a recognised {kind} file")
    if found != kind:
        raise Skip(
            f"unsupported media: {key} is {'an' if found == 'image' else 'a'} "
            f"{found} file, used as {kind}"
        )


# --- QTI 3 shared stimuli -----------------------------------------------------------------------


def _shared_stimuli(
    root: Element, path: str, files: Files, max_xml_bytes: int
) -> list[tuple[Element, str]]:
    out: list[tuple[Element, str]] = []
    for ref in children(root, "assessmentStimulusRef"):
        href = (ref.get("href") or "").strip()
        target = resolve_path(posixpath.dirname(path), href) if href else None
        if target is None:
            raise Skip(f"stimulus outside the package: {href[:200] or '(none)'}")
        key = files.find(target)
        if key is None:
            raise Skip(f"missing stimulus: {target}")
        if files.size(key) > max_xml_bytes:
            raise Skip(f"XML too large: stimulus {key}")
        try:
            stim = read_document(files.read(key))
        except XmlRejected as exc:
            raise Skip(f"{exc} (stimulus {key})") from exc
        body = child(stim, "stimulusBody")
        if body is None:
            raise Skip(f"missing stimulus: {key} has no stimulus body")
        out.append((body, posixpath.dirname(key)))
    return out
