"""Test tokens: what admits a candidate to one assessment. Only a digest of the code is kept."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped, UUIDPk

LIVE_STATUSES = ("issued", "started")
_LIVE = text("status IN ('issued', 'started')")


class TestToken(UUIDPk, Timestamped, Base):
    __tablename__ = "test_tokens"
    __test__ = False  # not a pytest class, despite the domain's name
    __table_args__ = (
        # At most one live token per candidate and scope ("PT", or "CT:<level>").
        Index(
            "uq_test_tokens_live",
            "candidate_id",
            "scope",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id"), index=True)
    type: Mapped[str] = mapped_column(String(2))
    level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    scope: Mapped[str] = mapped_column(String(48))
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    status: Mapped[str] = mapped_column(String(16), default="issued", index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(500))
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("test_tokens.id"))
