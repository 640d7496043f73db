"""Answers from plain HTML forms, one shape per item type, checked before the service sees them
so that a person gets a sentence rather than a schema error. The service checks again.

Field names: ``answer`` (choice ids or the typed text; hottext: the ids of the pieces of text
chosen), ``order-<position>`` (an option id per position, 1-based), ``match-<n>`` (the target id
chosen for the n-th option, 1-based) and ``gap-<gap id>`` (cloze: the text typed or the choice
id chosen in that gap; gap_match: the word id put in it).

The sentences of the items with a body are English source text marked with ``N_``; the page
translates them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from etest.attempt.views import choose_one
from etest.kit.i18n import N_
from etest.models import Item

MAX_TEXT = 500
#: The longest text a cloze gap takes (the scorer refuses more).
MAX_GAP_TEXT = 200


@dataclass
class Given:
    """What the candidate sent, kept to fill the form again when it is refused."""

    chosen: list[str] = field(default_factory=list)
    text: str = ""
    order: list[str] = field(default_factory=list)
    match: dict[str, str] = field(default_factory=dict)
    #: cloze and gap_match: what each gap holds, by gap id
    gaps: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    answer: Any
    error: str | None
    given: Given


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cloze(form: FormData, item: Item, given: Given) -> Parsed:
    for gap in item.gaps or []:
        given.gaps[gap["id"]] = _str(form.get(f"gap-{gap['id']}"))
    filled = {g: v for g, v in given.gaps.items() if v.strip()}
    if not filled:
        return Parsed(None, N_("Fill in at least one gap."), given)
    if any(len(v) > MAX_GAP_TEXT for v in filled.values()):
        return Parsed(
            None,
            N_("An answer in a gap is too long: use at most 200 characters in each gap."),
            given,
        )
    for gap in item.gaps or []:
        choices = {c["id"] for c in gap.get("choices") or []}
        if choices and gap["id"] in filled and filled[gap["id"]] not in choices:
            return Parsed(None, N_("Choose each gap's answer from its list."), given)
    return Parsed(filled, None, given)


def _gap_match(form: FormData, item: Item, given: Given) -> Parsed:
    words = {o["id"]: o for o in item.options}
    for gap in item.gaps or []:
        word = _str(form.get(f"gap-{gap['id']}"))
        if word:
            given.gaps[gap["id"]] = word
    if not given.gaps:
        return Parsed(None, N_("Choose a word for at least one gap."), given)
    if any(w not in words for w in given.gaps.values()):
        return Parsed(None, N_("Choose each word from the list."), given)
    for word_id, row in words.items():
        limit = int(row.get("max_uses", 1))
        if limit and sum(1 for w in given.gaps.values() if w == word_id) > limit:
            # one sentence without the word in it, so that it is one entry of the catalog
            return Parsed(
                None,
                N_(
                    "A word is in more gaps than it may fill: choose a different word for the "
                    "other gaps."
                ),
                given,
            )
    return Parsed(dict(given.gaps), None, given)


def parse_answer(
    item_type: str,
    form: FormData,
    options: list[str],
    targets: list[str],
    *,
    item: Item | None = None,
) -> Parsed:
    """The answer in the API's shape, or an error message for the person. Items with a body
    (cloze, gap_match, hottext) need the ``item``: its gaps, words and how many pieces of its
    text are chosen."""
    given = Given()
    if item_type in ("cloze", "gap_match") and item is not None:
        return (_cloze if item_type == "cloze" else _gap_match)(form, item, given)
    if item_type == "hottext" and item is not None:
        given.chosen = [v for v in (_str(x) for x in form.getlist("answer")) if v]
        if choose_one(item):
            if len(given.chosen) != 1:
                return Parsed(None, N_("Choose one part of the text."), given)
            return Parsed(given.chosen[0], None, given)
        if not given.chosen:
            return Parsed(None, N_("Choose at least one part of the text."), given)
        return Parsed(given.chosen, None, given)
    if item_type in ("single_choice", "multiple_choice"):
        given.chosen = [v for v in (_str(x) for x in form.getlist("answer")) if v]
        if item_type == "single_choice":
            if len(given.chosen) != 1:
                return Parsed(None, N_("Choose one answer."), given)
            return Parsed(given.chosen[0], None, given)
        if not given.chosen:
            return Parsed(None, N_("Choose at least one answer."), given)
        return Parsed(given.chosen, None, given)
    if item_type == "text_entry":
        given.text = _str(form.get("answer"))
        if not given.text.strip():
            return Parsed(None, N_("Type your answer in the box."), given)
        if len(given.text) > MAX_TEXT:
            # the number is in the sentence (MAX_TEXT): one entry of the catalog
            return Parsed(None, N_("Your answer is too long: use at most 500 characters."), given)
        return Parsed(given.text, None, given)
    if item_type == "ordering":
        given.order = [_str(form.get(f"order-{n}")) for n in range(1, len(options) + 1)]
        if sorted(given.order) != sorted(options):
            return Parsed(
                None,
                N_("Put each part in exactly one position: every position needs a different part."),
                given,
            )
        return Parsed(given.order, None, given)
    if item_type == "matching":
        for n, option in enumerate(options, start=1):
            target = _str(form.get(f"match-{n}"))
            if target:
                given.match[option] = target
        if not given.match:
            return Parsed(None, N_("Choose a match for at least one item."), given)
        if any(t not in targets for t in given.match.values()):
            return Parsed(None, N_("Choose each match from the list."), given)
        return Parsed([[o, t] for o, t in given.match.items()], None, given)
    return Parsed(None, N_("This kind of question cannot be answered here."), given)
