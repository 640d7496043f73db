"""Certificates issued on a CT pass: one per passing attempt, verifiable by ``code``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, UUIDPk, utcnow


class Certificate(UUIDPk, Base):
    __tablename__ = "certificates"

    #: The public verification code (``/verify/{code}``), unguessable.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempts.id"), unique=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    level: Mapped[str] = mapped_column(ForeignKey("levels.name"))
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    #: The holder's name as printed, frozen at issue time.
    holder_name: Mapped[str] = mapped_column(String(320))
    score: Mapped[float | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(500))
    #: The Open Badges 3.0 credential as a VC-JWT (EdDSA), signed once at issue.
    credential_jwt: Mapped[str | None] = mapped_column(Text)
