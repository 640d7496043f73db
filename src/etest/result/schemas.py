"""Outcome shapes for staff: a summary per finished attempt (lists) and the full result (one
attempt). Item keys and the candidate's answers never appear: an answer that was right would
give the key away."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from etest.candidate.accommodations import Accommodations
from etest.kit.schemas import Output
from etest.review.schemas import ResultReview

Kind = Literal["PT", "CT"]
#: A CT's ``pass``/``fail``/``needs_review``; a PT's ``placed``/``unplaced`` (too few answers
#: for a level: docs/placement.md).
Status = Literal["pass", "fail", "needs_review", "placed", "unplaced"]
ReviewFilter = Literal["pending", "decided"]


class CandidateRef(Output):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str


class Totals(Output):
    """Counts over the served items: ``correct + incorrect == served``. ``incorrect`` counts
    wrong, timed-out and unanswered served items; ``answered`` excludes timed-out ones. For a CT,
    ``planned`` is the fixed length the score is computed on (items never served score zero)."""

    correct: int
    incorrect: int
    answered: int
    served: int
    planned: int | None = None
    #: The credit earned when items scored per gap were served (each earns points/max_points
    #: of one item); absent otherwise, when it equals ``correct``.
    points: float | None = None


class ResultSummary(Output):
    """One finished attempt. PT fields are null on a CT and CT fields null on a PT."""

    attempt_id: uuid.UUID
    kind: Kind
    candidate: CandidateRef
    uic: str = Field(description="The organization the attempt was taken in")
    plan: str
    assessment: str | None
    assessment_version: int | None
    started_at: datetime
    finished_at: datetime
    duration_seconds: float | None
    finish_reason: str | None
    attempt_number: int
    level: str | None = Field(description="PT: the placed level; CT: the level tested")
    # PT
    position: float | None = Field(None, description="PT: position within the level, 0–100")
    theta: float | None = Field(None, description="PT (irt engine): ability estimate")
    se: float | None = Field(None, description="PT (irt engine): standard error of theta")
    min_answers: int | None = Field(
        None, description="PT: the answers a placement needs; fewer, and it is unplaced"
    )
    # CT
    score: float | None = None
    pass_mark: int | None = None
    passed: bool | None = None
    status: Status | None = Field(
        None,
        description="CT: pass, fail or needs_review; PT: "
        "placed, or unplaced (too few answers: level is null)",
    )
    needs_review: bool | None = None
    totals: Totals


class SkillResult(Output):
    skill: str
    served: int
    correct: int
    accuracy: float
    #: The credit earned in the skill when it differs from ``correct`` (items scored per gap).
    points: float | None = None


class CantDo(Output):
    code: str
    skill: str
    level: str
    text: str


class ReviewLesson(Output):
    code: str
    title: str
    url: str | None


class ResponseOut(Output):
    """One served position. ``answered`` is false for an item served but never answered."""

    position: int
    item_id: uuid.UUID
    item_code: str
    skill: str
    level: str | None
    answered: bool
    correct: bool
    #: Points earned of ``max_points`` for an item scored per gap (cloze, gap_match); null for
    #: an item scored right or wrong (``correct`` says).
    points: int | None = None
    max_points: int | None = None
    timed_out: bool
    time_spent_ms: int | None
    served_at: datetime
    answered_at: datetime | None


class Device(Output):
    """Where a request came from. ``network`` is the IPv4 /24 or IPv6 /64 around ``ip``."""

    ip: str | None
    network: str | None
    user_agent: str | None


class DeviceSeen(Device):
    """A device (user agent and IP) that sent answers, and when."""

    answers: int
    first_answered_at: datetime
    last_answered_at: datetime


class ResultDetail(ResultSummary):
    """The full outcome of one attempt, for staff."""

    skills: list[SkillResult]
    areas_for_improvement: list[str]
    level_probabilities: dict[str, float] | None = Field(
        None, description="PT: probability of the placed level and of its neighbours"
    )
    stop_reason: str | None = None
    cant_do: list[CantDo] | None = None
    review_list: list[ReviewLesson] | None = None
    continue_package: bool | None = None
    next_level: str | None = None
    review: ResultReview | None = Field(
        None,
        description="CT needs_review: the review decision that followed it, or pending "
        "(docs/review.md)",
    )
    start_device: Device = Field(description="The device the attempt was started on")
    devices: list[DeviceSeen] = Field(
        description="Each user agent and IP that sent answers, first seen first"
    )
    multiple_devices: bool = Field(
        description="More than one user agent, or more than one network, among the start and "
        "the answers: a fact for a reviewer, not a verdict (docs/results.md)"
    )
    accommodations: Accommodations | None = Field(
        None,
        description="The accommodations the attempt ran under (the token's over the "
        "candidate's, recorded when it started); null when it ran without any",
    )
    responses: list[ResponseOut]
