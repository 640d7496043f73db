"""Answer checking per item type. An answer of the wrong shape, or naming an option the item
does not have, is refused (422 ``invalid-answer``) rather than scored as wrong.

Items with gaps (cloze, gap_match) are scored per gap: :func:`score` gives the points earned of
the item's :func:`~etest.content.schemas.max_points`, and ``correct`` is full credit. Answer
shapes: cloze ``{gap id: typed text or choice id}`` (a gap left out or empty scores 0);
gap_match ``[[word id, gap id], …]`` or ``{gap id: word id}`` (a gap takes one word, a word
fills at most its ``max_uses`` gaps); hottext, like a choice, the id(s) chosen."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Any

from etest.attempt.errors import InvalidAnswer
from etest.content.schemas import max_points


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


@dataclass(frozen=True)
class Scored:
    """An answer in canonical form with its points (``points == max_points``: ``correct``)."""

    answer: Any
    points: int
    max_points: int

    @property
    def correct(self) -> bool:
        return self.points == self.max_points

    @property
    def polytomous(self) -> bool:
        return self.max_points > 1


def _typed_correct(text: str, key: dict[str, Any]) -> bool:
    if key.get("number"):
        return _number_correct(text, key["number"], key["accepted"])
    rule = key.get("normalize", "casefold_punctuation")
    return normalize(text, rule) in {normalize(a, rule) for a in key["accepted"]}


def _cloze(key: dict[str, Any], gaps: list[dict[str, Any]], answer: Any) -> Scored:
    if not isinstance(answer, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in answer.items()
    ):
        raise InvalidAnswer("cloze: expected {gap id: text or choice id}")
    by_id = {g["id"]: g for g in gaps}
    unknown = sorted(set(answer) - set(by_id))
    if unknown:
        raise InvalidAnswer(f"cloze: unknown gap ids {unknown}")
    canonical: dict[str, str] = {}
    points = 0
    for gap_id, gap in by_id.items():
        given = answer.get(gap_id) or ""
        if len(given) > 200 or "\x00" in given:
            raise InvalidAnswer(f"cloze: gap {gap_id!r} takes at most 200 characters")
        if not given.strip():
            continue
        gap_key = key["gaps"][gap_id]
        if gap["choices"]:
            if given not in {c["id"] for c in gap["choices"]}:
                raise InvalidAnswer(f"cloze: gap {gap_id!r} has no choice {given!r}")
            points += given == gap_key["correct"]
        else:
            points += _typed_correct(given, gap_key)
        canonical[gap_id] = given
    if not canonical:
        raise InvalidAnswer("cloze: fill at least one gap")
    return Scored(canonical, points, len(by_id))


def _gap_match(
    key: dict[str, Any], options: list[dict[str, Any]], gaps: list[dict[str, Any]], answer: Any
) -> Scored:
    if isinstance(answer, dict):
        answer = [[word, gap] for gap, word in answer.items() if word]
    if not isinstance(answer, list) or not all(
        isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)
        for p in answer
    ):
        raise InvalidAnswer("gap_match: expected a list of [word id, gap id] pairs")
    uses = {o["id"]: int(o.get("max_uses", 1)) for o in options}
    gap_ids = {g["id"] for g in gaps}
    placed: dict[str, str] = {}
    for word, gap in answer:
        if word not in uses or gap not in gap_ids:
            raise InvalidAnswer("gap_match: unknown word or gap id")
        if gap in placed:
            raise InvalidAnswer(f"gap_match: gap {gap!r} takes one word")
        placed[gap] = word
    if not placed:
        raise InvalidAnswer("gap_match: place at least one word")
    for word, limit in uses.items():
        if limit and sum(1 for w in placed.values() if w == word) > limit:
            raise InvalidAnswer(f"gap_match: {word!r} fills at most {limit} gap(s)")
    right = {(str(w), str(g)) for w, g in key["pairs"]}
    points = sum((word, gap) in right for gap, word in placed.items())
    return Scored([[placed[g], g] for g in sorted(placed)], points, len(gap_ids))


def score(
    item_type: str,
    key: dict[str, Any],
    options: list[str],
    targets: list[str],
    answer: Any,
    *,
    option_rows: list[dict[str, Any]] | None = None,
    gaps: list[dict[str, Any]] | None = None,
) -> Scored:
    """The answer in canonical form with its points. ``option_rows`` (the item's stored
    options, for gap_match's ``max_uses``) and ``gaps`` are needed by gap items only."""
    if item_type == "cloze":
        return _cloze(key, gaps or [], answer)
    if item_type == "gap_match":
        rows = option_rows if option_rows is not None else [{"id": o} for o in options]
        return _gap_match(key, rows, gaps or [], answer)
    if item_type == "hottext":
        chosen = sorted(set(_ids(answer, set(options), "hottext")))
        if not chosen:
            raise InvalidAnswer("hottext: choose at least one part of the text")
        if len(key["correct"]) == 1 and len(chosen) != 1:
            raise InvalidAnswer("hottext: choose exactly one part of the text")
        canonical: Any = chosen[0] if len(key["correct"]) == 1 else chosen
        return Scored(canonical, int(chosen == sorted(key["correct"])), 1)
    canonical, correct = check(item_type, key, options, targets, answer)
    assert max_points(item_type, gaps) == 1
    return Scored(canonical, int(correct), 1)


def check(
    item_type: str, key: dict[str, Any], options: list[str], targets: list[str], answer: Any
) -> tuple[Any, bool]:
    """The answer in canonical form and whether it is correct (items scored 0 or 1 other
    than hottext; :func:`score` takes every type)."""
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
        return answer, _typed_correct(answer, key)
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
