"""Answers from plain HTML forms, one shape per item type, checked before the service sees them
so that a person gets a sentence rather than a schema error. The service checks again.

Field names: ``answer`` (choice ids or the typed text), ``order-<position>`` (an option id per
position, 1-based) and ``match-<n>`` (the target id chosen for the n-th option, 1-based)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

MAX_TEXT = 500


@dataclass
class Given:
    """What the candidate sent, kept to fill the form again when it is refused."""

    chosen: list[str] = field(default_factory=list)
    text: str = ""
    order: list[str] = field(default_factory=list)
    match: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    answer: Any
    error: str | None
    given: Given


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_answer(item_type: str, form: FormData, options: list[str], targets: list[str]) -> Parsed:
    """The answer in the API's shape, or an error message for the person."""
    given = Given()
    if item_type in ("single_choice", "multiple_choice"):
        given.chosen = [v for v in (_str(x) for x in form.getlist("answer")) if v]
        if item_type == "single_choice":
            if len(given.chosen) != 1:
                return Parsed(None, "Choose one answer.", given)
            return Parsed(given.chosen[0], None, given)
        if not given.chosen:
            return Parsed(None, "Choose at least one answer.", given)
        return Parsed(given.chosen, None, given)
    if item_type == "text_entry":
        given.text = _str(form.get("answer"))
        if not given.text.strip():
            return Parsed(None, "Type your answer in the box.", given)
        if len(given.text) > MAX_TEXT:
            return Parsed(
                None, f"Your answer is too long: use at most {MAX_TEXT} characters.", given
            )
        return Parsed(given.text, None, given)
    if item_type == "ordering":
        given.order = [_str(form.get(f"order-{n}")) for n in range(1, len(options) + 1)]
        if sorted(given.order) != sorted(options):
            return Parsed(
                None,
                "Put each part in exactly one position: every position needs a different part.",
                given,
            )
        return Parsed(given.order, None, given)
    if item_type == "matching":
        for n, option in enumerate(options, start=1):
            target = _str(form.get(f"match-{n}"))
            if target:
                given.match[option] = target
        if not given.match:
            return Parsed(None, "Choose a match for at least one item.", given)
        if any(t not in targets for t in given.match.values()):
            return Parsed(None, "Choose each match from the list.", given)
        return Parsed([[o, t] for o, t in given.match.items()], None, given)
    return Parsed(None, "This kind of question cannot be answered here.", given)
