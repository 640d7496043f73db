"""Issue 17: the demo bank's gap items (cloze, gap_match, hottext; docs/demo-bank.md). Every level
has each of the three types; every item's key scores full marks through the real scorer
(``etest.attempt.scoring.score``, one point a gap) and wrong answers score 0; typed gaps accept
the spellings a marker would and refuse plausible mistakes; a listening item's typed answers are
in its transcript and not in its body; at least one gap_match word fills two gaps. That the
stored rows score the same after a real import, on SQLite and PostgreSQL, is checked by
``test_demo_bank.test_the_importer_accepts_the_demo_folder``."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from etest.attempt.errors import InvalidAnswer
from etest.attempt.scoring import Scored, normalize, score
from etest.content.schemas import BODY_TYPES, MARKER, FlowFile, ItemIn
from etest.kit.levels import LEVELS

DEMO = Path(__file__).resolve().parents[2] / "src" / "etest" / "data" / "demo"
GAP_ITEMS: list[ItemIn] = [
    item
    for path in sorted(DEMO.glob("bank-*.json"))
    for item in FlowFile.model_validate(json.loads(path.read_text(encoding="utf-8"))).items
    if item.type in BODY_TYPES
]
BY_CODE = {item.code: item for item in GAP_ITEMS}


def stored(item: ItemIn) -> dict[str, Any]:
    """What scoring reads of an item, in the shapes the import stores."""
    return {
        "key": item.key.model_dump(),
        "options": [o.id for o in item.options],
        "option_rows": [o.model_dump() for o in item.options],
        "gaps": [g.model_dump() for g in item.gaps],
    }


def score_item(item: ItemIn, answer: Any) -> Scored:
    row = stored(item)
    return score(
        item.type,
        row["key"],
        row["options"],
        [],
        answer,
        option_rows=row["option_rows"],
        gaps=row["gaps"],
    )


def keyed_answer(item: ItemIn) -> Any:
    """The key as a candidate would answer it: the first accepted text, the right choice."""
    key = item.key.model_dump()
    if item.type == "cloze":
        return {
            gap: (k["correct"] if "correct" in k else k["accepted"][0])
            for gap, k in key["gaps"].items()
        }
    if item.type == "gap_match":
        return [list(pair) for pair in key["pairs"]]
    return key["correct"][0]


def wrong_answer(item: ItemIn) -> Any:
    """An answer of the right shape with nothing right: a typed text no gap accepts, a wrong
    choice, every gap filled with a word that does not belong there, the wrong piece of text."""
    key = item.key.model_dump()
    if item.type == "cloze":
        answer = {}
        for gap in item.gaps:
            right = key["gaps"][gap.id]
            if gap.choices:
                answer[gap.id] = next(c.id for c in gap.choices if c.id != right["correct"])
            else:
                answer[gap.id] = "zzz"
        return answer
    if item.type == "gap_match":
        right = {(w, g) for w, g in key["pairs"]}
        limit = {o.id: o.max_uses or len(item.gaps) for o in item.options}
        for words in itertools.product([o.id for o in item.options], repeat=len(item.gaps)):
            pairs = [[w, g.id] for w, g in zip(words, item.gaps, strict=True)]
            if not any((w, g) in right for w, g in pairs) and all(
                words.count(w) <= n for w, n in limit.items()
            ):
                return pairs
        raise AssertionError(f"{item.code}: no answer gets every gap wrong")
    return next(o.id for o in item.options if o.id not in key["correct"])


def test_every_level_has_each_gap_type() -> None:
    have = {(item.level, item.type) for item in GAP_ITEMS}
    missing = [(lv, t) for lv in LEVELS for t in sorted(BODY_TYPES) if (lv, t) not in have]
    assert missing == []
    assert 35 <= len(GAP_ITEMS) <= 45
    listening = [i for i in GAP_ITEMS if i.skill == "listening"]
    assert len(listening) >= 5 and all(i.type == "cloze" for i in listening)
    assert all(i.stimulus and i.stimulus.audio and i.stimulus.transcript for i in listening)


def test_gap_items_have_the_parameters_of_their_scoring() -> None:
    for item in GAP_ITEMS:
        assert item.irt is not None, item.code
        if item.type == "hottext":
            assert (item.irt.model, item.irt.c) == ("3PL", round(1 / len(item.options), 3))
        else:
            assert item.irt.model == "GPCM" and len(item.irt.steps or []) == len(item.gaps)
            assert item.irt.steps == sorted(item.irt.steps or []), item.code


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_the_key_scores_full_marks_and_a_wrong_answer_none(code: str) -> None:
    item = BY_CODE[code]
    right = score_item(item, keyed_answer(item))
    assert right.correct and right.points == right.max_points
    assert right.max_points == (len(item.gaps) if item.type != "hottext" else 1)
    wrong = score_item(item, wrong_answer(item))
    assert wrong.points == 0 and not wrong.correct
    if item.type == "cloze":
        with pytest.raises(InvalidAnswer):  # a blank answer is refused, never scored
            score_item(item, dict.fromkeys((g.id for g in item.gaps), ""))
        first = item.gaps[0].id
        partial = score_item(item, {first: keyed_answer(item)[first]})
        assert (partial.points, partial.max_points) == (1, len(item.gaps))


def test_every_accepted_spelling_scores() -> None:
    for item in GAP_ITEMS:
        if item.type != "cloze":
            continue
        key = item.key.model_dump()["gaps"]
        for gap in item.gaps:
            if gap.choices:
                continue
            seen = [normalize(a, key[gap.id]["normalize"]) for a in key[gap.id]["accepted"]]
            assert len(set(seen)) == len(seen) and "" not in seen, (item.code, gap.id)
            for text in key[gap.id]["accepted"]:
                assert score_item(item, {gap.id: text}).points == 1, (item.code, text)


#: What candidates plausibly type into a typed gap: (item, gap) → (right, wrong).
TYPED = {
    ("demo-prea1-l07", "g1"): (["2", "Two", " two. "], ["to", "too", "3"]),
    ("demo-a1-l07", "g1"): (["10", "Ten"], ["tan", "11"]),
    ("demo-a1-l07", "g3"): (["anna", "Anna."], ["Ana", "Hannah"]),
    ("demo-a1plus-g07", "g1"): (["went", "Went"], ["goed", "go", "gone"]),
    ("demo-a1plus-g07", "g3"): (["ate"], ["eated", "eat", "eaten"]),
    ("demo-a2-l07", "g1"): (["thursday", "Thurs."], ["Tuesday", "Thursay"]),
    ("demo-a2plus-l07", "g2"): (["12.20", "12:20", "Twelve twenty"], ["12.02", "2.20"]),
    ("demo-b1-l07", "g4"): (["Station", "railway station"], ["stadium", "statin"]),
    ("demo-b1plus-g07", "g1"): (["was built", "Was built."], ["is built", "built", "was build"]),
    ("demo-b1plus-g07", "g2"): (["has been repaired"], ["was repaired", "have been repaired"]),
    ("demo-b1plus-v07", "g2"): (["patience"], ["patients", "patient"]),
    ("demo-b2-l07", "g1"): (["2000", "Two thousand"], ["200", "3000"]),
    ("demo-b2-l07", "g3"): (["salary", "pay", "Money"], ["time", "holiday"]),
    ("demo-b2plus-g07", "g1"): (["known"], ["knew", "know"]),
    ("demo-b2plus-l07", "g2"): (["ultraviolet", "Ultra-violet", "UV"], ["violet", "infrared"]),
    ("demo-c1-l07", "g1"): (["conclusive"], ["conclusion", "inconclusive"]),
    ("demo-c1bridge-g05", "g1"): (["to approve", "To approve."], ["approve", "approving"]),
    ("demo-c1bridge-g05", "g2"): (["had", "Had"], ["If", "Has"]),
}


def test_typed_gaps_accept_right_answers_and_refuse_wrong_ones() -> None:
    for (code, gap), (right, wrong) in TYPED.items():
        item = BY_CODE[code]
        for text in right:
            assert score_item(item, {gap: text}).points == 1, (code, gap, text)
        for text in wrong:
            assert score_item(item, {gap: text}).points == 0, (code, gap, text)


def words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9']+", text.lower())) + " "


def test_listening_answers_are_heard_not_read() -> None:
    """A typed answer of a listening gap is said in the transcript (one of its accepted
    spellings) and is nowhere in the body or prompt the candidate reads."""
    problems = []
    for item in GAP_ITEMS:
        if item.skill != "listening" or item.stimulus is None:
            continue
        heard = words(item.stimulus.transcript or "")
        shown = words(MARKER.sub(" ", item.body or "") + " " + item.prompt)
        for gap_id, key in item.key.model_dump()["gaps"].items():
            if "accepted" not in key:
                continue
            if not any(words(a) in heard for a in key["accepted"]):
                problems.append(f"{item.code} {gap_id}: no accepted answer is in the transcript")
            problems.extend(
                f"{item.code} {gap_id}: {a!r} is in the text"
                for a in key["accepted"]
                if words(a) in shown
            )
    assert problems == []


def test_a_word_bank_may_reuse_a_word() -> None:
    reused = [
        item.code
        for item in GAP_ITEMS
        if item.type == "gap_match"
        for option in item.options
        if option.max_uses != 1
        and sum(1 for w, _ in item.key.model_dump()["pairs"] if w == option.id) > 1
    ]
    assert len(reused) >= 2
    item = BY_CODE[reused[0]]
    twice = next(o for o in item.options if o.max_uses not in (0, 1))
    everywhere = [[twice.id, g.id] for g in item.gaps]
    if len(item.gaps) > twice.max_uses:
        with pytest.raises(InvalidAnswer):  # a word fills at most max_uses gaps
            score_item(item, everywhere)


def test_hottext_bodies_mark_whole_pieces() -> None:
    """A hottext body is its pieces in order (each marked once); the pieces are what the
    candidate clicks, so none is empty and the key is exactly one of them."""
    for item in GAP_ITEMS:
        if item.type != "hottext":
            continue
        assert MARKER.findall(item.body or "") == [o.id for o in item.options], item.code
        assert all((o.text or "").strip() for o in item.options)
        assert len(item.key.model_dump()["correct"]) == 1
