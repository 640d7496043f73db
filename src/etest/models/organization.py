"""Organizations in a tree. ``path`` materializes the ancestry (``/<id>/<id>/``) so that the
subtree of an organization is one indexed prefix match."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped, UUIDPk


class Organization(UUIDPk, Timestamped, Base):
    __tablename__ = "organizations"

    uic: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(4000), index=True)
    region: Mapped[str] = mapped_column(String(8), default="ROW")
    plan_code: Mapped[str | None] = mapped_column(ForeignKey("plans.code"))
    #: Plans this organization's contract allows besides ``plan_code`` (set by the parent's
    #: admin or the operator); its candidates and children may only be given these plans.
    allowed_plans: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    callback_secret: Mapped[str | None] = mapped_column(String(200))
    #: The secret before the last rotation: callbacks are signed with both until it expires.
    callback_secret_previous: Mapped[str | None] = mapped_column(String(200))
    callback_secret_previous_expires_at: Mapped[datetime | None]
    #: Set when the endpoint answered 410 Gone: no more callbacks until the URL is changed.
    callback_disabled_at: Mapped[datetime | None]
    #: Typed by :class:`etest.organization.schemas.OrganizationSettings`.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def root_id(self) -> uuid.UUID:
        """The top-level organization of this one's tree (the first segment of ``path``)."""
        return uuid.UUID(self.path.split("/")[1]) if self.path.count("/") > 1 else self.id
