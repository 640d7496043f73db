"""Answer checking per item type. An answer of the wrong shape, or naming an option the item
does not have, is refused (422 ``invalid-answer``) rather than scored as wrong."""

from __future__ import annotations

import math
import re
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


_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")


def parse_number(text: str) -> float | None:
    """A candidate's typed number, or None. One decimal separator, a point or a comma ("4,14"
    in most of Europe); no thousands separators, so "4,136" is 4.136 and never 4136."""
    text = unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")
    if not _NUMBER.match(text) or text.count(",") + text.count(".") > 1:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _number_correct(answer: str, number: dict[str, Any], accepted: list[str]) -> bool:
    """QTI ``equal`` with ``toleranceMode``: exact, absolute (value - t0 … value + t1) or
    relative (percent of value); a further accepted number (a mapping's) scores when equal."""
    given = parse_number(answer)
    if given is None or (number.get("integer") and not given.is_integer()):
        return False
    value = float(number["value"])
    for other in accepted:
        alt = parse_number(other)
        if alt is not None and math.isclose(given, alt, rel_tol=1e-12, abs_tol=1e-12):
            return True
    mode = number.get("tolerance_mode", "exact")
    if mode == "exact":
        return math.isclose(given, value, rel_tol=1e-12, abs_tol=1e-12)
    t0, t1 = (list(number["tolerance"]) * 2)[:2]
    if mode == "absolute":
        low, high = value - t0, value + t1
    else:
        low, high = value * (1 - t0 / 100), value * (1 + t1 / 100)
        low, high = min(low, high), max(low, high)
    slack = 1e-12 * max(1.0, abs(low), abs(high))  # 4.136 × 1.05 is not exactly representable
    above = given > low - slack if number.get("include_lower", True) else given > low + slack
    below = given < high + slack if number.get("include_upper", True) else given < high - slack
    return bool(above and below)


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
        if key.get("number"):
            return answer, _number_correct(answer, key["number"], key["accepted"])
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
