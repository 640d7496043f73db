"""The outcome of a finished attempt: one validated type, a PT and a CT variant told apart by
``kind``, and the pure function that computes it from the facts of the attempt.

The outcome is stored as JSON in ``attempts.outcome`` and carried as it is stored by the
``attempt.finished`` event (callbacks). Results, reports, emails, the candidate's view and
certificates read it through :func:`load`, as attributes, never by key. :func:`dump`
gives the stored JSON: the same keys in the same order as before this type existed.

Outcomes stored by earlier versions still load: a PT stored before placements had a status
was placed (it always had a level), and a CT stored before ``incorrect`` counted served items
only is read with ``incorrect = served - correct``, as the results API always showed it.

Items scored 0 … k (cloze, gap_match: one point per gap) count as **one item each**, as the
test designer counts items per section; such an item earns ``points / max_points`` of it (its
*credit*), every other item 1 when right and 0 otherwise. So:

* ``correct`` counts the items with full credit; ``incorrect = served - correct``;
* ``points`` is the sum of the credit earned (2 decimals), and a CT's
  ``score = 100 × points / total`` (one decimal) against the pass mark;
* a skill's ``accuracy`` is its credit over its served items (PT and CT alike), with its own
  ``points``; an item without full credit is *missed* (its Can't-Do statement and lessons).

``points`` (of the outcome and of a skill) is stored only when the attempt served an item
scored 0 … k: without one it equals ``correct``, and the stored JSON stays what it always was
(:attr:`_Common.earned` reads either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter, model_validator

from etest.attempt.engines import Decision
from etest.kit.levels import LEVELS
from etest.models import Plan

# the statuses and kinds are the values of the ``attempts`` columns, defined with the model
from etest.models.attempt import AttemptStatus as AttemptStatus
from etest.models.attempt import CtStatus as CtStatus
from etest.models.attempt import Kind as Kind
from etest.models.attempt import PtStatus as PtStatus
from etest.plan.policy import max_attempts, pass_mark

#: Weakest skill first; among equals, this order.
SKILL_ORDER = ("listening", "reading", "grammar", "vocabulary")

#: Stored as ``datetime.isoformat()`` (``+00:00``), as it always was.
IsoTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat(), return_type=str)]


class SkillStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    served: int
    correct: int
    accuracy: float
    #: The credit earned in the skill; ``None`` (not stored) when it equals ``correct``.
    points: float | None = None


class CantDo(BaseModel):
    """A Can't-Do statement of an item the candidate missed."""

    model_config = ConfigDict(frozen=True)

    code: str
    skill: str
    level: str
    text: str


class ReviewLesson(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    title: str
    url: str | None


class _Common(BaseModel):
    # unknown keys are ignored rather than refused: a stored outcome must always load
    model_config = ConfigDict(frozen=True, extra="ignore")

    finish_reason: str
    started_at: IsoTime
    finished_at: IsoTime
    duration_seconds: float
    correct: int
    #: The credit earned (see the module's doc); ``None`` (not stored) when it equals
    #: ``correct``: no item scored 0 … k was served, or the outcome predates such items.
    points: float | None = None
    answered: int
    served: int
    skills: dict[str, SkillStats]
    areas_for_improvement: list[str]
    assessment: str
    assessment_version: int

    @property
    def earned(self) -> float:
        """The credit earned: ``points``, or ``correct`` where none is stored."""
        return float(self.correct) if self.points is None else self.points


class PtOutcome(_Common):
    """A placement: a level with its position and probabilities, or ``unplaced``."""

    kind: Literal[Kind.PT] = Kind.PT
    incorrect: int
    #: ``None`` in outcomes stored before placements needed evidence.
    min_answers: int | None = None
    stop_reason: str | None = None
    status: PtStatus = PtStatus.placed
    level: str | None = None
    position: float | None = None
    theta: float | None = None
    se: float | None = None
    level_probabilities: dict[str, float] = Field(default_factory=dict)


class CtOutcome(_Common):
    """A certification: the score against the pass mark, and what to review after a fail."""

    kind: Literal[Kind.CT] = Kind.CT
    total: int
    incorrect: int
    score: float
    pass_mark: int
    passed: bool
    status: CtStatus
    attempt_number: int
    continue_package: bool
    next_level: str | None
    cant_do: list[CantDo]
    review_list: list[ReviewLesson]

    @model_validator(mode="before")
    @classmethod
    def _served_incorrect(cls, data: Any) -> Any:
        # early CT outcomes stored incorrect = total - correct; served - correct is the rule
        if (
            isinstance(data, dict)
            and isinstance(data.get("served"), int)
            and isinstance(data.get("correct"), int)
        ):
            return {**data, "incorrect": data["served"] - data["correct"]}
        return data


Outcome = Annotated[PtOutcome | CtOutcome, Field(discriminator="kind")]
_OUTCOME: TypeAdapter[Outcome] = TypeAdapter(Outcome)
#: Common fields first, then the variant's: the stored key order (``kind`` leads).
_ORDER = {
    Kind.PT: (
        "kind",
        *_Common.model_fields,
        "incorrect",
        "min_answers",
        "stop_reason",
        "status",
        "level",
        "position",
        "theta",
        "se",
        "level_probabilities",
    ),
    Kind.CT: (
        "kind",
        *_Common.model_fields,
        "total",
        "incorrect",
        "score",
        "pass_mark",
        "passed",
        "status",
        "attempt_number",
        "continue_package",
        "next_level",
        "cant_do",
        "review_list",
    ),
}


def load(data: Mapping[str, Any]) -> Outcome:
    """A stored outcome (``attempts.outcome``) as its type."""
    return _OUTCOME.validate_python(data)


def load_optional(data: Mapping[str, Any] | None) -> Outcome | None:
    return None if data is None else load(data)


def dump(outcome: Outcome) -> dict[str, Any]:
    """The stored JSON of ``outcome``: the keys in the order they were always stored in."""
    plain = outcome.model_dump(mode="json")
    for stats in plain["skills"].values():
        if stats["points"] is None:
            del stats["points"]
    return {
        key: plain[key]
        for key in _ORDER[outcome.kind]
        if not (key == "points" and plain[key] is None)
    }


# ---------------------------------------------------------------------------- computing


@dataclass(frozen=True)
class Step:
    """One served position as the outcome sees it."""

    skill: str
    level: str | None
    answered: bool
    correct: bool
    timed_out: bool
    can_do: str | None
    review_lessons: Sequence[str]
    #: Points earned of ``max_points`` for an item scored 0 … k; ``None`` for one scored 0/1.
    points: int | None = None
    max_points: int | None = None

    @property
    def polytomous(self) -> bool:
        return self.max_points is not None and self.max_points > 1

    @property
    def credit(self) -> float:
        """The share of one item this position earned: ``points / max_points`` for an item
        scored 0 … k, else 1 right and 0 wrong."""
        if self.polytomous and self.max_points:
            return (self.points or 0) / self.max_points
        return float(self.correct)


@dataclass(frozen=True)
class Sitting:
    """The facts of the attempt being finished."""

    kind: Kind
    level: str | None
    attempt_number: int
    started_at: datetime
    finished_at: datetime
    reason: str
    assessment: str
    assessment_version: int
    #: The fewest answers a PT placement needs (the engine's).
    min_answers: int


def missed(steps: Sequence[Step]) -> list[Step]:
    """The served positions not answered right, in order."""
    return [s for s in steps if not s.correct]


def compute(
    sitting: Sitting,
    plan: Plan,
    decision: Decision,
    steps: Sequence[Step],
    *,
    early: tuple[str, float | None] | None = None,
    statements: Mapping[str, CantDo] | None = None,
    lessons: Mapping[str, ReviewLesson] | None = None,
) -> Outcome:
    """The outcome of a finished attempt from its served positions and the engine's last
    decision. ``early``: the placement of a PT finished before its engine stopped.
    ``statements`` and ``lessons`` (by code) fill a failed CT's Can't-Do and review lists."""
    common = _common(sitting, steps)
    if sitting.kind == Kind.PT:
        return _placement(sitting, decision, common, early)
    return _certification(sitting, plan, decision, steps, common, statements or {}, lessons or {})


def _skills(steps: Sequence[Step]) -> dict[str, SkillStats]:
    per_skill: dict[str, list[Step]] = {}
    for s in steps:
        per_skill.setdefault(s.skill, []).append(s)
    out = {}
    for k, v in per_skill.items():
        credit = sum(s.credit for s in v)
        out[k] = SkillStats(
            served=len(v),
            correct=sum(s.correct for s in v),
            accuracy=round(credit / len(v), 3),
            points=round(credit, 2) if any(s.polytomous for s in v) else None,
        )
    return out


def _areas(skills: dict[str, SkillStats], wrong: Sequence[Step]) -> list[str]:
    """The skills to work on: weakest first; ties: the skill missed at the lowest level; then a
    fixed order."""
    lowest_miss = {
        k: min(
            (LEVELS.index(s.level) for s in wrong if s.skill == k and s.level in LEVELS),
            default=len(LEVELS),
        )
        for k in skills
    }
    return sorted(
        skills,
        key=lambda k: (
            skills[k].accuracy,
            lowest_miss[k],
            SKILL_ORDER.index(k) if k in SKILL_ORDER else 99,
        ),
    )


def _common(sitting: Sitting, steps: Sequence[Step]) -> dict[str, Any]:
    """The fields of both outcomes."""
    correct = sum(s.correct for s in steps)
    skills = _skills(steps)
    return {
        "finish_reason": sitting.reason,
        "started_at": sitting.started_at,
        "finished_at": sitting.finished_at,
        "duration_seconds": round((sitting.finished_at - sitting.started_at).total_seconds(), 1),
        "correct": correct,
        "points": (
            round(sum(s.credit for s in steps), 2) if any(s.polytomous for s in steps) else None
        ),
        "answered": sum(s.answered and not s.timed_out for s in steps),
        "served": len(steps),
        "skills": skills,
        "areas_for_improvement": _areas(skills, missed(steps)),
        "assessment": sitting.assessment,
        "assessment_version": sitting.assessment_version,
        # served and not right, as in the results API (items never served score zero through
        # a CT's ``total`` without being counted as answered wrongly)
        "incorrect": len(steps) - correct,
    }


def _placement(
    sitting: Sitting,
    decision: Decision,
    common: dict[str, Any],
    early: tuple[str, float | None] | None,
) -> PtOutcome:
    pt = {
        **common,
        "min_answers": sitting.min_answers,
        "stop_reason": decision.stop_reason or sitting.reason,
    }
    if common["answered"] < sitting.min_answers:
        # too little evidence for a level (docs/placement.md, "Unplaced"): no level, no
        # estimate, pt_level unchanged; emails, callbacks and results say so
        return PtOutcome(**pt, status=PtStatus.unplaced)
    if decision.level is not None:
        level, position = decision.level, decision.position
    else:  # finished before the engine stopped: placed on what was answered
        assert early is not None
        level, position = early
    return PtOutcome(
        **pt,
        status=PtStatus.placed,
        level=level,
        position=position,
        theta=decision.theta,
        se=decision.se,
        level_probabilities=decision.probabilities,
    )


def _certification(
    sitting: Sitting,
    plan: Plan,
    decision: Decision,
    steps: Sequence[Step],
    common: dict[str, Any],
    statements: Mapping[str, CantDo],
    lessons: Mapping[str, ReviewLesson],
) -> CtOutcome:
    total = decision.planned_total or len(steps)
    earned = common["correct"] if common["points"] is None else common["points"]
    score = round(100.0 * earned / total, 1) if total else 0.0
    mark = pass_mark(plan, sitting.level)
    passed = score >= mark
    if passed:
        status = CtStatus.passed
    elif sitting.attempt_number >= max_attempts(plan):
        status = CtStatus.needs_review
    else:
        status = CtStatus.failed
    levels = [str(lv["level"]) for lv in plan.levels]
    nxt = levels.index(sitting.level) + 1 if sitting.level in levels else len(levels)
    cant_do, review = [], []
    if not passed:
        codes, lesson_codes = wanted_codes(steps)
        cant_do = [statements[c] for c in codes if c in statements]
        review = [lessons[c] for c in lesson_codes if c in lessons]
    return CtOutcome(
        **common,
        total=total,
        score=score,
        pass_mark=mark,
        passed=passed,
        status=status,
        attempt_number=sitting.attempt_number,
        continue_package=passed and plan.continues and nxt < len(levels),
        next_level=levels[nxt] if passed and nxt < len(levels) else None,
        cant_do=cant_do,
        review_list=review,
    )


def wanted_codes(steps: Sequence[Step]) -> tuple[list[str], list[str]]:
    """The Can't-Do statement and review lesson codes of the missed positions, in order:
    what a failed CT's lists are read from."""
    wrong = missed(steps)
    return (
        list(dict.fromkeys(s.can_do for s in wrong if s.can_do)),
        list(dict.fromkeys(c for s in wrong for c in s.review_lessons)),
    )
