"""Answer checking per item type. An answer of the wrong shape, or naming an option the item
does not have, is refused (422 ``invalid-answer``) rather than scored as wrong."""

from __future__ import annotations

import string
import unicodedata
from typing import Any

from etest.attempt.errors import InvalidAnswer


def _ids(answer: Any, allowed: set[str], what: str) -> list[str]:
    if isinstance(answer, str):
        answer = [answer]
    if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
        raise InvalidAnswer(f"{what}: expected a list of option ids")
    unknown = [a for a in answer if a not in allowed]
    if unknown:
        raise InvalidAnswer(f"{what}: unknown option ids {unknown}")
    return list(answer)


def normalize(text: str, rule: str) -> str:
    if rule == "exact":
        return text
    text = unicodedata.normalize("NFKC", text).strip()
    text = " ".join(text.split())
    if rule == "trim":
        return text
    text = text.casefold()
    if rule == "casefold_punctuation":
        text = text.translate(str.maketrans("", "", string.punctuation + "’‘“”…¿¡")).strip()
        text = " ".join(text.split())
    return text


def check(
    item_type: str, key: dict[str, Any], options: list[str], targets: list[str], answer: Any
) -> tuple[Any, bool]:
    """The answer in canonical form and whether it is correct."""
    allowed = set(options)
    if item_type == "single_choice":
        chosen = _ids(answer, allowed, "single_choice")
        if len(chosen) != 1:
            raise InvalidAnswer("single_choice: choose exactly one option")
        return chosen[0], chosen == list(key["correct"])
    if item_type == "multiple_choice":
        chosen = sorted(set(_ids(answer, allowed, "multiple_choice")))
        if not chosen:
            raise InvalidAnswer("multiple_choice: choose at least one option")
        return chosen, chosen == sorted(key["correct"])
    if item_type == "text_entry":
        if not isinstance(answer, str) or len(answer) > 500 or "\x00" in answer:
            raise InvalidAnswer("text_entry: expected a text of at most 500 characters")
        rule = key.get("normalize", "casefold_punctuation")
        accepted = {normalize(a, rule) for a in key["accepted"]}
        return answer, normalize(answer, rule) in accepted
    if item_type == "ordering":
        order = _ids(answer, allowed, "ordering")
        if sorted(order) != sorted(options):
            raise InvalidAnswer("ordering: list every option exactly once")
        return order, order == list(key["order"])
    if item_type == "matching":
        if isinstance(answer, dict):
            answer = [[k, v] for k, v in answer.items()]
        if not isinstance(answer, list) or not all(
            isinstance(p, list | tuple) and len(p) == 2 for p in answer
        ):
            raise InvalidAnswer("matching: expected a list of [option, target] pairs")
        pairs = sorted((str(a), str(b)) for a, b in answer)
        if any(a not in allowed or b not in set(targets) for a, b in pairs):
            raise InvalidAnswer("matching: unknown option or target id")
        return [list(p) for p in pairs], pairs == sorted((a, b) for a, b in key["pairs"])
    raise InvalidAnswer(f"unsupported item type {item_type!r}")
