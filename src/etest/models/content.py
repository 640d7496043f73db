"""Content: media by hash, can-do statements, review lessons, versioned items, and assessments
with their versions (an attempt pins one version; a version pins item versions)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped, UUIDPk, utcnow


class MediaObject(Base):
    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CanDoStatement(UUIDPk, Timestamped, Base):
    __tablename__ = "can_do_statements"

    code: Mapped[str] = mapped_column(String(120), unique=True)
    level: Mapped[str] = mapped_column(ForeignKey("levels.name"))
    skill: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    cannot_text: Mapped[str] = mapped_column(Text)


class ReviewLesson(UUIDPk, Timestamped, Base):
    __tablename__ = "review_lessons"

    code: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(1000))
    level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    skill: Mapped[str | None] = mapped_column(String(16))


class Item(UUIDPk, Timestamped, Base):
    """One version of an item. A changed item is a new row with the next version; rows that
    assessment versions point to are never rewritten."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_items_code_version"),)

    code: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(20))
    skill: Mapped[str] = mapped_column(String(16), index=True)
    level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"), index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    #: ``{"text", "image": {"media", "alt"}, "audio": {"media"}, "transcript"}``
    stimulus: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    key: Mapped[dict[str, Any]] = mapped_column(JSON)
    can_do: Mapped[str | None] = mapped_column(ForeignKey("can_do_statements.code"))
    review_lessons: Mapped[list[str]] = mapped_column(JSON)
    irt_model: Mapped[str | None] = mapped_column(String(4))
    irt_a: Mapped[float | None]
    irt_b: Mapped[float | None]
    irt_c: Mapped[float | None]
    #: GPCM step difficulties of an item scored 0 … k (``irt_model`` "GPCM"), else None.
    irt_steps: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    #: cloze, gap_match, hottext: the sanitised text with ``[[id]]`` markers, else None.
    body: Mapped[str | None] = mapped_column(Text, default=None)
    #: cloze, gap_match: ``[{"id", "choices": [option…], "expected_length"?}]``, else None.
    gaps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    shuffle_options: Mapped[bool] = mapped_column(default=True)
    time_limit_seconds: Mapped[int | None]
    source: Mapped[str | None] = mapped_column(String(500))


class Assessment(UUIDPk, Timestamped, Base):
    __tablename__ = "assessments"

    code: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(2))
    plan_code: Mapped[str | None] = mapped_column(ForeignKey("plans.code"))
    level: Mapped[str | None] = mapped_column(ForeignKey("levels.name"))
    title: Mapped[str] = mapped_column(String(300))


class AssessmentVersion(UUIDPk, Base):
    """An imported flow version. ``engine`` names items by id (pinned versions), so a newer
    import never changes what a started attempt sees."""

    __tablename__ = "assessment_versions"
    __table_args__ = (
        UniqueConstraint(
            "assessment_id", "version", name="uq_assessment_versions_assessment_id_version"
        ),
    )

    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessments.id"), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    engine: Mapped[dict[str, Any]] = mapped_column(JSON)
    item_count: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    imported_by: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A placement test's evidence, stored when it was published: the simulation report
    #: (accuracy per level, length, exposure) and the thresholds it was held to.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: Why a superadmin published it below the thresholds (audited); ``None``: it met them.
    override_reason: Mapped[str | None] = mapped_column(Text, default=None)


class ContentImport(UUIDPk, Base):
    """Every imported file (bank or flow) by (code, version): importing it again is a no-op."""

    __tablename__ = "content_imports"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_content_imports_code_version"),)

    code: Mapped[str] = mapped_column(String(120))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    imported_by: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class CalibrationRun(UUIDPk, Timestamped, Base):
    """One calibration of items from the responses eTest collected: what was asked, its
    progress, the reviewable report and the proposed parameters. Nothing in the bank changes
    until a content manager publishes it (``published_at``)."""

    __tablename__ = "calibration_runs"

    #: queued, running, done, failed, published
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)
    requested_by: Mapped[str] = mapped_column(String(300))
    #: what to calibrate: assessment code or item codes, date range, model choices, anchoring
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: fit, drift, exposure, excluded items (the JSON report; the Excel one is built from it)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: the proposed parameters by item code: ``{"a": …, "b": …, "c": …, "model": …}``
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    published_by: Mapped[str | None] = mapped_column(String(300), default=None)
