"""Review decisions: the outcome of the oral review after the third failed certification test
at a level (``needs_review``). The latest decision for (candidate, plan, level) rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, UUIDPk, utcnow


class ReviewDecision(UUIDPk, Base):
    __tablename__ = "review_decisions"

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id"), index=True)
    #: The candidate's organization when the decision was recorded (scopes who may read it).
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    level: Mapped[str] = mapped_column(ForeignKey("levels.name"))
    #: ``grant`` (one more attempt) or ``confirm`` (the lock stays).
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(2000))
    #: The failed attempt that led to the review (the latest one at the time).
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("attempts.id"))
    actor: Mapped[str] = mapped_column(String(300))
    actor_role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
