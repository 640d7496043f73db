"""Review decision shapes: the decision support records, the history, the pending reviews."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from etest.kit.levels import validate_level
from etest.kit.schemas import Input, Output, Page

Decision = Literal["grant", "confirm"]

#: The longest reason stored (the column's length).
MAX_REASON = 2000


class ReviewCreate(Input):
    """The outcome of the oral review at one level. The plan is not sent: it is the candidate's
    (or, without one, the plan of the failed attempts)."""

    level: str = Field(description="The level of the failed certification tests")
    decision: Decision = Field(description="grant: one more attempt; confirm: the lock stays")
    reason: str = Field(
        min_length=1,
        max_length=MAX_REASON,
        description="Why (for staff; never shown to the candidate)",
    )

    _lvl = field_validator("level")(validate_level)


class ReviewOut(Output):
    """A recorded decision. ``attempt_id`` is the failed attempt it followed; ``uic`` the
    candidate's organization when it was recorded."""

    id: uuid.UUID
    candidate_id: uuid.UUID
    uic: str
    plan: str
    level: str
    decision: Decision
    reason: str
    attempt_id: uuid.UUID | None
    actor: str
    actor_role: str
    created_at: datetime


class PendingReview(Output):
    """A level where the candidate is locked and no decision followed the last failure."""

    level: str
    plan: str
    attempt_id: uuid.UUID = Field(description="The failed attempt awaiting the review")
    failures: int = Field(description="Failed certification attempts at this level")
    max_attempts: int = Field(description="The plan's retake policy")
    failed_at: datetime | None


class ReviewPage(Page[ReviewOut]):
    """The candidate's decisions, newest first, and the reviews waiting for one."""

    pending: list[PendingReview]


class ResultReview(Output):
    """The review of a ``needs_review`` result: the decision that followed it, or pending."""

    pending: bool = Field(
        description="No decision yet, and this is the candidate's latest attempt at the level"
    )
    decision: ReviewOut | None
