"""The outcome is a type (``etest.attempt.outcome``): computed by a pure function, stored as the
same JSON, key for key and in the same order, as the dict the finish built before the type
existed; outcomes stored by earlier versions still load. No database here."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from etest.attempt.engines import Decision
from etest.attempt.outcome import (
    SKILL_ORDER,
    AttemptStatus,
    CantDo,
    CtOutcome,
    CtStatus,
    Kind,
    PtOutcome,
    PtStatus,
    ReviewLesson,
    Sitting,
    Step,
    compute,
    dump,
    load,
    wanted_codes,
)
from etest.kit.levels import LEVELS
from etest.models import Plan
from etest.plan.policy import DEFAULT_MAX_ATTEMPTS, DEFAULT_PASS_MARK, max_attempts, pass_mark

START = datetime(2026, 3, 2, 10, 0, 3, 120000, tzinfo=UTC)
PLAN_LEVELS = ["A1", "A1+", "A2", "B1"]
STATEMENTS = {
    f"cd-{lv}-{sk}": CantDo(
        code=f"cd-{lv}-{sk}", skill=sk, level=lv, text=f"Cannot yet {sk} at {lv}"
    )
    for lv in PLAN_LEVELS
    for sk in SKILL_ORDER
}
LESSONS = {
    f"lesson-{lv}": ReviewLesson(
        code=f"lesson-{lv}",
        title=f"Lesson {lv}",
        url=None if lv == "A2" else f"https://x.test/{lv}",
    )
    for lv in PLAN_LEVELS
}


def _plan(continues: bool = True, retake: dict[str, Any] | None = None) -> Plan:
    return Plan(
        code="p",
        name="P",
        pt_assessment="pt",
        continues=continues,
        retake_policy={"max_attempts": 2} if retake is None else retake,
        levels=[
            {"level": lv, "pass_mark": 60 if lv == "A1" else 75, "ct_assessment": f"ct-{lv}"}
            for lv in PLAN_LEVELS
        ],
    )


def _legacy(
    kind: str,
    level: str | None,
    number: int,
    reason: str,
    plan: Plan,
    decision: Decision,
    steps: list[Step],
    min_answers: int,
    early: tuple[str, float | None] | None,
    finished_at: datetime,
) -> dict[str, Any]:
    """The outcome as ``attempt.service._outcome`` built it before the type (commit 680b9db),
    on the same facts: the reference the stored JSON must not move from."""
    answered = [s for s in steps if s.answered and not s.timed_out]
    correct = sum(s.correct for s in steps)
    per_skill: dict[str, dict[str, int]] = {}
    missed = []
    for s in steps:
        stats = per_skill.setdefault(s.skill, {"served": 0, "correct": 0})
        stats["served"] += 1
        stats["correct"] += int(s.correct)
        if not s.correct:
            missed.append(s)
    skills = {
        k: {**v, "accuracy": round(v["correct"] / v["served"], 3)} for k, v in per_skill.items()
    }
    lowest_miss = {
        k: min(
            (LEVELS.index(i.level) for i in missed if i.skill == k and i.level in LEVELS),
            default=len(LEVELS),
        )
        for k in skills
    }
    areas = sorted(
        skills,
        key=lambda k: (
            skills[k]["accuracy"],
            lowest_miss[k],
            SKILL_ORDER.index(k) if k in SKILL_ORDER else 99,
        ),
    )
    base: dict[str, Any] = {
        "kind": kind,
        "finish_reason": reason,
        "started_at": START.isoformat(),
        "finished_at": finished_at.isoformat(),
        "duration_seconds": round((finished_at - START).total_seconds(), 1),
        "correct": correct,
        "answered": len(answered),
        "served": len(steps),
        "skills": skills,
        "areas_for_improvement": areas,
        "assessment": "flow",
        "assessment_version": 3,
    }
    if kind == "PT":
        pt = {
            **base,
            "incorrect": len(steps) - correct,
            "min_answers": min_answers,
            "stop_reason": decision.stop_reason or reason,
        }
        if len(answered) < min_answers:
            return {
                **pt,
                "status": "unplaced",
                "level": None,
                "position": None,
                "theta": None,
                "se": None,
                "level_probabilities": {},
            }
        placed = decision.level
        if placed is None:
            assert early is not None
            placed, position = early
        else:
            position = decision.position
        return {
            **pt,
            "status": "placed",
            "level": placed,
            "position": position,
            "theta": decision.theta,
            "se": decision.se,
            "level_probabilities": decision.probabilities,
        }
    total = decision.planned_total or len(steps)
    score = round(100.0 * correct / total, 1) if total else 0.0
    mark = next((int(lv["pass_mark"]) for lv in plan.levels if lv["level"] == level), 70)
    passed = score >= mark
    most = int(plan.retake_policy.get("max_attempts", 3))
    status = "pass" if passed else ("needs_review" if number >= most else "fail")
    levels = [str(lv["level"]) for lv in plan.levels]
    nxt = levels.index(level) + 1 if level in levels else len(levels)
    cant_do: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    if not passed:
        codes = list(dict.fromkeys(i.can_do for i in missed if i.can_do))
        cant_do = [STATEMENTS[c].model_dump() for c in codes if c in STATEMENTS]
        lesson_codes = list(dict.fromkeys(c for i in missed for c in i.review_lessons))
        review = [LESSONS[c].model_dump() for c in lesson_codes if c in LESSONS]
    return {
        **base,
        "total": total,
        "incorrect": len(steps) - correct,
        "score": score,
        "pass_mark": mark,
        "passed": passed,
        "status": status,
        "attempt_number": number,
        "continue_package": passed and plan.continues and nxt < len(levels),
        "next_level": levels[nxt] if passed and nxt < len(levels) else None,
        "cant_do": cant_do,
        "review_list": review,
    }


def _steps(rng: random.Random, n: int) -> list[Step]:
    out = []
    for _ in range(n):
        answered = rng.random() < 0.9
        timed_out = answered and rng.random() < 0.15
        level = rng.choice([*PLAN_LEVELS, None])
        skill = rng.choice([*SKILL_ORDER, "speaking"])
        out.append(
            Step(
                skill=skill,
                level=level,
                answered=answered,
                correct=answered and not timed_out and rng.random() < 0.6,
                timed_out=timed_out,
                can_do=f"cd-{level}-{skill}" if level and rng.random() < 0.8 else None,
                review_lessons=(f"lesson-{level}",) if level else (),
            )
        )
    return out


def _decision(rng: random.Random, kind: str, n: int) -> Decision:
    if kind == "CT":
        return Decision(None, "complete", planned_total=rng.choice([n, n + 3, 0 if n == 0 else n]))
    if rng.random() < 0.3:  # finished before the engine stopped
        return Decision(None, None, theta=rng.uniform(-2, 2), se=0.5)
    return Decision(
        None,
        "placed",
        level=rng.choice(PLAN_LEVELS),
        position=round(rng.uniform(0, 100), 1),
        theta=rng.choice([None, rng.uniform(-2, 2)]),
        se=rng.choice([None, 0.31]),
        probabilities={lv: round(rng.random(), 4) for lv in PLAN_LEVELS[:2]},
    )


@pytest.mark.parametrize("seed", range(60))
def test_the_stored_json_is_the_one_built_before_the_type(seed: int) -> None:
    rng = random.Random(seed)
    kind = ("PT", "CT")[seed % 2]
    steps = _steps(rng, rng.choice([0, 1, 3, 8, 20]))
    decision = _decision(rng, kind, len(steps))
    plan = _plan(continues=rng.random() < 0.7, retake=rng.choice([None, {}, {"max_attempts": 4}]))
    level = rng.choice(PLAN_LEVELS) if kind == "CT" else None
    number = rng.randint(1, 5)
    reason = rng.choice(["complete", "finished", "deadline"])
    finished_at = START + timedelta(seconds=rng.uniform(0, 4000))
    min_answers = rng.choice([0, 2, 5])
    early = ("A1+", rng.choice([None, 42.5])) if decision.level is None else None
    sitting = Sitting(
        kind=Kind(kind),
        level=level,
        attempt_number=number,
        started_at=START,
        finished_at=finished_at,
        reason=reason,
        assessment="flow",
        assessment_version=3,
        min_answers=min_answers,
    )
    outcome = compute(
        sitting, plan, decision, steps, early=early, statements=STATEMENTS, lessons=LESSONS
    )
    expected = _legacy(
        kind, level, number, reason, plan, decision, steps, min_answers, early, finished_at
    )
    assert json.dumps(dump(outcome)) == json.dumps(expected)  # keys, order and values
    assert load(dump(outcome)) == outcome
    assert isinstance(outcome, PtOutcome if kind == "PT" else CtOutcome)


def test_a_failed_ct_lists_what_its_missed_items_name_in_order() -> None:
    steps = [
        Step("reading", "A1", True, False, False, "cd-A1-reading", ("lesson-A1",)),
        Step("grammar", "A1", True, True, False, "cd-A1-grammar", ("lesson-A2",)),
        Step("grammar", "A2", False, False, False, "cd-A2-grammar", ("lesson-A2",)),
        Step("reading", "A1", True, False, True, "cd-A1-reading", ("lesson-A1",)),
    ]
    assert wanted_codes(steps) == (["cd-A1-reading", "cd-A2-grammar"], ["lesson-A1", "lesson-A2"])
    sitting = Sitting(Kind.CT, "A1", 1, START, START, "complete", "flow", 1, 0)
    outcome = compute(
        sitting,
        _plan(),
        Decision(None, "complete", planned_total=4),
        steps,
        statements=STATEMENTS,
        lessons=LESSONS,
    )
    assert isinstance(outcome, CtOutcome)
    assert (outcome.score, outcome.pass_mark, outcome.passed, outcome.status) == (
        25.0,
        60,
        False,
        CtStatus.failed,
    )
    assert [c.code for c in outcome.cant_do] == ["cd-A1-reading", "cd-A2-grammar"]
    assert [r.code for r in outcome.review_list] == ["lesson-A1", "lesson-A2"]


def test_statuses_and_kinds_keep_their_database_strings() -> None:
    assert [k.value for k in Kind] == ["PT", "CT"]
    assert [s.value for s in AttemptStatus] == ["in_progress", "completed", "voided"]
    assert [s.value for s in PtStatus] == ["placed", "unplaced"]
    assert [s.value for s in CtStatus] == ["pass", "fail", "needs_review"]
    assert (
        CtStatus.passed == "pass"
        and json.dumps({"s": CtStatus.needs_review}) == '{"s": "needs_review"}'
    )


def test_the_plan_defaults_are_written_once() -> None:
    bare = Plan(code="p", levels=[{"level": "A1", "pass_mark": 55}], retake_policy={})
    assert (DEFAULT_PASS_MARK, DEFAULT_MAX_ATTEMPTS) == (70, 3)
    assert pass_mark(bare, "A1") == 55 and pass_mark(bare, "B2") == DEFAULT_PASS_MARK
    assert max_attempts(bare) == DEFAULT_MAX_ATTEMPTS
    assert max_attempts(Plan(code="q", levels=[], retake_policy={"max_attempts": 5})) == 5


# ---------------------------------------------------------------------------- stored before

#: A placement as the first delivery core stored it (b710e73): no ``status``, no
#: ``min_answers``, ``stop_reason`` last.
OLD_PT: dict[str, Any] = {
    "kind": "PT",
    "finish_reason": "complete",
    "started_at": "2026-01-12T09:00:03.120000+00:00",
    "finished_at": "2026-01-12T09:21:40+00:00",
    "duration_seconds": 1297.0,
    "correct": 7,
    "answered": 9,
    "served": 10,
    "skills": {
        "reading": {"served": 6, "correct": 4, "accuracy": 0.667},
        "grammar": {"served": 4, "correct": 3, "accuracy": 0.75},
    },
    "areas_for_improvement": ["reading", "grammar"],
    "assessment": "pt-neo",
    "assessment_version": 1,
    "incorrect": 3,
    "level": "A2",
    "position": 55.6,
    "theta": None,
    "se": None,
    "level_probabilities": {},
    "stop_reason": "placed",
}
#: A failed CT as it was stored then: ``incorrect`` counted against the planned total.
OLD_CT: dict[str, Any] = {
    "kind": "CT",
    "finish_reason": "deadline",
    "started_at": "2026-01-12T09:00:03+00:00",
    "finished_at": "2026-01-12T09:30:03+00:00",
    "duration_seconds": 1800.0,
    "correct": 2,
    "answered": 3,
    "served": 3,
    "skills": {"reading": {"served": 3, "correct": 2, "accuracy": 0.667}},
    "areas_for_improvement": ["reading"],
    "assessment": "ct-a1",
    "assessment_version": 2,
    "total": 20,
    "incorrect": 18,
    "score": 10.0,
    "pass_mark": 70,
    "passed": False,
    "status": "fail",
    "attempt_number": 1,
    "continue_package": False,
    "next_level": None,
    "cant_do": [{"code": "c1", "skill": "reading", "level": "A1", "text": "Cannot yet"}],
    "review_list": [{"code": "l1", "title": "Lesson", "url": None}],
}


def test_a_pt_stored_before_placements_had_a_status_loads_as_placed() -> None:
    outcome = load(OLD_PT)
    assert isinstance(outcome, PtOutcome)
    assert (outcome.status, outcome.level, outcome.min_answers) == (PtStatus.placed, "A2", None)
    assert outcome.started_at == datetime(2026, 1, 12, 9, 0, 3, 120000, tzinfo=UTC)
    stored = dump(outcome)
    assert {k: stored[k] for k in OLD_PT} == OLD_PT  # every stored value reads back unchanged
    assert (stored["status"], stored["min_answers"]) == ("placed", None)


def test_a_ct_stored_before_incorrect_counted_served_items_reads_as_results_show_it() -> None:
    outcome = load(OLD_CT)
    assert isinstance(outcome, CtOutcome)
    assert (outcome.incorrect, outcome.total, outcome.status) == (1, 20, CtStatus.failed)
    assert outcome.cant_do[0].text == "Cannot yet" and outcome.review_list[0].url is None
    assert {k: v for k, v in dump(outcome).items() if k != "incorrect"} == {
        k: v for k, v in OLD_CT.items() if k != "incorrect"
    }


def test_unknown_keys_are_ignored_and_broken_outcomes_are_refused() -> None:
    assert load({**OLD_PT, "something_new": 1}) == load(OLD_PT)
    with pytest.raises(ValidationError):
        load({**OLD_PT, "kind": "XT"})
    with pytest.raises(ValidationError):
        load({k: v for k, v in OLD_CT.items() if k != "passed"})
    with pytest.raises(ValidationError):
        load({**OLD_CT, "status": "placed"})  # a PT's status on a CT


# ---------------------------------------------------------------------------- partial credit


def _ct_sitting(level: str = "A2") -> Sitting:
    return Sitting(
        kind=Kind.CT,
        level=level,
        attempt_number=1,
        started_at=START,
        finished_at=START + timedelta(minutes=20),
        reason="complete",
        assessment="flow",
        assessment_version=3,
        min_answers=0,
    )


def _step(skill: str, correct: bool, points: int | None = None, of: int | None = None) -> Step:
    return Step(
        skill=skill,
        level="A2",
        answered=True,
        correct=correct,
        timed_out=False,
        can_do=f"cd-A2-{skill}",
        review_lessons=("lesson-A2",),
        points=points,
        max_points=of,
    )


def test_a_cloze_counts_as_one_item_earning_its_share_of_points() -> None:
    # three 0/1 items right, one wrong, and an 8-gap cloze with 6 gaps right: 3.75 of 5 items
    steps = [
        *[_step("grammar", True) for _ in range(3)],
        _step("grammar", False),
        _step("reading", False, 6, 8),
    ]
    outcome = compute(_ct_sitting(), _plan(), Decision(None, "complete", planned_total=5), steps)
    assert isinstance(outcome, CtOutcome)
    assert (outcome.correct, outcome.incorrect, outcome.points) == (3, 2, 3.75)
    assert outcome.score == 75.0 and outcome.passed  # A2's pass mark is 75
    assert outcome.skills["reading"].accuracy == 0.75 and outcome.skills["reading"].points == 0.75
    assert outcome.skills["grammar"].points is None  # no item scored 0 … k in the skill
    # the cloze is missed (not full credit): its Can't-Do statement is listed on a fail
    failed = compute(_ct_sitting(), _plan(), Decision(None, "complete", planned_total=6), steps)
    assert isinstance(failed, CtOutcome) and failed.score == 62.5 and not failed.passed
    failed = compute(
        _ct_sitting(),
        _plan(),
        Decision(None, "complete", planned_total=6),
        steps,
        statements=STATEMENTS,
    )
    assert [c.code for c in failed.cant_do] == ["cd-A2-grammar", "cd-A2-reading"]
    stored = dump(outcome)
    assert list(stored)[:7] == [
        "kind",
        "finish_reason",
        "started_at",
        "finished_at",
        "duration_seconds",
        "correct",
        "points",
    ]
    assert "points" not in stored["skills"]["grammar"]
    assert load(stored) == outcome


def test_full_credit_on_every_gap_is_a_correct_item() -> None:
    steps = [_step("reading", True, 4, 4), _step("reading", False, 0, 4)]
    outcome = compute(_ct_sitting(), _plan(), Decision(None, "complete", planned_total=2), steps)
    assert isinstance(outcome, CtOutcome)
    assert (outcome.correct, outcome.points, outcome.score) == (1, 1.0, 50.0)
    assert outcome.earned == 1.0


def test_a_pt_skill_accuracy_uses_credit() -> None:
    sitting = Sitting(
        kind=Kind.PT,
        level=None,
        attempt_number=1,
        started_at=START,
        finished_at=START + timedelta(minutes=5),
        reason="complete",
        assessment="flow",
        assessment_version=3,
        min_answers=1,
    )
    steps = [_step("reading", False, 1, 3), _step("reading", True), _step("grammar", False)]
    outcome = compute(sitting, _plan(), Decision(None, "placed", level="A1", position=50.0), steps)
    assert isinstance(outcome, PtOutcome)
    assert outcome.skills["reading"].accuracy == round((1 / 3 + 1) / 2, 3)
    assert outcome.points == 1.33 and outcome.correct == 1
    assert outcome.areas_for_improvement == ["grammar", "reading"]


def test_an_outcome_stored_without_points_loads_and_reads_its_correct_count() -> None:
    steps = [_step("grammar", True), _step("grammar", False)]
    outcome = compute(_ct_sitting(), _plan(), Decision(None, "complete", planned_total=2), steps)
    stored = dump(outcome)
    assert "points" not in stored and "points" not in stored["skills"]["grammar"]
    loaded = load(stored)
    assert isinstance(loaded, CtOutcome) and loaded.points is None and loaded.earned == 1.0
