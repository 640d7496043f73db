"""Background tasks started from the console (large reports, candidate and content imports):
the work runs in the outbox worker, its progress and result are kept here for the page that
watches it, and its file (a report; an uploaded import) in ``<var_dir>/tasks``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, UUIDPk, utcnow


class BackgroundTask(UUIDPk, Base):
    __tablename__ = "background_tasks"

    kind: Mapped[str] = mapped_column(String(48), index=True)
    #: the organization whose admins may see the task (None: global staff only)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    #: who asked (the actor's subject) and as whom the work runs: role, organization id and path
    requested_by: Mapped[str] = mapped_column(String(300))
    actor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: queued → running → done | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    file_name: Mapped[str | None] = mapped_column(String(300))
    media_type: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
