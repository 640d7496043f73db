"""Candidates (test takers) and the history of their moves between organizations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped, UUIDPk, utcnow


class Candidate(UUIDPk, Timestamped, Base):
    __tablename__ = "candidates"
    __table_args__ = (
        # An email is unique within one top-level organization's tree, not across the service:
        # the same person may be a candidate of two unrelated customers (docs/tenancy.md).
        UniqueConstraint(
            "root_organization_id", "email", name="uq_candidates_root_organization_id_email"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: The top-level organization of ``organization_id``'s tree (the first segment of its path).
    root_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    #: Always stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(320))
    username: Mapped[str | None] = mapped_column(String(150), index=True)
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    dial_code: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(40))
    registered_from: Mapped[str] = mapped_column(String(16), default="api")
    plan_code: Mapped[str | None] = mapped_column(ForeignKey("plans.code"))
    hidden: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    pt_level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    current_level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    #: Optional photo for the certificate: a media object (``media.sha256``).
    photo_sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"))
    #: The language of the candidate's pages (after the token's, before the organization's).
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    #: Standing accommodations (extra time, clip plays, theme, pause): ``docs/take.md``.
    accommodations: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class CandidateTransfer(UUIDPk, Base):
    __tablename__ = "candidate_transfers"

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id"), index=True)
    from_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    to_organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    actor: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
