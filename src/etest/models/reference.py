"""Reference data: the level scale and the plans (loaded from ``etest/data/reference.json``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped


class Level(Base):
    __tablename__ = "levels"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    cefr: Mapped[str] = mapped_column(String(16))


class Plan(Timestamped, Base):
    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[str] = mapped_column(String(200), default="")
    pt_assessment: Mapped[str] = mapped_column(String(100))
    #: ``[{"level": "A1", "pass_mark": 70, "ct_assessment": "ct_neo_plus_a1"}, ...]`` in order.
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: ``{"max_attempts": 3, "after_max": "needs_review"}``
    retake_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    continues: Mapped[bool] = mapped_column(default=True)
    #: The wording of the candidate's pages: "adult", or "young" (young learners, e.g. neo Jr).
    register: Mapped[str] = mapped_column(String(16), default="adult", server_default="adult")
