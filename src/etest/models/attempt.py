"""Attempts: one sitting of a pinned assessment version. Served items and responses are rows of
their own, written before they are acknowledged; the engine state is rebuilt from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped, UUIDPk, utcnow


class Kind(StrEnum):
    """The two tests (``attempts.kind``, ``test_tokens.type``)."""

    PT = "PT"
    CT = "CT"


class AttemptStatus(StrEnum):
    """``attempts.status``: running, finished with an outcome, or voided by a token reset."""

    in_progress = "in_progress"
    completed = "completed"
    voided = "voided"


class PtStatus(StrEnum):
    """A PT's outcome: a level, or too few answers for one (docs/placement.md)."""

    placed = "placed"
    unplaced = "unplaced"


class CtStatus(StrEnum):
    """A CT's outcome (also ``attempts.level_result`` of a CT); ``needs_review`` is a failure
    once the retake policy is used up."""

    passed = "pass"
    failed = "fail"
    needs_review = "needs_review"


_OPEN = text(f"status = '{AttemptStatus.in_progress}'")


class Attempt(UUIDPk, Timestamped, Base):
    __tablename__ = "attempts"
    __table_args__ = (
        # one open attempt per token, even when two devices start at once
        Index(
            "uq_attempts_open_token",
            "token_id",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
    )

    token_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("test_tokens.id"), index=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    assessment_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessment_versions.id"))
    kind: Mapped[str] = mapped_column(String(2))
    level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(
        String(16), default=AttemptStatus.in_progress.value, index=True
    )
    attempt_number: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(index=True)
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    ip: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    level_result: Mapped[str | None] = mapped_column(String(32), index=True)
    passed: Mapped[bool | None]
    score: Mapped[float | None]
    #: The accommodations the attempt ran under (token over candidate), recorded at start.
    accommodations: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: The language the candidate's pages were shown in when the attempt started.
    language: Mapped[str | None] = mapped_column(String(16), default=None)


class AttemptItem(Base):
    """An item served at a position of an attempt (the CT log reads these rows)."""

    __tablename__ = "attempt_items"
    __table_args__ = (
        UniqueConstraint("attempt_id", "item_id", name="uq_attempt_items_attempt_id_item_id"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"), index=True)
    served_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime | None]
    #: The order options (and targets) are shown in: a list of option ids.
    option_order: Mapped[list[str]] = mapped_column(JSON)
    target_order: Mapped[list[str]] = mapped_column(JSON)


class Response(Base):
    """The answer at one position; written (and committed) before it is acknowledged."""

    __tablename__ = "responses"

    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"), index=True)
    answer: Mapped[Any] = mapped_column(JSON)
    #: Full credit (every point of a polytomous item).
    correct: Mapped[bool]
    #: Points earned of ``max_points``; both None for an item scored 0/1 (``correct`` says).
    points: Mapped[int | None] = mapped_column(default=None)
    max_points: Mapped[int | None] = mapped_column(default=None)
    timed_out: Mapped[bool] = mapped_column(default=False)
    time_spent_ms: Mapped[int]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The device the answer came from (the attempt keeps the one it started on).
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
