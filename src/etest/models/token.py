"""Test tokens: what admits a candidate to one assessment. Only a digest of the code is kept."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
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
    #: A test window: the token opens no attempt before this time (None: from issue).
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    #: The language of the candidate's pages for this token (first in the language chain).
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    #: Accommodations for this token (over the candidate's): see ``docs/take.md``.
    accommodations: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: The open link that registered the candidate and issued this token, if any.
    open_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("open_links.id"), default=None, index=True
    )


class OpenLink(UUIDPk, Timestamped, Base):
    """A link (or QR code) an organization shares: whoever opens it registers (name, email and
    the fields the organization asks for), gets a token and starts the test; with a cap on
    uses, an open window and an optional access code (only its digest is kept)."""

    __tablename__ = "open_links"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: The public part of the URL (``/join/<slug>``), random and unguessable.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(2))
    level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(default=0)
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    access_code_digest: Mapped[str | None] = mapped_column(String(128))
    #: Candidate fields asked besides name and email, e.g. ``["phone", "username"]``.
    required_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    accommodations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None]
