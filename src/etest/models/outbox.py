"""The outbox: side effects written in the transaction that causes them, delivered later by
``etest worker`` (or the in-process dispatcher). Each row is one idempotent job with a stable id;
every try of it is a row of ``outbox_tries``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, UUIDPk, utcnow


class OutboxEvent(UUIDPk, Base):
    """One job. ``status``: ``pending`` (due at ``available_at``), ``running`` (leased by a
    worker until ``locked_until``; an expired lease is due again), ``done``, ``dead`` (gave up
    after ``max_tries``), ``cancelled`` (nothing to do, e.g. the endpoint was disabled)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)

    topic: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    tries: Mapped[int] = mapped_column(default=0)
    #: Tries before the row goes dead; NULL: ``ETEST_OUTBOX_MAX_TRIES``, filled in at the first
    #: claim (a job may set its own with ``enqueue(..., max_tries=)``).
    max_tries: Mapped[int | None]
    available_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(2000))
    #: The organization the job belongs to (scopes the webhook delivery log).
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    #: The ``X-Request-ID`` of the request that enqueued the row (or of the job that did): the
    #: worker runs the job under it, so its log lines and error reports carry it.
    request_id: Mapped[str | None] = mapped_column(String(128))


class OutboxTry(UUIDPk, Base):
    """One try of one job: when, by whom, and what came back."""

    __tablename__ = "outbox_tries"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(String(2000))
    #: What the far side answered (HTTP status and a body excerpt, SMTP reply ...).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
