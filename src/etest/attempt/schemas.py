"""What the candidate sees: never an item's key, IRT parameters or audio transcript."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from etest.kit.schemas import Input, Output


class AttemptStart(Input):
    token: str = Field(min_length=8, max_length=200)


class AnswerIn(Input):
    position: int = Field(ge=1, le=10_000)
    answer: Any = Field(description="option id; list of ids; text; [[option, target], ...]")


class MediaView(Output):
    url: str
    content_type: str
    alt: str | None = None


class OptionView(Output):
    id: str
    text: str | None
    image: MediaView | None
    audio: MediaView | None


class StimulusView(Output):
    text: str | None
    image: MediaView | None
    audio: MediaView | None


class Progress(Output):
    answered: int
    total: int | None = Field(description="Known for a CT; null for a variable-length PT")


class ItemView(Output):
    position: int
    type: str
    skill: str
    prompt: str
    stimulus: StimulusView | None
    options: list[OptionView]
    targets: list[OptionView]
    served_at: datetime
    deadline: datetime | None
    progress: Progress


class AnswerView(Output):
    position: int
    answer: Any
    timed_out: bool
    answered_at: datetime


class AttemptState(Output):
    id: uuid.UUID
    kind: str
    level: str | None
    status: str
    attempt_number: int
    started_at: datetime
    deadline: datetime | None
    finished_at: datetime | None
    progress: Progress
    answers: list[AnswerView]
    current_position: int | None
    outcome: dict[str, Any] | None
    result_hidden: bool


class AttemptStarted(Output):
    attempt_id: uuid.UUID
    secret: str = Field(description="Send as 'Authorization: Bearer <secret>' on attempt calls")
    resumed: bool
    state: AttemptState


class CurrentItem(Output):
    finished: bool
    item: ItemView | None = None
    state: AttemptState | None = None


class AnswerAck(Output):
    position: int
    accepted: bool = True
    timed_out: bool
    answered_at: datetime
    replay: bool = Field(description="True when this repeats an answer already accepted")
